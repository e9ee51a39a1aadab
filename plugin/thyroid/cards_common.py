"""Shared pieces of the patient-view cards: templates, formatting and :class:`CardContext`.

:mod:`plugin.thyroid.cards` assembles the cards; :mod:`~plugin.thyroid.cards_status`,
:mod:`~plugin.thyroid.cards_therapy` and :mod:`~plugin.thyroid.cards_warnings` build them. All of
them word the assessment from ``rules/thyroid/cards.yaml`` and build every card through the
:mod:`cds_hooks.cards` models.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from cds_hooks.cards import SUMMARY_MAX, Card, Indicator, OverrideReason, Source
from plugin.thyroid.assessment import Assessment, Warning
from plugin.thyroid.clinical_model import Histology, PatientRecord, activity_text
from plugin.thyroid.derivation import Derivation, derive
from plugin.thyroid.knowledge import default_folder


@dataclass(frozen=True)
class RenderedCard:
    """A card, the name of its kind and the rules it cites (for feedback reports)."""

    kind: str
    card: Card
    rules: tuple[str, ...] = ()


def load_templates(path: Path | None = None) -> Mapping[str, Any]:
    """The parsed ``cards.yaml`` (cached per path; default: the knowledge folder's).

    :raises ValueError: when a required section is missing.
    """
    return _load_templates(Path(path or default_folder() / "cards.yaml").resolve())


@functools.lru_cache(maxsize=8)
def _load_templates(path: Path) -> Mapping[str, Any]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    for section in ("disclaimer", "sources", "rules", "drugs", "status", "actions", "warnings"):
        if section not in data:
            raise ValueError(f"{path}: section '{section}' is missing")
    return data


def format_activity(mbq: int | None) -> str:
    """``5,550 MBq (150 mCi)``; ``unknown activity`` for ``None``."""
    if mbq is None:
        return "unknown activity"
    return activity_text(mbq, grouped=True)


def fit_summary(text: str) -> str:
    """``text`` cut to the spec's limit with an ellipsis (templates should not need it)."""
    text = " ".join(text.split())
    if len(text) <= SUMMARY_MAX:
        return text
    return text[: SUMMARY_MAX - 1].rstrip(" ,;:") + "…"


def capitalise(text: str) -> str:
    """First letter upper-case (drug names start summaries)."""
    return text[:1].upper() + text[1:]


def iso(day: dt.date | None) -> str:
    return day.isoformat() if day else "date unknown"


def join(items: Iterable[str]) -> str:
    return ", ".join(items)


# A reference the data-quality card may show: Type/id, Type/#n, urn:uuid, or a prefetch key.
_SAFE_SOURCE = re.compile(
    r"^(?:[A-Z][A-Za-z]{1,40}/#?[A-Za-z0-9\-.]{1,64}"
    r"|urn:uuid:[0-9a-fA-F-]{36}"
    r"|prefetch '[A-Za-z0-9_-]{1,40}')$"
)
_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"")
_LONG_NUMBER = re.compile(r"\d{5,}")
_MARKDOWN = re.compile(r"[*_`\[\]<>|#\\]")


def safe_reference(source: str) -> str:
    """``source`` when it is a plain resource reference or prefetch key, else a neutral label.

    A fullUrl may carry search parameters or other text copied from the record; it is not echoed.
    """
    return source if _SAFE_SOURCE.match(source or "") else "a resource without a plain Type/id"


def safe_reason(text: str, limit: int = 160) -> str:
    """A data-quality reason without echoed values: quoted text and long numbers are masked,
    markdown is neutralised and the length is capped."""
    text = _QUOTED.sub("'…'", " ".join(str(text).split()))
    text = _LONG_NUMBER.sub("…", text)
    text = _MARKDOWN.sub(" ", text)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


