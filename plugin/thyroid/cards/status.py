"""The status card (RAI-refractory status, evidence and the one next step) and the data-quality
card.

The next step (§A4.1 ``action``) is said on the status card, in its summary after the status
(``RAIR (JS-ii), recent PD: first-line systemic therapy, lenvatinib preferred``) and as the first
block of its detail: a separate next-step card repeated the status card and the therapy card.
The status card is a warning when the clinician has to act on it, info when the next step is
monitoring or another card carries the action (the testing card, a critical block).
"""

from __future__ import annotations

import datetime as dt
import re

from plugin.thyroid.assessment.model import Warning
from plugin.thyroid.cards.common import (
    CardContext,
    RenderedCard,
    capitalise,
    format_activity,
    iso,
    join,
    lead,
    safe_reason,
    safe_reference,
)
from plugin.thyroid.cards.warnings import critical_evidence, folded_into_status, note_lines
from plugin.thyroid.clinical_model import Histology

_UPTAKE_TEXT = {
    "all": "uptake in all lesions",
    "some": "uptake in some lesions, not in others",
    "none": "no uptake in any lesion",
    "unknown": "uptake not reported",
}
_NEXT_STEP_RULES = ("D1", "D2", "D3", "D4", "E1", "C3", "A2", "B6")


# -- the next step ---------------------------------------------------------------------------------


def action_drugs(ctx: CardContext) -> str:
    """``lenvatinib preferred`` / ``options: sorafenib; cabozantinib blocked`` or ``""``."""
    a = ctx.a
    excluded = {o.drug for o in a.not_eligible}
    options = [o for o in a.on_label + a.guideline_supported_off_label if o.drug not in excluded]
    preferred = [o.drug for o in options if o.preferred and not a.held(o.drug)]
    names = preferred or [o.drug for o in options if not a.held(o.drug)]
    off_label = {o.drug for o in a.guideline_supported_off_label} - {o.drug for o in a.on_label}
    text = join(dict.fromkeys(n + (" (off-label)" if n in off_label else "") for n in names))
    if text:
        text = f"{text} preferred" if preferred else f"options: {text}"
    held = [o.drug for o in options if o.preferred and a.held(o.drug)]
    if held:
        text += ("; " if text else "") + f"{join(held)} blocked"
    return text if len(text) <= 70 else ""


def fix_first(ctx: CardContext) -> str:
    """§A4.11 rule 1: ``"Control blood pressure before starting selpercatinib, then "`` when the
    first preferred drug is under a fixable block only; ``""`` otherwise."""
    preferred = [o.drug for o in ctx.a.on_label + ctx.a.guideline_supported_off_label
                 if o.preferred]
    if not preferred or preferred[0] not in ctx.fix_first:
        return ""
    texts = [str(t).format(drug=preferred[0]) for w in ctx.a.fixable_blocks(preferred[0])
             if (t := ctx.wt(w.code).get("fix_first"))]
    return (join(texts) + ", then ") if texts else ""


def mdt_reason(ctx: CardContext) -> str:
    reasons = ctx.t.get("mdt_reasons", {})
    found = [reasons[w.code] for w in ctx.a.warnings if w.blocking and w.code in reasons]
    hist = ctx.histology()
    if hist in (Histology.ATC, Histology.MTC, Histology.PDTC):
        found.insert(0, reasons.get(hist.value, hist.value))
    if "A2b" in ctx.fired:  # §A4.14: RAI judged not appropriate
        found.insert(0, reasons.get("A2b", "RAI judged not appropriate"))
    if ctx.derivation.safety.flags.airway_invasion.on:  # as the rules read it
        found.append(reasons.get("airway", "airway invasion"))
    # a caveat on a listed drug (G4: "limited expected activity")
    found += [f"{o.drug}: {o.reason.split(' (')[0]}" for o in ctx.a.on_label if o.reason]
    return join(dict.fromkeys(found))


