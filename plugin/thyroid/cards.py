"""Render one patient's :class:`Assessment` (and the record behind it) as CDS Hooks cards.

The assessment decides; this module only words it, from the templates and citations in
``rules/thyroid/cards.yaml``. Card kinds (``RenderedCard.kind``, reported per card for feedback):

* ``rai-status``: RAI-refractory status with its criterion and evidence (RAI dates, activities in
  MBq and mCi, the scans); for ``NOT_ESTABLISHED`` the data-needed card; for ``NOT_APPLICABLE``
  the ATC / MTC route card;
* ``next-step``: the one primary action, in words, with its source;
* ``therapy-options``: on-label (preferred first), off-label, trial-only and not-eligible options;
* ``molecular-testing``: when E1 fires, with a draft ``ServiceRequest`` suggestion;
* ``warning-<code>``: one card per blocking warning (critical) or per non-blocking warning whose
  template says ``warning``; the other non-blocking warnings share one ``notes`` card;
* ``data-quality``: resources read with a caveat, and prefetch keys that could not be had.

Every card names its guideline or label in ``source``, cites its rule IDs in ``detail`` and ends
with the decision-support disclaimer; warning and critical cards carry override reasons.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from cds_hooks.cards import (
    SUMMARY_MAX,
    Action,
    Card,
    Indicator,
    Link,
    OverrideReason,
    Source,
    Suggestion,
)
from plugin.thyroid.assessment import Assessment, TherapyOption, Warning
from plugin.thyroid.clinical_model import Histology, PatientRecord, RaiIntent

DEFAULT_TEMPLATES = Path(__file__).resolve().parents[2] / "rules" / "thyroid" / "cards.yaml"
MBQ_PER_MCI = 37  # DOMAIN.md B0.3, exact


@dataclass(frozen=True)
class RenderedCard:
    """A card and the name of its kind (for feedback reports)."""

    kind: str
    card: Card


@functools.lru_cache(maxsize=8)
def load_templates(path: Path = DEFAULT_TEMPLATES) -> Mapping[str, Any]:
    """The parsed ``cards.yaml`` (cached per path).

    :raises ValueError: when a required section is missing.
    """
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    for section in ("disclaimer", "sources", "rules", "drugs", "status", "actions", "warnings"):
        if section not in data:
            raise ValueError(f"{path}: section '{section}' is missing")
    return data


def render(
    assessment: Assessment,
    record: PatientRecord,
    *,
    patient_id: str | None = None,
    unavailable: Sequence[str] = (),
    templates: Mapping[str, Any] | None = None,
) -> list[RenderedCard]:
    """Every card for one patient, most urgent kinds first within the clinical order.

    :param patient_id: the patient's logical id (for the draft ServiceRequest subject); taken
        from ``record.patient_source`` when not given.
    :param unavailable: prefetch keys that were wanted but could not be had.
    """
    t = templates or load_templates()
    r = _Renderer(t, assessment, record, patient_id, tuple(unavailable))
    return r.render()


def render_cards(assessment: Assessment, record: PatientRecord, **kwargs: Any) -> list[Card]:
    """Like :func:`render`, cards only."""
    return [rc.card for rc in render(assessment, record, **kwargs)]


# ------------------------------------------------------------------------------------------------
# helpers


def format_activity(mbq: int | None) -> str:
    """``5,550 MBq (150 mCi)``; ``unknown activity`` for ``None``."""
    if mbq is None:
        return "unknown activity"
    mci = mbq / MBQ_PER_MCI
    # whole mCi only when exact (150 mCi = 5,550 MBq); otherwise one decimal (27.0 for 1,000 MBq)
    mci_text = f"{mbq // MBQ_PER_MCI:,}" if mbq % MBQ_PER_MCI == 0 else f"{mci:,.1f}"
    return f"{mbq:,} MBq ({mci_text} mCi)"


def fit_summary(text: str) -> str:
    """``text`` cut to the spec's limit with an ellipsis (templates should not need it)."""
    text = " ".join(text.split())
    if len(text) <= SUMMARY_MAX:
        return text
    return text[: SUMMARY_MAX - 1].rstrip(" ,;:") + "…"


