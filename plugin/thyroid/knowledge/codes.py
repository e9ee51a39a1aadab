"""The code lists the FHIR reader matches on, loaded from ``rules/thyroid/codes.yaml``.

A coding matches a concept when its (normalised system, normalised code) pair is in the concept's
list. Systems are normalised so that ``http``/``https``, ``www.``, a trailing slash and letter
case do not matter (``http://www.genenames.org/geneId`` = ``https://genenames.org/geneid/``).
Codes ignore case, and the ``HGNC:`` and ``SO:`` prefixes are optional. Displays are never
compared here: text fallbacks are separate regular expressions (``text_matches``).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from plugin.thyroid.knowledge.loader import default_folder

_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*://")


def normalise_system(system: str | None) -> str:
    """Return ``system`` without scheme, ``www.``, trailing slash, in lower case."""
    if not system:
        return ""
    text = _SCHEME.sub("", system.strip().lower())
    if text.startswith("www."):
        text = text[4:]
    return text.rstrip("/")


def normalise_code(code: Any) -> str:
    """Return ``code`` in lower case without an ``HGNC:`` or ``SO:`` prefix."""
    text = str(code).strip().lower() if code is not None else ""
    for prefix in ("hgnc:", "so:"):
        if text.startswith(prefix):
            return text[len(prefix):]
    return text


def codings(concept: Mapping[str, Any] | None) -> list[Mapping[str, Any]]:
    """The ``coding`` list of a CodeableConcept (a bare Coding counts as itself)."""
    if not isinstance(concept, Mapping):
        return []
    if "coding" in concept:
        return [c for c in concept.get("coding") or [] if isinstance(c, Mapping)]
    if "code" in concept and "system" in concept:
        return [concept]
    return []


def concept_texts(concept: Mapping[str, Any] | None) -> list[str]:
    """``text`` and every coding ``display`` of a CodeableConcept."""
    if not isinstance(concept, Mapping):
        return []
    texts = [concept.get("text")] + [c.get("display") for c in codings(concept)]
    return [t for t in texts if isinstance(t, str) and t.strip()]


@dataclass(frozen=True)
class CodeLists:
    """Every code list and text pattern of ``codes.yaml``, ready for matching."""

    concepts: Mapping[str, frozenset[tuple[str, str]]]
    system_alias: Mapping[str, str]  # normalised system URL -> alias ("loinc")
    text: Mapping[str, tuple[re.Pattern[str], ...]]
    extensions: Mapping[str, str]
    histology_icdo3: Mapping[str, str]  # "8260/3" -> "PTC"
    histology_snomed: Mapping[str, str]
    histology_keywords: tuple[tuple[str, tuple[re.Pattern[str], ...]], ...]
    drugs: Mapping[str, tuple[frozenset[str], tuple[re.Pattern[str], ...]]]
    genes_by_id: Mapping[str, str]  # "1097" -> "BRAF"
    fusion_3prime: frozenset[str]
    fusion_aliases: Mapping[str, tuple[str, str | None]]
    accessions: Mapping[str, tuple[str, str]]  # "NC_000007.14" -> ("GRCh38", "7")
    builds: Mapping[str, str]  # "hg19" (lower) -> "GRCh37"
    hotspots: tuple[Mapping[str, Any], ...] = field(default=())

    def alias(self, system: str | None) -> str:
        """The alias of ``system`` (``"loinc"``), or its normalised form when it has none."""
        norm = normalise_system(system)
        return self.system_alias.get(norm, norm)

    def key(self, coding: Mapping[str, Any]) -> tuple[str, str]:
        """The (system alias, normalised code) pair of a coding."""
        return self.alias(coding.get("system")), normalise_code(coding.get("code"))

    def is_(self, concept: Mapping[str, Any] | None, name: str) -> bool:
        """True when any coding of ``concept`` is in the concept list ``name``."""
        wanted = self.concepts[name]
        return any(self.key(c) in wanted for c in codings(concept))

    def first_of(self, concept: Mapping[str, Any] | None, names: Iterable[str]) -> str | None:
        """The first concept list in ``names`` that ``concept`` matches, else ``None``."""
        for name in names:
            if self.is_(concept, name):
                return name
        return None

    def text_matches(self, texts: Iterable[str | None], name: str) -> bool:
        """True when any text matches a pattern of the text fallback ``name``."""
        patterns = self.text[name]
        return any(p.search(t) for t in texts if t for p in patterns)

    def gene_symbol(self, coding: Mapping[str, Any]) -> str | None:
        """HGNC symbol of a gene coding: by id under the HGNC system, else ``None``."""
        if self.alias(coding.get("system")) != "hgnc":
            return None
        return self.genes_by_id.get(normalise_code(coding.get("code")))


def _parse_code(entry: Any, aliases: Mapping[str, str]) -> tuple[str, str]:
    if isinstance(entry, Mapping):
        system, code = str(entry["system"]), str(entry["code"])
    else:
        system, _, code = str(entry).rpartition("#")
    norm = normalise_system(system)
    return aliases.get(norm, system if system in aliases.values() else norm), normalise_code(code)


def _patterns(items: Iterable[str]) -> tuple[re.Pattern[str], ...]:
    return tuple(re.compile(p, re.IGNORECASE) for p in items)


def _build(data: Mapping[str, Any]) -> CodeLists:
    system_alias = {
        normalise_system(url): alias for alias, urls in data["systems"].items() for url in urls
    }
    concepts = {
        name: frozenset(_parse_code(e, system_alias) for e in entries)
        for name, entries in data["concepts"].items()
    }
    hist = data["histology"]
    drugs = {
        name: (
            frozenset(str(c) for c in spec.get("rxnorm", [])),
            _patterns(rf"\b{re.escape(n)}\b" for n in spec.get("names", [name])),
        )
        for name, spec in data["drugs"].items()
    }
    builds = {
        str(a).lower(): build for build, names in data["build_aliases"].items() for a in names
    }
    return CodeLists(
        concepts=concepts,
        system_alias=system_alias,
        text={k: _patterns(v) for k, v in data["text"].items()},
        extensions={k: normalise_system(v) for k, v in data["extensions"].items()},
        histology_icdo3={c: h for h, cs in hist["icdo3"].items() for c in cs},
        histology_snomed={str(c): h for h, cs in hist["snomed"].items() for c in cs},
        histology_keywords=tuple((h, _patterns(ps)) for h, ps in hist["keywords"]),
        drugs=drugs,
        genes_by_id={str(i): sym for sym, i in data["genes"].items()},
        fusion_3prime=frozenset(data["fusion_3prime_genes"]),
        fusion_aliases={
            k.upper(): (v["gene"], v.get("partner")) for k, v in data["fusion_aliases"].items()
        },
        accessions={k: (v[0], str(v[1])) for k, v in data["accessions"].items()},
        builds=builds,
        hotspots=tuple(data["hotspots"]),
    )


@functools.lru_cache(maxsize=8)
def _load_cached(path: Path) -> CodeLists:
    with path.open(encoding="utf-8") as handle:
        return _build(yaml.safe_load(handle))


@functools.lru_cache(maxsize=8)
def _raw_concepts(path: Path) -> tuple[dict[str, list[str]], dict[str, list[Any]]]:
    with path.open(encoding="utf-8") as handle:
        data = yaml.safe_load(handle)
    return data["systems"], data["concepts"]


def search_tokens(names: Iterable[str], path: Path | None = None) -> list[str]:
    """FHIR search tokens ``system|code`` for the concept lists ``names``, codes as written in
    ``codes.yaml`` (servers compare codes exactly), one per URL of the code's system.

    Used to build the prefetch queries (``plugin/thyroid/patient_view.py``), so a site's local codes
    are searched for as soon as they are added to the file.
    """
    systems, concepts = _raw_concepts(Path(path or default_folder() / "codes.yaml").resolve())
    tokens: dict[str, None] = {}
    for name in names:
        for entry in concepts[name]:
            if isinstance(entry, Mapping):
                system, code = str(entry["system"]), str(entry["code"])
            else:
                system, _, code = str(entry).rpartition("#")
            for url in systems.get(system, [system]):
                tokens[f"{url}|{code}"] = None
    return list(tokens)


def load_codes(path: Path | None = None) -> CodeLists:
    """Load the code lists (cached per path); the default is ``rules/thyroid/codes.yaml``.

    :raises OSError, yaml.YAMLError, KeyError: when the file is missing or malformed.
    """
    return _load_cached(Path(path or default_folder() / "codes.yaml").resolve())