def next_step(ctx: CardContext) -> tuple[str, str, list[str]]:
    """(short phrase for the summary, one-line detail block, rules) of the assessment's action.

    The rules are those that decided the next step on *this* card (monitoring, timing, testing,
    imaging); the drug rules are the therapy card's and a block is the critical card's.
    """
    a = ctx.a
    entry = ctx.t["actions"].get(a.action)
    if entry is None:
        return a.action.replace("_", " ").lower(), "", []
    phrase = entry["next"]
    if a.action == "MONITOR" and a.rair_status != "YES":
        phrase = entry.get("next_no", phrase)
    fix = ""
    if "{drugs}" in phrase:
        drugs = action_drugs(ctx)
        phrase = phrase.format(drugs=drugs) if drugs else entry["next_none"]
        fix = fix_first(ctx)
        if fix:  # §A4.11 rule 1: the fixable block leads; preferred is unchanged
            phrase = fix + entry["next_none"]
    if "{reason}" in phrase:
        reason = mdt_reason(ctx)
        phrase = phrase.format(reason=reason) if reason else entry["next_none"]
    def own(rules: list[str]) -> list[str]:
        return [r for r in rules if r in ctx.fired and (r[:1] in "ABCD" or r == "E1")]

    rules = own(entry["rules"]) or own(list(_NEXT_STEP_RULES))
    # the summary says the next step; the detail repeats it only when a fixable block leads it
    # (§A4.11 rule 1: "Control blood pressure before starting ..." is the card's first sentence)
    block = f"**Next step: {capitalise(phrase)}.**" if fix else ""
    return phrase, block, rules


def status_indicator(ctx: CardContext, has_critical: bool) -> str:
    """Warning when the next step is an action only this card names; info otherwise."""
    action = ctx.a.action
    if action == "MONITOR":
        return "info"
    if action == "ORDER_MOLECULAR_TESTING" and ctx.a.suggest_molecular_testing:
        return "info"  # the testing card (warning, with the order) carries it
    if action == "MDT_REVIEW_REQUIRED" and has_critical:
        return "info"  # the critical card says why and what
    return "warning"


# -- the status card -------------------------------------------------------------------------------


def status_card(ctx: CardContext, notes: list[Warning], has_critical: bool) -> RenderedCard:
    """The status card; ``notes`` are the non-blocking warnings folded into it.

    Its detail opens with the reason in one sentence, then the next step, the evidence the
    status rests on (criterion, radioiodine total, progression) and only the rules that decided
    it (§A4.16)."""
    a, st = ctx.a, ctx.t["status"]
    phrase, step_block, step_rules = next_step(ctx)
    evidence: list[str] = []
    if a.rair_status == "YES":
        criteria = join(a.rair_criteria) or "a joint-statement criterion"
        prog = ctx.t["progression_text"].get(a.progression, a.progression)
        summary = st["YES"]["summary"].format(criteria=criteria, progression=prog, next=phrase)
        long = "; ".join(ctx.t["criteria_long"].get(c, c) for c in a.rair_criteria)
        # the criteria with their rules; the rule list under it says what each means
        named = join(c + "".join(f" ({m})" for m in re.findall(
            r"\(([A-H]\d[a-z]?)\)", ctx.t["criteria_long"].get(c, ""))[:1])
            for c in a.rair_criteria)
        intro = st["YES"]["detail_intro"].format(
            criteria_long=long or criteria, criteria_rules=named or criteria,
            progression_long=ctx.t.get("progression_long", {}).get(a.progression, prog))
        indicator, key = status_indicator(ctx, has_critical), "S2"
        criteria_rules = [r for r in ctx.fired if r in _CRITERION_RULES]
        evidence = criterion_evidence(ctx, criteria_rules) + [cumulative_line(ctx)]
        rules = criteria_rules + ["B8"]
    elif a.rair_status == "NO":
        summary = st["NO"]["summary"].format(next=phrase)
        intro = st["NO"]["detail_intro"]
        indicator, key = status_indicator(ctx, has_critical), "S2"
        rules = [r for r in ctx.fired if r in _CRITERION_RULES] or ["B6"]
        evidence = criterion_evidence(ctx, rules) + [cumulative_line(ctx)]
    elif a.rair_status == "NOT_APPLICABLE":
        hist = ctx.histology()
        entry = st["MTC"] if hist == Histology.MTC else st["ATC"]
        summary, intro = entry["summary"], entry["detail_intro"]
        indicator = "warning" if hist == Histology.MTC else "critical"
        key = "S18" if hist != Histology.MTC else "S9"
        rules = ["A1b"] + [r for r in ctx.fired if r in ("H2", "H3", "E5")]
        evidence = criterion_evidence(ctx, ["A1b"])
        step_block, step_rules = "", []
    elif "A2b" in ctx.fired:  # §A4.14: RAI judged not appropriate; the next step is MDT review
        summary, intro = st["A2b"]["summary"], st["A2b"]["detail_intro"]
        indicator, key = "warning", ctx.rule_source_key("A2b") or "S12"
        rules = ["A2b"]
        evidence = criterion_evidence(ctx, ["A2b"])
    elif "A2" in ctx.fired:
        # RAI evaluation is the next step, unless something defers it (§A4.11 rule 4: pregnancy)
        now = a.action == "RAI_EVALUATION"
        entry = st["A2"] if now else st["A2_not_now"]
        summary, intro = entry["summary"].format(next=phrase), entry["detail_intro"]
        indicator, key = ("warning" if now else status_indicator(ctx, has_critical)), "S1"
        rules = ["A2"]
        evidence = criterion_evidence(ctx, ["A2"])
        if now:
            step_block, step_rules = "", []
    else:
        return data_needed_card(ctx, notes, step_block, step_rules)
    progression = [] if a.rair_status == "NOT_APPLICABLE" else progression_lines(ctx)
    lines = list(dict.fromkeys(x for x in evidence + progression if x))
    blocks = [
        step_block,  # only when a fixable block leads the next step (§A4.11 rule 1)
        lead(intro),
        "**Evidence:**\n" + "\n".join(lines) if lines else "",
        ("**Also note:**\n" + note_lines(ctx, notes)) if notes else "",
        ctx.cite(rules + progression_rules(ctx) + step_rules,
                 [k for w in notes for k in ctx.wt(w.code).get("sources", [])[:1]],
                 card_source=key),
    ]
    return ctx.card("rai-status", summary, indicator, key, ctx.detail(*blocks))


