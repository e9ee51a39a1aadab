"""Shared pieces of the patient-view cards: templates, formatting and :class:`CardContext`.

:mod:`plugin.thyroid.cards.render` assembles the cards; :mod:`~plugin.thyroid.cards.status`,
:mod:`~plugin.thyroid.cards.therapy` and :mod:`~plugin.thyroid.cards.warnings` build them. All of
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

from cds_hooks.cards import SUMMARY_MAX, Card, Indicator, OverrideReason, Source
from plugin.thyroid.assessment.model import Assessment, Warning
from plugin.thyroid.clinical_model import Histology, PatientRecord, activity_text
from plugin.thyroid.facts.derivation import Derivation, derive
from plugin.thyroid.knowledge.loader import default_folder
from plugin.thyroid.knowledge.parts import load_with_parts


@dataclass(frozen=True)
class RenderedCard:
    """A card, the name of its kind and the rules it cites (for feedback reports)."""

    kind: str
    card: Card
    rules: tuple[str, ...] = ()


def load_templates(path: Path | None = None) -> Mapping[str, Any]:
    """The parsed ``cards.yaml`` with its ``parts`` (cached per path; default: the knowledge
    folder's).

    :raises ValueError: when a required section is missing.
    """
    return _load_templates(Path(path or default_folder() / "cards.yaml").resolve())


@functools.lru_cache(maxsize=8)
def _load_templates(path: Path) -> Mapping[str, Any]:
    data = load_with_parts(path)
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


_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z*])")


def lead(text: str) -> str:
    """``text`` with its first sentence as a paragraph of its own (the reason a card opens with)."""
    text = " ".join(str(text).split())
    parts = _SENTENCE_END.split(text, maxsplit=1)
    return "\n\n".join(p for p in parts if p)


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
    def rule_title(self, rule: str) -> str:
        """The rule's title, or its ``rule_titles_when`` title where the default does not apply to
        this patient (e.g. F1 "No actionable driver" when F1 only lists lenvatinib beside a
        preferred driver-targeted drug)."""
        alt = self.t.get("rule_titles_when", {}).get(rule, {})
        for other, title in (alt.get("fired") or {}).items():
            if other in self.fired:
                return str(title)
        if "not_preferred" in alt and not any(
                o.preferred and o.rule == rule
                for o in self.a.on_label + self.a.guideline_supported_off_label):
            return str(alt["not_preferred"])
        return str(self.t["rules"].get(rule, {}).get("title", ""))

    def short_source(self, key: str) -> str:
        """A source's label without its parenthesised detail (``US label: RETEVMO``)."""
        label = str(self.t["sources"].get(key, {}).get("label", key))
        return label.split(" (")[0]

    def cite(self, rules: Iterable[str], source_keys: Iterable[str] = (),
             first: Iterable[str] = (), card_source: str | None = None,
             drop: Iterable[str] = (), said: Iterable[str] = ()) -> str:
        """``**Rules:**`` one bullet per contributing rule (title, DESIGN when the grade says so),
        then one ``**Sources:**`` line: the first source of each rule plus ``source_keys``,
        except ``card_source`` (the card's ``source`` names it already) and ``drop`` (e.g. the
        labels of drugs a warning card is not about).
        ``first``: ready bullets said before the rules (a warning raised by a rule). ``said``:
        rules whose title the card's opening sentence already gives (listed without it)."""
        lines = list(first)
        keys: dict[str, None] = {}
        said = set(said)
        for rule in dict.fromkeys(r for r in rules if r):
            self._cited.append(rule)
            info = self.t["rules"].get(rule, {})
            title = "(the reason above)" if rule in said else self.rule_title(rule)
            design = " (DESIGN)" if "DESIGN" in str(info.get("grade", "")) else ""
            lines.append(f"- **{rule}**" + (f" {title}" if title else "") + design)
            keys.update(dict.fromkeys(info.get("sources", [])[:1]))
        keys.update(dict.fromkeys(k for k in source_keys if k in self.t["sources"]))
        for k in drop:
            keys.pop(k, None)
        own = self.short_source(card_source) if card_source else None
        sources = "; ".join(x for x in dict.fromkeys(self.short_source(k) for k in keys)
                            if x != own)
        tail = f"**Also from:** {sources}." if sources else ""
        if not lines:
            return tail
        return "**Rules:**\n" + "\n".join(lines) + (f"\n\n{tail}" if tail else "")

    def topic_lines(self, code: str) -> list[str]:
        """Evidence lines about one warning's topic (``evidence_topics``), from any rule."""
        prefixes = tuple(self.t.get("evidence_topics", {}).get(code, []))
        if not prefixes:
            return []
        return list(dict.fromkeys(line for lines in self.a.evidence.values() for line in lines
                                  if line.startswith(prefixes)))

    def is_topic_line(self, line: str) -> bool:
        """True for an evidence line that belongs to a warning's card, not a decision's."""
        prefixes = tuple(p for ps in self.t.get("evidence_topics", {}).values() for p in ps)
        return bool(prefixes) and line.startswith(prefixes)

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
        # the knowledge version is in the response's assessment (extension), not on each card
        return f"_As of {self.a.evaluation_date.isoformat()}. {self.t['disclaimer']}_"

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

    def warning_message(self, w: Warning, drugs: str | None = None,
                        only: Iterable[str] | None = None) -> str:
        """The warning's text about its own drugs only: with ``warning_drug_messages`` for the
        code, the sentences of the drugs in ``only`` (default: the warning's drugs; ``other`` for
        a drug without its own sentence), else the template's ``message``."""
        wt = self.wt(w.code)
        if w.message:
            return w.message
        names = list(only if only is not None else w.drugs)
        per_drug = self.t.get("warning_drug_messages", {}).get(w.code) or {}
        if per_drug and names:
            picked = [" ".join(str(per_drug["common"]).split())] if per_drug.get("common") else []
            picked += [" ".join(str(per_drug[d]).split()) for d in names if d in per_drug]
            rest = [d for d in names if d not in per_drug]
            if rest and per_drug.get("other"):
                picked.append(" ".join(str(per_drug["other"]).split()).format(
                    drugs=capitalise(join(rest))))
            return " ".join(dict.fromkeys(picked))
        return str(wt.get("message", "")).format(
            drugs=drugs or join(names) or "these drugs",
            # the threshold the rules compared against (thresholds.yaml, via the derivation)
            threshold=activity_text(self.derivation.rai.threshold_mbq, grouped=True),
        )

    def warning_sources(self, code: str) -> str:
        labels = [self.source_link(k) for k in self.wt(code).get("sources", [])
                  if k in self.t["sources"]]
        return "**Sources:** " + "; ".join(labels) if labels else ""

    def warning_source_key(self, w: Warning) -> str:
        """The warning's source: the label of the drug it names when the template cites it,
        else that drug's own label (a pregnancy block on lenvatinib cites LENVIMA, not RETEVMO),
        else the template's first source."""
        keys = list(self.wt(w.code).get("sources") or ["DESIGN"])
        labels = self.drug_label_keys(w.code, w.drugs)
        return next((k for k in labels if k in keys), labels[0] if labels else keys[0])

    def drug_label_keys(self, code: str, drugs: Iterable[str]) -> list[str]:
        """The label source keys of ``drugs`` a warning ``code`` may cite: none for a warning
        about the record rather than a drug's label (``drug_labels: false``: W-RET-POINT)."""
        if self.wt(code).get("drug_labels") is False:
            return []
        return [k for d in drugs if (k := self.t["drugs"].get(d, {}).get("source"))]

    def fold_target(self, w: Warning) -> str:
        """Where a non-blocking warning is said: ``therapy``, ``status``, ``data-quality`` or
        ``card`` (its own card), from the template's ``fold``."""
        return str(self.wt(w.code).get("fold", "card"))