_UPTAKE_TEXT = {
    "all": "uptake in all lesions",
    "some": "uptake in some lesions, not in others",
    "none": "no uptake in any lesion",
    "unknown": "uptake not reported",
}


def _iso(day: dt.date | None) -> str:
    return day.isoformat() if day else "date unknown"


def _join(items: Iterable[str]) -> str:
    return ", ".join(items)


class _Renderer:
    def __init__(
        self,
        t: Mapping[str, Any],
        a: Assessment,
        record: PatientRecord,
        patient_id: str | None,
        unavailable: tuple[str, ...],
    ) -> None:
        self.t = t
        self.a = a
        self.record = record
        self.unavailable = unavailable
        if patient_id is None and record.patient_source:
            patient_id = record.patient_source.split("/", 1)[-1]
        self.patient_id = patient_id
        self.fired = list(a.rules_fired)
        self.blocked: dict[str, list[str]] = {}  # drug -> blocking W-codes
        for w in a.warnings:
            if w.blocking:
                for drug in w.drugs:
                    self.blocked.setdefault(drug, []).append(w.code)

    # --- shared pieces ----------------------------------------------------------------------
    def source(self, key: str) -> Source:
        entry = self.t["sources"].get(key) or self.t["sources"]["DESIGN"]
        return Source(label=entry["label"], url=entry.get("url"))

    def rule_source_key(self, rule: str) -> str | None:
        info = self.t["rules"].get(rule)
        return info["sources"][0] if info and info.get("sources") else None

    def cite(self, rules: Iterable[str]) -> str:
        """``**Rules:** B2 (JS-ii: ...; CONSENSUS; 2019 joint statement ...)`` lines."""
        lines = []
        for rule in dict.fromkeys(r for r in rules if r):
            info = self.t["rules"].get(rule, {})
            srcs = [self.t["sources"].get(k, {}).get("label", k) for k in info.get("sources", [])]
            title = info.get("title", "")
            grade = info.get("grade")
            parts = [p for p in (title, grade, "; ".join(srcs)) if p]
            lines.append(f"- Rule **{rule}**" + (f": {' · '.join(parts)}" if parts else ""))
        return "**Rules and sources:**\n" + "\n".join(lines) if lines else ""

    def evidence(self, rules: Iterable[str]) -> list[str]:
        out: list[str] = []
        for rule in dict.fromkeys(rules):
            for line in self.a.evidence.get(rule, []):
                out.append(f"- {line} ({rule})")
            refs = self.a.sources.get(rule, [])
            if refs and not self.a.evidence.get(rule):
                out.append(f"- {rule}: {_join(refs)}")
        return out

    def footer(self) -> str:
        version = f" · knowledge {self.a.knowledge_version}" if self.a.knowledge_version else ""
        return (
            f"_Evaluated as of {self.a.evaluation_date.isoformat()}{version}. "
            f"{self.t['disclaimer']}_"
        )

    def detail(self, *blocks: str) -> str:
        return "\n\n".join(b for b in (*blocks, self.footer()) if b and b.strip())

    def overrides(self, *groups: str) -> list[OverrideReason]:
        system = self.t.get("override_system")
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
        card = Card(
            summary=fit_summary(summary),
            indicator=Indicator(indicator),
            source=self.source(source_key or "DESIGN"),
            detail=detail,
            **extra,
        )
        return RenderedCard(kind, card)

    def histology(self) -> Histology | None:
        for d in self.record.diagnoses:
            if d.histology is not None:
                return d.histology
        return None

    # --- the cards --------------------------------------------------------------------------
    def render(self) -> list[RenderedCard]:
        out: list[RenderedCard] = []
        out.append(self.status_card())
        blocking = [w for w in self.a.warnings if w.blocking and not self.folded(w)]
        out.extend(self.warning_card(w) for w in blocking)
        step = self.next_step_card()
        if step:
            out.append(step)
        if self.a.suggest_molecular_testing:
            out.append(self.testing_card())
        therapy = self.therapy_card()
        if therapy:
            out.append(therapy)
        out.extend(self.nonblocking_cards())
        dq = self.data_quality_card()
        if dq:
            out.append(dq)
        return out

    def folded(self, w: Warning) -> bool:
        # W-DATA-MISSING is what the data-needed status card already says, item by item
        return w.code == "W-DATA-MISSING" and self.a.rair_status == "NOT_ESTABLISHED"

    # status ----------------------------------------------------------------------------------
    def status_card(self) -> RenderedCard:
        a, st = self.a, self.t["status"]
        status_rules = [r for r in self.fired if r[:1] in ("A", "B") or r.startswith("C")]
        history = self.rai_history()
        if a.rair_status == "YES":
            criteria = _join(a.rair_criteria) or "a joint-statement criterion"
            prog = self.t["progression_text"].get(a.progression, a.progression)
            summary = st["YES"]["summary"].format(criteria=criteria, progression=prog)
            long = "; ".join(self.t["criteria_long"].get(c, c) for c in a.rair_criteria)
            intro = st["YES"]["detail_intro"].format(criteria_long=long or criteria)
            indicator = "warning" if a.progression == "RECENT_PD" else "info"
            key = "S2"
            rules = [r for r in self.fired if r in ("B1", "B2", "B3", "B4", "B5", "B8")] or ["B8"]
            rules += [r for r in status_rules if r not in rules]
        elif a.rair_status == "NO":
            summary, intro = st["NO"]["summary"], st["NO"]["detail_intro"]
            indicator, key = "info", "S2"
            rules = status_rules or ["B6"]
        elif a.rair_status == "NOT_APPLICABLE":
            hist = self.histology()
            entry = st["MTC"] if hist == Histology.MTC else st["ATC"]
            summary, intro = entry["summary"], entry["detail_intro"]
            indicator = "warning" if hist == Histology.MTC else "critical"
            key = "S18" if hist != Histology.MTC else "S9"
            rules = ["A1b"] + [r for r in self.fired if r in ("H2", "H3", "E5")]
            history = ""
        elif "A2" in self.fired:
            summary, intro = st["A2"]["summary"], st["A2"]["detail_intro"]
            indicator, key, rules = "warning", "S1", ["A2"] + [r for r in status_rules if r != "A2"]
        else:
            return self.data_needed_card(history)
        # progression evidence (C rules) is shown once, in the progression block
        blocks = [intro, self.evidence_block(r for r in rules if not r.startswith("C")), history,
                  self.progression_block(), self.cite(rules)]
        return self.card("rai-status", summary, indicator, key, self.detail(*blocks))

    def data_needed_card(self, history: str) -> RenderedCard:
        a, t = self.a, self.t
        gates = [g for g in ("A3", "A4", "A5", "A6", "A1") if g in self.fired] or ["A5"]
        reasons = t["not_established_reasons"]
        reason = reasons.get(gates[0], reasons["default"])
        summary = t["status"]["NOT_ESTABLISHED"]["summary"].format(reason=reason)
        missing = [f"- {m}" for m in a.missing_data] or ["- (the assessment lists no item)"]
        establish = [f"- {t['establish'].get(g, t['establish']['default'])} ({g})" for g in gates]
        codes = [w.code for w in a.warnings if w.code in ("W-DATA-MISSING", "W-IODINE", "W-TSH",
                                                           "W-TG-ONLY")]
        blocks = [
            t["status"]["NOT_ESTABLISHED"]["detail_intro"],
            "**Missing (assessment missingData):**\n" + "\n".join(missing),
            "**What would establish it:**\n" + "\n".join(establish),
            ("**Warnings:** " + _join(dict.fromkeys(codes))) if codes else "",
            self.evidence_block(gates),
            history,
            self.progression_block(),
            self.cite(gates),
        ]
        key = self.rule_source_key(gates[0]) or "DESIGN"
        return self.card("rai-status", summary, "warning", key, self.detail(*blocks),
                         overrideReasons=self.overrides())

    def evidence_block(self, rules: Iterable[str]) -> str:
        lines = self.evidence(rules)
        return "**Evidence:**\n" + "\n".join(lines) if lines else ""

    def rai_history(self) -> str:
        rec = self.record
        lines = []
        therapeutic_total = 0
        unknown = False
        for adm in sorted(rec.rai_administrations, key=lambda x: x.date or dt.date.min):
            intent = adm.intent.value if isinstance(adm.intent, RaiIntent) else str(adm.intent)
            lines.append(f"- {_iso(adm.date)}: I-131 {format_activity(adm.activity_mbq)}, "
                         f"{intent} ({adm.source})")
            if adm.intent == RaiIntent.THERAPEUTIC:
                if adm.activity_mbq is None:
                    unknown = True
                else:
                    therapeutic_total += adm.activity_mbq
        for scan in sorted(rec.scans, key=lambda x: x.date or dt.date.min):
            tsh = f", TSH {scan.tsh_miu_per_l:g} mIU/L" if scan.tsh_miu_per_l is not None else ""
            inferred = " (kind inferred from timing)" if scan.kind_inferred else ""
            uptake = _UPTAKE_TEXT.get(scan.uptake.value, scan.uptake.value)
            lines.append(f"- {_iso(scan.date)}: {scan.kind.value} whole-body scan{inferred}, "
                         f"{uptake}{tsh} ({scan.source})")
        for exp in rec.iodine_exposures:
            lines.append(f"- {_iso(exp.date)}: iodinated contrast / stable iodine ({exp.source})")
        if not lines:
            return "**Radioiodine history:** none recorded."
        total = format_activity(therapeutic_total)
        if unknown:
            total += " plus administration(s) of unknown activity"
        return ("**Radioiodine history and scans:**\n" + "\n".join(lines)
                + f"\n\nCumulative therapeutic activity: {total} (threshold for JS-v: "
                "> 22,200 MBq / 600 mCi).")

    def progression_block(self) -> str:
        a = self.a
        prog = self.t["progression_text"].get(a.progression, a.progression)
        rules = [r for r in self.fired if r.startswith("C")]
        lines = self.evidence(rules)
        sums = sorted(self.record.lesion_sums, key=lambda x: x.date or dt.date.min)
        if sums and not lines:
            lines = [f"- {_iso(s.date)}: target-lesion sum {s.sum_mm:g} mm ({s.source})"
                     for s in sums[-4:]]
        head = f"**Progression:** {prog} ({a.progression})"
        return head + ("\n" + "\n".join(lines) if lines else "")

    # next step -------------------------------------------------------------------------------
    def next_step_card(self) -> RenderedCard | None:
        a = self.a
        if a.action == "COMPLETE_DATA" and a.rair_status == "NOT_ESTABLISHED":
            return None  # the data-needed card says it, item by item
        if a.action == "MDT_REVIEW_REQUIRED" and a.rair_status == "NOT_APPLICABLE":
            return None  # the route card says it
        if a.action == "RAI_EVALUATION" and "A2" in self.fired:
            return None  # the A2 status card says it
        entry = self.t["actions"].get(a.action)
        if entry is None:
            return None
        summary = entry["summary"]
        if a.action == "MONITOR" and a.rair_status != "YES":
            summary = entry.get("summary_no", summary)
        if "{drugs}" in summary:
            drugs = self.action_drugs()
            summary = summary.format(drugs=drugs) if drugs else entry["summary_none"]
        if "{reason}" in summary:
            reason = self.mdt_reason()
            summary = summary.format(reason=reason) if reason else entry["summary_none"]
        rules = [r for r in entry["rules"] if r in self.fired] or [
            r for r in self.fired if r in ("D1", "D2", "D3", "D4", "E1", "C3", "A2", "B6")
        ] or entry["rules"][:1]
        key = self.rule_source_key(rules[0]) or entry["source"]
        indicator = "warning" if a.action == "MDT_REVIEW_REQUIRED" else "info"
        blocks = [entry["detail"], self.evidence_block(rules), self.cite(rules)]
        if a.action in ("SYSTEMIC_FIRST_LINE", "SYSTEMIC_LATER_LINE") and self.blocked:
            blocks.insert(1, "**Blocked for this patient:** " + _join(
                f"{d} ({', '.join(c)})" for d, c in self.blocked.items()))
        return self.card("next-step", summary, indicator, key, self.detail(*blocks))

    def action_drugs(self) -> str:
        options = self.a.on_label + self.a.guideline_supported_off_label
        preferred = [o.drug for o in options if o.preferred and o.drug not in self.blocked]
        names = preferred or [o.drug for o in options if o.drug not in self.blocked]
        text = _join(dict.fromkeys(names))
        held = [o.drug for o in options if o.preferred and o.drug in self.blocked]
        if held:
            text += ("; " if text else "") + f"{_join(held)} blocked (see critical card)"
        return text if len(text) <= 80 else ""

    def mdt_reason(self) -> str:
        reasons = self.t.get("mdt_reasons", {})
        found = [reasons[w.code] for w in self.a.warnings if w.blocking and w.code in reasons]
        hist = self.histology()
        if hist in (Histology.ATC, Histology.MTC):
            found.insert(0, reasons.get(hist.value, hist.value))
        if any(f.value for f in self.record.airway_invasion):
            found.append(reasons.get("airway", "airway invasion"))
        return _join(dict.fromkeys(found))

    # therapy ---------------------------------------------------------------------------------
    def therapy_card(self) -> RenderedCard | None:
        a = self.a
        if not (a.on_label or a.guideline_supported_off_label or a.trial_only or a.not_eligible):
            return None
        on_label = sorted(a.on_label, key=lambda o: (not o.preferred, o.drug in self.blocked))
        usable = [o for o in on_label + a.guideline_supported_off_label
                  if o.drug not in self.blocked]
        if usable:
            first = usable[0].drug + (" (preferred)" if usable[0].preferred else "")
            rest = [o.drug for o in usable[1:]]
            more = f"; also {_join(rest)}" if rest else ""
            if len(first + more) > 100:
                more = f"; +{len(rest)} more"
            summary = self.t["therapy"]["summary"].format(first=first, more=more)
        else:
            summary = self.t["therapy"]["summary_none"]
        sections = []
        if on_label:
            sections.append("**On label (US):**\n" + "\n".join(self.option_line(o)
                                                                for o in on_label))
        if a.guideline_supported_off_label:
            sections.append("**Guideline-supported, off-label:**\n" + "\n".join(
                self.option_line(o) for o in a.guideline_supported_off_label))
        if a.trial_only:
            sections.append("**Clinical trial only:**\n" + "\n".join(
                self.option_line(o) for o in a.trial_only))
        if a.not_eligible:
            sections.append("**Not eligible:**\n" + "\n".join(
                f"- {o.drug}: {o.reason or 'not eligible'}" + (f" ({o.rule})" if o.rule else "")
                for o in a.not_eligible))
        options = on_label + a.guideline_supported_off_label + a.trial_only + a.not_eligible
        rules = [o.rule for o in options if o.rule] or [
            r for r in self.fired if r[:1] in ("F", "G") or r in ("H1", "H2")]
        rules = list(dict.fromkeys(rules)) or ["F1"]
        main_rule = next((o.rule for o in on_label if o.preferred and o.rule), rules[0])
        key = self.rule_source_key(main_rule) or "S1-therapy"
        links = [Link(label=f"ClinicalTrials.gov {o.trial}",
                      url=self.t["therapy"]["trial_url"].format(nct=o.trial))
                 for o in a.trial_only if o.trial]
        detail = self.detail(*sections, self.evidence_block(rules), self.cite(rules))
        return self.card("therapy-options", summary, "info", key, detail, links=links or None)

    def option_line(self, o: TherapyOption) -> str:
        label = self.t["drugs"].get(o.drug)
        parts = [f"- **{o.drug}**" + (" (preferred)" if o.preferred else "")]
        if o.drug in self.blocked:
            parts.append(f"BLOCKED for this patient: {_join(self.blocked[o.drug])}")
        if label:
            src = self.t["sources"].get(label["source"], {})
            link = f"[{src.get('label', label['source'])}]({src['url']})" if src.get("url") \
                else src.get("label", label["source"])
            parts.append(f"{label['label']}; {link}")
        if o.rule:
            info = self.t["rules"].get(o.rule, {})
            parts.append(f"rule {o.rule}" + (f" ({info['title']}, {info['grade']})"
                                             if info else ""))
        if o.trial:
            parts.append(f"trial [{o.trial}]({self.t['therapy']['trial_url'].format(nct=o.trial)})")
        if o.reason:
            parts.append(o.reason)
        return " — ".join(parts)

    # molecular testing -------------------------------------------------------------------------
    def testing_card(self) -> RenderedCard:
        tt = self.t["testing"]
        symptomatic = self.a.action in ("SYSTEMIC_FIRST_LINE", "SYSTEMIC_LATER_LINE")
        summary = tt["summary_symptomatic"] if symptomatic else tt["summary"]
        rules = ["E1", "E3"] + [r for r in ("E4", "D3") if r in self.fired]
        detail = self.detail(tt["detail"], self.evidence_block(["E1", "E4"]), self.cite(rules))
        resource: dict[str, Any] = {
            "resourceType": "ServiceRequest",
            "status": "draft",
            "intent": "proposal",
            "category": [{"coding": [dict(tt["order_category"])]}],
            "code": {"coding": [dict(tt["order_code"])], "text": tt["order_text"]},
            "reasonCode": [{"text": tt["order_reason"]}],
            "note": [{"text": tt["order_note"]}],
        }
        if self.patient_id:
            resource["subject"] = {"reference": f"Patient/{self.patient_id}"}
        suggestion = Suggestion(
            label=tt["suggestion_label"],
            isRecommended=True,
            actions=[Action(type="create", description=tt["action_description"],
                            resource=resource)],
        )
        return self.card("molecular-testing", summary, "warning", "S1", detail,
                         suggestions=[suggestion], selectionBehavior="at-most-one",
                         overrideReasons=self.overrides("testing"))

    # warnings --------------------------------------------------------------------------------
    def wt(self, code: str) -> Mapping[str, Any]:
        return self.t["warnings"].get(code) or self.t["warnings"]["default"]

    def warning_rules(self, w: Warning) -> list[str]:
        wt = self.wt(w.code)
        rules = [w.rule] if w.rule else []
        rules += [r for r in wt.get("rules", []) if r in self.fired]
        return list(dict.fromkeys(rules)) or list(wt.get("rules", [])[:1]) or [w.code]

    def warning_card(self, w: Warning, summary: str | None = None) -> RenderedCard:
        wt = self.wt(w.code)
        drugs = _join(w.drugs) or "systemic therapy"
        age = self.record.age_on(self.a.evaluation_date)
        template = wt.get("blocked") or "{code}: {title} ({drugs})"
        if summary is None:
            summary = template.format(drugs=drugs, age=f"age {age}" if age is not None else "age",
                                      code=w.code, title=wt.get("title", "warning"))
        rules = self.warning_rules(w)
        blocks = [
            f"**{w.code}** ({'blocking' if w.blocking else 'not blocking'}"
            + (f"; applies to {drugs}" if w.drugs else "") + ")",
            w.message or wt.get("message", "").format(drugs=drugs),
            self.evidence_block(rules + [w.code]),
            self.cite(r for r in rules if r in self.t["rules"])
            or f"**Rule:** {w.code} (DOMAIN.md §2.9)",
            self.warning_sources(wt),
        ]
        indicator = "critical" if w.blocking else wt.get("indicator", "info")
        key = self.warning_source_key(w)
        return self.card(f"warning-{w.code}", summary, indicator, key, self.detail(*blocks),
                         overrideReasons=self.overrides("therapy"))

    def warning_source_key(self, w: Warning) -> str:
        """The warning's source: the label of the drug it names when the template cites it."""
        keys = list(self.wt(w.code).get("sources") or ["DESIGN"])
        for drug in w.drugs:
            label_key = self.t["drugs"].get(drug, {}).get("source")
            if label_key in keys:
                return label_key
        return keys[0]

    def warning_sources(self, wt: Mapping[str, Any]) -> str:
        labels = []
        for k in wt.get("sources", []):
            src = self.t["sources"].get(k, {})
            if src.get("url"):
                labels.append(f"[{src['label']}]({src['url']})")
            elif src:
                labels.append(src["label"])
        return "**Sources:** " + "; ".join(labels) if labels else ""

    def nonblocking_cards(self) -> list[RenderedCard]:
        out: list[RenderedCard] = []
        notes: list[Warning] = []
        for w in self.a.warnings:
            if w.blocking:
                continue
            wt = self.wt(w.code)
            if wt.get("indicator") == "warning":
                summary = f"{wt.get('title', w.code)} ({w.code})" + (
                    f": {_join(w.drugs)}" if w.drugs else "")
                out.append(self.warning_card(w, summary))
            else:
                notes.append(w)
        if notes:
            out.append(self.notes_card(notes))
        return out

    def notes_card(self, notes: list[Warning]) -> RenderedCard:
        titles = _join(dict.fromkeys(self.wt(w.code).get("title", w.code) for w in notes))
        summary = self.t["notes_card"]["summary"].format(titles=titles)
        blocks, rules = [], []
        for w in notes:
            wt = self.wt(w.code)
            drugs = _join(w.drugs)
            message = w.message or wt.get("message", "").format(drugs=drugs or "these drugs")
            wr = self.warning_rules(w)
            rules += wr
            blocks.append(f"**{w.code}** ({wt.get('title', '')}"
                          + (f"; {drugs}" if drugs else "") + f"; rules {_join(wr)}): {message}"
                          + ("\n" + self.warning_sources(wt) if wt.get("sources") else ""))
            ev = self.evidence([w.code] + wr)
            if ev:
                blocks.append("\n".join(ev))
        key = self.warning_source_key(notes[0])
        detail = self.detail(*blocks, self.cite(r for r in rules if r in self.t["rules"]))
        return self.card("notes", summary, "info", key, detail)

    # data quality ----------------------------------------------------------------------------
    def data_quality_card(self) -> RenderedCard | None:
        notes = self.record.data_quality
        if not notes and not self.unavailable:
            return None
        dq = self.t["data_quality"]
        lines = [f"- {n.source}: {n.message}" + (f" (missing: {n.missing})" if n.missing else "")
                 for n in notes]
        blocks = [dq["detail_intro"]]
        if self.unavailable:
            blocks.append("**Not retrieved from the EHR (prefetch/FHIR):** "
                          + _join(self.unavailable)
                          + ". Radioiodine, therapy or scan records held there were not seen; "
                          "a conclusion such as 'no prior therapeutic RAI' may be wrong.")
            summary = dq["summary_missing"].format(keys=_join(self.unavailable))
        else:
            summary = dq["summary"].format(count=len(notes))
        if lines:
            blocks.append("**Items:**\n" + "\n".join(lines))
        rules = [r for r in ("A5", "A6") if r in self.fired] or ["A5"]
        blocks.append(self.cite(rules))
        indicator = "warning" if self.unavailable or any(n.missing for n in notes) else "info"
        return self.card("data-quality", summary, indicator, "DESIGN", self.detail(*blocks))