_CRITERION_RULES = ("B1", "B2", "B3", "B4", "B5", "B5b", "B6")


def criterion_evidence(ctx: CardContext, rules: list[str]) -> list[str]:
    """The evidence lines of the criterion rules, without the radioiodine total (said once by
    :func:`cumulative_line`) and without another card's topic."""
    return [line for line in ctx.evidence(rules)
            if "Cumulative therapeutic I-131" not in line and not ctx.is_topic_line(line[2:])
            and not line.startswith(("- Progression ", "- Histology"))]


def progression_rules(ctx: CardContext) -> list[str]:
    """The progression rules that decided the progression value (C1-C4, C1a)."""
    return [r for r in ctx.fired if r in ("C1", "C1a", "C2", "C3", "C4")]


def cumulative_line(ctx: CardContext) -> str:
    """The cumulative therapeutic activity exactly as the rules counted it (the derivation)."""
    view = ctx.derivation.rai
    if not view.doses and not view.unknown_intent:
        return "- Therapeutic I-131: none on record"
    total = format_activity(view.cumulative_mbq)
    if not view.complete:
        total = f"at least {total} (an activity or intent is unknown)"
    return f"- Cumulative therapeutic activity: {total} from {len(view.doses)} dose(s)"


def data_needed_card(ctx: CardContext, notes: list[Warning], step_block: str,
                     step_rules: list[str]) -> RenderedCard:
    """``NOT_ESTABLISHED``: why, what is missing, what would establish it."""
    a, t = ctx.a, ctx.t
    # A1 fires for every DTC record; it is the reason only when no other gate is
    gates: list[str] = [g for g in ("A3", "A4", "A5", "A6") if g in ctx.fired] or [
        g for g in ("A1",) if g in ctx.fired] or ["A5"]
    reasons = t["not_established_reasons"]
    folded = [w for w in a.warnings if folded_into_status(ctx, w)]
    # the most specific reason: the blocking scan warning (W-IODINE / W-TSH) when there is one
    specific = [reasons[w.code] for w in a.warnings if w.blocking and w.code in reasons]
    reason = specific[0] if specific else reasons.get(gates[0], reasons["default"])
    summary = t["status"]["NOT_ESTABLISHED"]["summary"].format(reason=reason)
    missing = [f"- {m}" for m in a.missing_data] or ["- (the assessment lists no item)"]
    # the most specific gate says what would establish it; A5 (data missing) only on its own
    specific_gates = [g for g in gates if g != "A5"] or gates
    establish = [f"- {t['establish'].get(g, t['establish']['default'])} ({g})"
                 for g in specific_gates]
    # W-IODINE / W-TSH have their critical card; only the folded ones are said here
    scan_warnings = [w for w in folded if w.code != "W-DATA-MISSING"]
    if a.action == "COMPLETE_DATA":
        step_block, step_rules = "", []
    shown = critical_evidence(ctx)  # the critical card (W-IODINE, W-TSH) shows the scan
    gate_lines = [x for x in criterion_evidence(ctx, gates)
                  if x[2:].rsplit(" (", 1)[0] not in shown]
    lines = list(dict.fromkeys(
        gate_lines + [cumulative_line(ctx)]
        + ([] if shown or any("scan" in x for x in gate_lines) else scan_lines(ctx))
        + progression_lines(ctx)))
    blocks = [
        lead(t["status"]["NOT_ESTABLISHED"]["detail_intro"]),
        ("**Why the scan cannot be used:**\n" + note_lines(ctx, scan_warnings))
        if scan_warnings else "",
        "**Missing:**\n" + "\n".join(missing),
        "**What would establish it:**\n" + "\n".join(establish),
        step_block,
        "**Evidence:**\n" + "\n".join(lines),
        ("**Also note:**\n" + note_lines(ctx, notes)) if notes else "",
    ]
    key = ctx.rule_source_key(gates[0]) or "DESIGN"
    blocks.append(ctx.cite(gates + step_rules, card_source=key))
    return ctx.card("rai-status", summary, "warning", key, ctx.detail(*blocks))


