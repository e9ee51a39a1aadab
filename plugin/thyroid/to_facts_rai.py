"""Radioiodine administrations and activity (B0.3, A2, A6, B5, §5) for the thyroid fact mapper."""

from __future__ import annotations

import datetime as dt
from typing import Any

from plugin.thyroid import clinical_model as cm
from plugin.thyroid.to_facts_common import Thresholds, _Ctx, _iso, mbq_text


def _intent(adm: cm.RadioiodineAdministration, th: Thresholds) -> str:
    if adm.intent_coded and adm.intent != cm.RaiIntent.UNKNOWN:
        if _intent_contradicted(adm, th):
            return "unknown"  # A6 / A5 (safer): the coded intent and the activity disagree
        return adm.intent.value
    if adm.activity_mbq is not None:  # B0.3: inferred from the activity (DESIGN cut)
        return "diagnostic" if adm.activity_mbq < th.diagnostic_cut_mbq else "therapeutic"
    return adm.intent.value


def _intent_contradicted(adm: cm.RadioiodineAdministration, th: Thresholds) -> bool:
    """A coded *diagnostic* administration with a therapeutic-range activity (>= the B0.3 cut).

    Neither reading is safe: as diagnostic it would send the patient to RAI_EVALUATION (A2)
    after a possibly therapeutic dose; as therapeutic it would add to JS-v's cumulative
    activity. The intent is treated as unknown (A5) and W-DATA-CONFLICT is raised (A6).
    (A coded *therapeutic* dose below the cut is plausible, e.g. 1.1 GBq ablation, and is kept.)
    """
    return (
        adm.intent_coded
        and adm.intent == cm.RaiIntent.DIAGNOSTIC
        and adm.activity_mbq is not None
        and adm.activity_mbq >= th.diagnostic_cut_mbq
    )


def _same_day_groups(
    items: list[cm.RadioiodineAdministration],
) -> list[list[cm.RadioiodineAdministration]]:
    """Therapeutic administrations grouped by date (undated ones stay single)."""
    groups: dict[object, list[cm.RadioiodineAdministration]] = {}
    for i, a in enumerate(items):
        groups.setdefault(a.date if a.date is not None else ("undated", i), []).append(a)
    return list(groups.values())


def _rai(rec: cm.PatientRecord, ctx: _Ctx) -> tuple[dict, list[cm.RadioiodineAdministration]]:
    th = ctx.th
    admins = [a for a in rec.rai_administrations if a.date is None or a.date <= ctx.as_of]
    for a in rec.rai_administrations:
        if a.date is not None and a.date > ctx.as_of:
            ctx.note(
                f"RAI administration {a.source} is dated {a.date} (after the evaluation date;"
                " ignored)"
            )
    recorded = [a for a in admins if _intent(a, th) == "therapeutic"]
    unknown = [a for a in admins if _intent(a, th) == "unknown"]
    # Two therapeutic administrations on the same day are one dose recorded twice (e.g. a
    # MedicationAdministration and a Procedure): counting both could fake JS-v (B5, §5). The
    # day counts once, with its smallest known activity; differing activities leave the total
    # a lower bound (A5) and raise W-DATA-CONFLICT (A6, see _activity_conflict).
    therapeutic: list[cm.RadioiodineAdministration] = []
    day_unsure = False
    for group in _same_day_groups(recorded):
        known = sorted({a.activity_mbq for a in group if a.activity_mbq is not None})
        keep = (
            next((a for a in group if a.activity_mbq == known[0]), group[0]) if known else group[0]
        )
        therapeutic.append(keep)
        day_unsure = day_unsure or len(known) > 1
    total = sum(a.activity_mbq or 0 for a in therapeutic)
    # An administration of unknown intent may be a therapeutic dose of unknown activity, so the
    # itemized sum is then only a lower bound (no W-THRESHOLD-EQUAL, JS-v undecidable).
    incomplete = any(a.activity_mbq is None for a in therapeutic) or bool(unknown) or day_unsure
    dated = sorted((a for a in therapeutic if a.date), key=lambda a: a.date or dt.date.min)
    lines = [
        f"{_iso(a.date)} "
        + (mbq_text(a.activity_mbq) if a.activity_mbq is not None else "activity unknown")
        for a in sorted(therapeutic, key=lambda a: a.date or dt.date.min)
    ]
    fact: dict[str, Any] = {
        "type": "rai",
        "has_therapeutic": bool(therapeutic),
        "therapeutic_count": len(therapeutic),
        "has_unknown_intent": bool(unknown),
        "cumulative_mbq": total,
        "activity_complete": not incomplete,
        # §5 / B0.3: strictly greater, in whole MBq. A lower bound (unknown items) that already
        # exceeds the threshold still exceeds it; "equal" only when every item is known.
        "cumulative_over": total > th.cumulative_threshold_mbq,
        "cumulative_equal": total == th.cumulative_threshold_mbq and not incomplete,
        "ref": [a.source for a in therapeutic],
        "label": (
            f"Cumulative therapeutic I-131 {'at least ' if incomplete else ''}{mbq_text(total)}"
            f" from {len(therapeutic)} administration(s)"
            + (": " + "; ".join(lines) if lines else "")
        ),
    }
    if dated:
        assert dated[-1].date is not None  # ``dated`` holds dated administrations only
        fact["last_therapeutic_days_ago"] = ctx.days_ago(dated[-1].date)
    for a in therapeutic:
        if a.activity_mbq is None:
            ctx.note(f"activity (with unit) of the {_iso(a.date)} therapeutic RAI ({a.source})")
        if a.date is None:
            ctx.note(f"date of the therapeutic RAI administration {a.source}")
    for a in unknown:
        if _intent_contradicted(a, th):
            assert a.activity_mbq is not None  # _intent_contradicted implies a known activity
            ctx.note(
                f"intent of the {_iso(a.date)} RAI administration ({a.source}): coded diagnostic"
                f" but {mbq_text(a.activity_mbq)}"
            )
        else:
            ctx.note(f"intent and activity of the {_iso(a.date)} RAI administration ({a.source})")
    return fact, dated


