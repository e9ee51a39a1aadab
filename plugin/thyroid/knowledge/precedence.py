"""Precedence between the rules' candidate conclusions, as named tiers (DECISIONS §D4.17).

``rules/thyroid/precedence.yaml`` lists, per kind of conclusion (a derived fact ``type``: status,
action, therapy, preferred), the fields its candidates are grouped by (``key``) and its tiers in
order. A rule names the tier of each candidate it asserts (``tier: hard_exclusion``);
:meth:`Precedence.best_per_key` keeps, in each group, the candidates of the first tier present.
The assessment builder calls it for every ranked kind and holds no rank or step numbers; what
it still does per type (warning grouping, trial pointers, the ``preferred`` filter, action
overrides) is what DECISIONS §D4.17 defines beyond "best per key".

The file is read once into the :class:`plugin.thyroid.knowledge.loader.Knowledge`; a malformed
file raises :class:`~plugin.thyroid.knowledge.check.KnowledgeError` at load, and
:func:`plugin.thyroid.knowledge.check.check_knowledge` refuses a rule naming an unknown tier.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import yaml

from plugin.thyroid.knowledge.check import KnowledgeError

__all__ = ["Kind", "Precedence", "Tier", "load_precedence"]

_Fact = TypeVar("_Fact", bound=Mapping[str, Any])
_KIND_KEYS = {"meaning", "key", "field", "otherwise", "source", "tiers", "pointer_beside"}
_TIER_KEYS = {"name", "meaning", "source", "values"}


@dataclass(frozen=True)
class Tier:
    """One tier: its ``name`` (what a rule writes), a one-line ``meaning``, the DECISIONS section
    it comes from (``source``) and the values of the kind's ``field`` it admits (empty: any)."""

    name: str
    meaning: str
    source: str
    values: tuple[str, ...] = ()


@dataclass(frozen=True)
class Kind:
    """The precedence of one kind of conclusion (a derived fact ``type``)."""

    type: str
    key: tuple[str, ...]
    field: str
    tiers: tuple[Tier, ...]
    meaning: str = ""
    source: str = ""
    otherwise: str | None = None
    #: therapy: the tiers beside which a trial pointer is still listed (DECISIONS §D4.17)
    pointer_beside: frozenset[str] = frozenset()

    def tier(self, name: str) -> Tier | None:
        """The tier called ``name``, or ``None``."""
        return next((t for t in self.tiers if t.name == name), None)

    def position(self, name: str) -> int:
        """0 for the first (winning) tier. :raises KeyError: for a name not listed."""
        for i, tier in enumerate(self.tiers):
            if tier.name == name:
                return i
        raise KeyError(f"{self.type} tier {name!r} is not in precedence.yaml "
                       f"(known: {', '.join(t.name for t in self.tiers)})")


@dataclass(frozen=True)
class Precedence:
    """The tiers of every kind of conclusion, read from ``precedence.yaml``."""

    kinds: Mapping[str, Kind]

    def __getitem__(self, fact_type: str) -> Kind:
        return self.kinds[fact_type]

    def best_per_key(self, fact_type: str, facts: Iterable[_Fact]
                     ) -> dict[tuple[Any, ...], list[_Fact]]:
        """Group ``facts`` (candidates of ``fact_type``) by the kind's ``key`` and keep, per group,
        the candidates of the best tier, in their input order (ties are all kept).

        :raises KeyError: when a candidate names no tier or a tier not in the file (the start-up
            check refuses such rules, so this only meets hand-made facts).
        """
        kind = self.kinds[fact_type]
        best: dict[tuple[Any, ...], tuple[int, list[_Fact]]] = {}
        for fact in facts:
            group = tuple(fact.get(k) for k in kind.key)
            if "tier" not in fact:
                raise KeyError(f"a {fact_type} candidate names no tier: {dict(fact)!r}")
            position = kind.position(fact["tier"])
            held = best.get(group)
            if held is None or position < held[0]:
                best[group] = (position, [fact])
            elif position == held[0]:
                held[1].append(fact)
        return {group: kept for group, (_position, kept) in best.items()}


def load_precedence(path: Path) -> Precedence:
    """Read ``precedence.yaml``.

    :raises KnowledgeError: when it cannot be read, or a kind or tier is malformed (no tiers, a
        tier named twice, an unknown key, ``pointer_beside`` naming no tier of its kind).
    """
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise KnowledgeError(f"cannot read {path.name}: {exc}") from exc
    if not isinstance(data, Mapping) or not data:
        raise KnowledgeError(f"{path.name}: expected a mapping of conclusion kinds")
    return Precedence({str(name): _kind(path.name, str(name), spec)
                       for name, spec in data.items()})


def _kind(file: str, name: str, spec: Any) -> Kind:
    where = f"{file} {name!r}"
    if not isinstance(spec, Mapping):
        raise KnowledgeError(f"{where}: expected a mapping")
    unknown = set(spec) - _KIND_KEYS
    if unknown:
        raise KnowledgeError(f"{where}: unknown key(s) {sorted(unknown)}")
    if not isinstance(spec.get("field"), str):
        raise KnowledgeError(f"{where}: 'field' (the conclusion's value field) is required")
    key = spec.get("key")
    if not isinstance(key, list) or not all(isinstance(k, str) for k in key):
        raise KnowledgeError(f"{where}: 'key' must be a list of field names ([] = one per patient)")
    raw = spec.get("tiers")
    if not isinstance(raw, list) or not raw:
        raise KnowledgeError(f"{where}: 'tiers' must be a non-empty list")
    tiers = tuple(_tier(where, t) for t in raw)
    names = [t.name for t in tiers]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise KnowledgeError(f"{where}: tier(s) named twice: {twice}")
    beside = spec.get("pointer_beside") or []
    if not isinstance(beside, list) or set(beside) - set(names):
        raise KnowledgeError(f"{where}: 'pointer_beside' must name tiers of {name!r}")
    otherwise = spec.get("otherwise")
    return Kind(type=name, key=tuple(key), field=spec["field"], tiers=tiers,
                meaning=str(spec.get("meaning", "")), source=str(spec.get("source", "")),
                otherwise=None if otherwise is None else str(otherwise),
                pointer_beside=frozenset(beside))


def _tier(where: str, spec: Any) -> Tier:
    if not isinstance(spec, Mapping) or not isinstance(spec.get("name"), str):
        raise KnowledgeError(f"{where}: every tier needs a 'name'")
    unknown = set(spec) - _TIER_KEYS
    if unknown:
        raise KnowledgeError(f"{where} tier {spec['name']!r}: unknown key(s) {sorted(unknown)}")
    for field in ("meaning", "source"):
        if not str(spec.get(field) or "").strip():
            raise KnowledgeError(f"{where} tier {spec['name']!r}: '{field}' is required")
    values = spec.get("values") or []
    if not isinstance(values, list):
        raise KnowledgeError(f"{where} tier {spec['name']!r}: 'values' must be a list")
    return Tier(name=spec["name"], meaning=str(spec["meaning"]), source=str(spec["source"]),
                values=tuple(str(v) for v in values))