class CardContext:
    """One assessment, its record and the templates: the shared helpers of every card builder."""

    def __init__(
        self,
        t: Mapping[str, Any],
        a: Assessment,
        record: PatientRecord,
        patient_id: str | None,
        unavailable: tuple[str, ...],
        derivation: Derivation | None = None,
    ) -> None:
        self.t = t
        self.a = a
        self.record = record
        # what the rules counted (cumulative activity, scan kinds): read, never recomputed
        self.derivation = derivation or derive(record, a.evaluation_date)
        self.unavailable = unavailable
        if patient_id is None and record.patient_source:
            patient_id = record.patient_source.split("/", 1)[-1]
        self.patient_id = patient_id
        self.fired = list(a.rules_fired)
        self._cited: list[str] = []  # rules cited since the last card (its card_rules)
        self.blocked: dict[str, list[str]] = {}  # drug -> blocking W-codes
        for w in a.warnings:
            if w.blocking:
                for drug in w.drugs:
                    codes = self.blocked.setdefault(drug, [])
                    if w.code not in codes:
                        codes.append(w.code)
        # §A4.11: drugs under a fixable block only (W-HTN: fix first; still the option)
        self.fix_first = {d for d in self.blocked if not a.held(d)}

    # --- templates ------------------------------------------------------------------------------
    def source(self, key: str) -> Source:
        entry = self.t["sources"].get(key) or self.t["sources"]["DESIGN"]
        return Source(label=entry["label"], url=entry.get("url"))

    def source_link(self, key: str) -> str:
        src = self.t["sources"].get(key, {})
        label = src.get("label", key)
        return f"[{label}]({src['url']})" if src.get("url") else label

    def rule_source_key(self, rule: str) -> str | None:
        info = self.t["rules"].get(rule)
        return info["sources"][0] if info and info.get("sources") else None

    def wt(self, code: str) -> Mapping[str, Any]:
        """The template of a warning code (``default`` for an unknown code)."""
        return self.t["warnings"].get(code) or self.t["warnings"]["default"]

    def histology(self) -> Histology | None:
        for d in self.record.diagnoses:
            if d.histology is not None:
                return d.histology
        return None

    # --- detail blocks --------------------------------------------------------------------------
    def cite(self, rules: Iterable[str]) -> str:
        """``**Rules and sources:**`` with one bullet per rule: title, grade, sources."""
        lines = []
        for rule in dict.fromkeys(r for r in rules if r):
            self._cited.append(rule)
            info = self.t["rules"].get(rule, {})
            srcs = [self.t["sources"].get(k, {}).get("label", k) for k in info.get("sources", [])]
            parts = [p for p in (info.get("title", ""), info.get("grade"), "; ".join(srcs)) if p]
            lines.append(f"- Rule **{rule}**" + (f": {' · '.join(parts)}" if parts else ""))
        return "**Rules and sources:**\n" + "\n".join(lines) if lines else ""

    def evidence(self, rules: Iterable[str]) -> list[str]:
        """The assessment's evidence lines for ``rules``, each said once."""
        out: dict[str, None] = {}
        seen: set[str] = set()
        for rule in dict.fromkeys(rules):
            for line in self.a.evidence.get(rule, []):
                if line not in seen:
                    seen.add(line)
                    out[f"- {line} ({rule})"] = None
            refs = self.a.sources.get(rule, [])
            if refs and not self.a.evidence.get(rule):
                out[f"- {rule}: {join(refs)}"] = None
        return list(out)

    def evidence_block(self, rules: Iterable[str]) -> str:
        lines = self.evidence(rules)
        return "**Evidence:**\n" + "\n".join(lines) if lines else ""

    def footer(self) -> str:
        version = f" · knowledge {self.a.knowledge_version}" if self.a.knowledge_version else ""
        return (
            f"_Evaluated as of {self.a.evaluation_date.isoformat()}{version}. "
            f"{self.t['disclaimer']}_"
        )

    def detail(self, *blocks: str) -> str:
        return "\n\n".join(b for b in (*blocks, self.footer()) if b and b.strip())

    # --- the card -------------------------------------------------------------------------------
    def overrides(self, *groups: str) -> list[OverrideReason]:
        system = self.t["override_system"]
        seen: dict[str, OverrideReason] = {}
        for group in ("common", *groups):
            for item in self.t.get("override_reasons", {}).get(group, []):
                seen.setdefault(
                    item["code"],
                    OverrideReason(system=system, code=item["code"], display=item["display"]),
                )
        return list(seen.values())

    def card(
        self,
        kind: str,
        summary: str,
        indicator: str,
        source_key: str | None,
        detail: str,
        **extra: Any,
    ) -> RenderedCard:
        if indicator in (Indicator.WARNING, Indicator.CRITICAL) and "overrideReasons" not in extra:
            extra["overrideReasons"] = self.overrides()
        if indicator == Indicator.INFO:
            extra.pop("overrideReasons", None)
        card = Card(
            summary=fit_summary(summary),
            indicator=Indicator(indicator),
            source=self.source(source_key or "DESIGN"),
            detail=detail,
            **extra,
        )
        rules, self._cited = tuple(dict.fromkeys(self._cited)), []
        return RenderedCard(kind, card, rules)

    # --- warnings -------------------------------------------------------------------------------
    def warning_rules(self, w: Warning) -> list[str]:
        """The rules a warning rests on: its own rule, then the template's rules that fired."""
        wt = self.wt(w.code)
        rules = [w.rule] if w.rule else []
        rules += [r for r in wt.get("rules", []) if r in self.fired]
        return list(dict.fromkeys(rules)) or list(wt.get("rules", [])[:1]) or [w.code]

    def warning_message(self, w: Warning, drugs: str | None = None) -> str:
        wt = self.wt(w.code)
        return w.message or wt.get("message", "").format(
            drugs=drugs or join(w.drugs) or "these drugs")

    def warning_sources(self, code: str) -> str:
        labels = [self.source_link(k) for k in self.wt(code).get("sources", [])
                  if k in self.t["sources"]]
        return "**Sources:** " + "; ".join(labels) if labels else ""

    def warning_source_key(self, w: Warning) -> str:
        """The warning's source: the label of the drug it names when the template cites it."""
        keys = list(self.wt(w.code).get("sources") or ["DESIGN"])
        for drug in w.drugs:
            label_key = self.t["drugs"].get(drug, {}).get("source")
            if label_key in keys:
                return label_key
        return keys[0]

    def fold_target(self, w: Warning) -> str:
        """Where a non-blocking warning is said: ``therapy``, ``status``, ``data-quality`` or
        ``card`` (its own card), from the template's ``fold``."""
        return str(self.wt(w.code).get("fold", "card"))