def _activity_conflict(rec: cm.PatientRecord, therapeutic: list, ctx: _Ctx) -> list[dict]:
    """A6: a summary that disagrees with the itemized sum, or has no usable unit."""
    out: list[dict[str, Any]] = []
    for s in rec.cumulative_summaries:
        if s.date is not None and s.date > ctx.as_of:
            continue
        items = [a for a in therapeutic if s.date is None or a.date <= s.date]
        itemized = sum(a.activity_mbq or 0 for a in items)
        if s.activity_mbq is None:
            why = f"summary {s.raw_value} {s.raw_unit or '(no unit)'} cannot be read as MBq"
        elif s.activity_mbq != itemized:
            why = f"summary {mbq_text(s.activity_mbq)} vs itemized {mbq_text(itemized)}"
        else:
            continue
        out.append(
            {
                "type": "activity_conflict",
                "ref": s.source,
                "label": f"Cumulative activity conflict ({_iso(s.date)}): {why};"
                " itemized administrations are used",
            }
        )
    # A6: the same day recorded more than once (counted once by _rai), or a coded intent that
    # contradicts the activity (treated as unknown by _intent).
    th = ctx.th
    admins = [a for a in rec.rai_administrations if a.date is not None and a.date <= ctx.as_of]
    recorded = [a for a in admins if _intent(a, th) == "therapeutic"]
    for group in _same_day_groups(recorded):
        if len(group) > 1:
            values = ", ".join(
                mbq_text(a.activity_mbq) if a.activity_mbq is not None else "activity unknown"
                for a in group
            )
            out.append(
                {
                    "type": "activity_conflict",
                    "ref": [a.source for a in group],
                    "label": f"Therapeutic RAI on {group[0].date} recorded {len(group)} times"
                    f" ({values}): counted once, with the smallest known activity",
                }
            )
    for a in rec.rai_administrations:
        if (a.date is None or a.date <= ctx.as_of) and _intent_contradicted(a, th):
            assert a.activity_mbq is not None  # _intent_contradicted implies a known activity
            out.append(
                {
                    "type": "activity_conflict",
                    "ref": a.source,
                    "label": f"RAI administration ({_iso(a.date)}) coded diagnostic but"
                    f" {mbq_text(a.activity_mbq)}: intent treated as unknown",
                }
            )
    # A6 also covers "a unit is missing" on an itemized administration (DOMAIN.md §A3: "a
    # unitless activity is never guessed (A6)"): the dose counts as unknown, never as a number.
    for a in rec.rai_administrations:
        if a.activity_mbq is None and (a.date is None or a.date <= ctx.as_of):
            out.append(
                {
                    "type": "activity_conflict",
                    "ref": a.source,
                    "label": f"RAI administration ({_iso(a.date)}) has no activity with a usable"
                    " unit: not guessed, the cumulative activity is a lower bound",
                }
            )
    return out