def scan_lines(ctx: CardContext) -> list[str]:
    """The radioiodine scans (kinds as the rules read them) and stable-iodine exposures."""
    lines = []
    for reading in sorted(ctx.derivation.scans, key=lambda x: x.scan.date or dt.date.min):
        scan = reading.scan
        tsh = f", TSH {scan.tsh_miu_per_l:g} mIU/L" if scan.tsh_miu_per_l is not None else ""
        inferred = " (kind inferred from timing)" if reading.inferred else ""
        uptake = _UPTAKE_TEXT.get(scan.uptake.value, scan.uptake.value)
        lines.append(f"- {iso(scan.date)}: {reading.kind} whole-body scan{inferred}, "
                     f"{uptake}{tsh} ({scan.source})")
    for exp in ctx.record.iodine_exposures:
        lines.append(f"- {iso(exp.date)}: iodinated contrast / stable iodine ({exp.source})")
    return lines


_PROGRESSION_HEAD = re.compile(r"^- Progression [A-Z_]+ \(nadir.*?\(s\)\)(: )?")


def progression_lines(ctx: CardContext) -> list[str]:
    """The progression evidence of the C rules (or the last lesion sums when they give none),
    without the head that repeats the progression value and the nadir bookkeeping."""
    # the opening sentence says the progression value: the evidence keeps the readings
    lines = [_PROGRESSION_HEAD.sub(lambda m: "- " if m.group(1) else m.group(0).split(" (")[0], x)
             for x in ctx.evidence([r for r in ctx.fired if r.startswith("C")])]
    sums = sorted(ctx.record.lesion_sums, key=lambda x: x.date or dt.date.min)
    if sums and not lines:
        lines = [f"- {iso(s.date)}: target-lesion sum {s.sum_mm:g} mm ({s.source})"
                 for s in sums[-4:]]
    return lines


# -- data quality ---------------------------------------------------------------------------


def data_quality_card(ctx: CardContext, folded: list[Warning]) -> RenderedCard | None:
    """Resources read with a caveat, prefetch keys not retrieved, and record warnings
    (W-DATA-CONFLICT). Only resource references and reasons are shown, never record values."""
    notes = ctx.record.data_quality
    if not notes and not ctx.unavailable and not folded:
        return None
    dq = ctx.t["data_quality"]
    lines = []
    for n in notes:
        line = f"- {safe_reference(n.source)}: {safe_reason(n.message)}"
        if n.missing:
            line += " (leaves unknown: " + safe_reason(n.missing.replace(n.source, "").replace(
                "()", "").strip()) + ")"
        lines.append(line)
    blocks = [lead(dq["detail_intro"])]
    if ctx.unavailable:
        blocks.append("**Not retrieved from the EHR (prefetch/FHIR):** " + join(ctx.unavailable)
                      + ". Radioiodine, therapy or scan records held there were not seen; "
                      "a conclusion such as 'no prior therapeutic RAI' may be wrong.")
        summary = dq["summary_missing"].format(keys=join(ctx.unavailable))
    elif folded:
        summary = dq["summary_conflict"]
    else:
        summary = dq["summary"].format(count=len(notes))
    if folded:
        blocks.append("**Record warnings:**\n" + note_lines(ctx, folded))
    if lines:
        blocks.append("**Items:**\n" + "\n".join(lines))
    rules = [r for r in ("A5", "A6") if r in ctx.fired] or ["A5"]
    blocks.append(ctx.cite(rules, card_source="DESIGN"))
    needs_action = ctx.unavailable or folded or any(n.missing for n in notes)
    return ctx.card("data-quality", summary, "warning" if needs_action else "info", "DESIGN",
                    ctx.detail(*blocks), overrideReasons=ctx.overrides())
