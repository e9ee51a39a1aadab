"""Systemic-therapy history (G1-G5), drug facts (H1, H5), clinical flags and safety data (H4,
§2.9, §A4.8) for the thyroid fact mapper.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from plugin.thyroid import clinical_model as cm
from plugin.thyroid.facts.common import (
    _Ctx,
    _iso,
    _latest,
    _within,
    add_months,
)

_STOPPED = frozenset({"stopped", "completed", "entered-in-error", "not-taken", "cancelled"})


def _clinical(rec: cm.PatientRecord, ctx: _Ctx, age: int | None) -> tuple[dict, list[dict]]:
    th = ctx.th
    out: dict[str, Any] = {"type": "clinical"}
    flags: list[dict] = []

    def flag(name: str, items: list, label: str, undated_counts: bool = False) -> bool:
        """On when the latest dated finding is true or an active one is. An undated true
        finding is reported as missing its date; for a safety finding (``undated_counts``:
        airway / major-vessel invasion) it also counts, since it cannot be shown to be over."""
        last = _latest(items, ctx)
        undated = [i for i in items if i.date is None and i.value and not i.active]
        for i in undated:
            ctx.note(f"date of {i.source} ({label.lower()})")
        on = bool(last and last.value) or any(i.active and i.value for i in items)
        when = "active"
        if not on and undated_counts and undated:
            on, last, when = True, None, "undated"
        if on:
            src = (
                last.source
                if last and last.value
                else next(i.source for i in items if (i.active or i.date is None) and i.value)
            )
            flags.append(
                {
                    "type": "flag",
                    "name": name,
                    "ref": src,
                    "label": f"{label} ({src}, {_iso(last.date) if last else when})",
                }
            )
        return on

    out["symptomatic"] = flag("symptomatic", rec.symptomatic, "Symptomatic or threatening disease")
    out["oligoprogression"] = flag("oligoprogression", rec.oligoprogression, "Oligoprogression")
    # §A4.14: a clinician judged RAI not appropriate (rair#rai-ineligible)
    out["rai_ineligible"] = flag("rai_ineligible", rec.rai_ineligible, "RAI judged not appropriate",
                                 undated_counts=True)
    out["airway_invasion"] = flag(
        "airway_invasion",
        rec.airway_invasion,
        "Tracheal, oesophageal or major-vessel invasion",
        undated_counts=True,
    )
    hem_cut = add_months(ctx.as_of, -th.hemorrhage_window_months)
    recent_hem = [
        h
        for h in rec.hemorrhage
        if h.value and (h.active or (ctx.known(h.date) and h.date >= hem_cut) or h.date is None)
    ]
    # §A4.8 / W-BLEED (safer reading): a hemorrhage of unknown date cannot be shown to be older
    # than 3 months, so it counts as recent (cabozantinib "do not administer") until dated.
    for h in rec.hemorrhage:
        if h.value and h.date is None and not h.active:
            ctx.note(f"date of hemorrhage {h.source} (counted as recent until dated)")
    out["recent_hemorrhage"] = bool(recent_hem)
    if recent_hem:
        flags.append(
            {
                "type": "flag",
                "name": "recent_hemorrhage",
                "ref": recent_hem[0].source,
                "label": f"Recent hemorrhage ({recent_hem[0].source}, {_iso(recent_hem[0].date)})",
            }
        )
    preg = _latest(rec.pregnancy, ctx)
    out["pregnant"] = bool(
        preg and preg.pregnant and _within(preg.date, ctx, th.safety_window_days)
    )
    # DESIGN (safer reading): a "pregnant" status older than the safety window, or without a
    # date, is still a potential pregnancy (non-blocking W-PREG) until a newer status says
    # otherwise.
    undated_preg = [p for p in rec.pregnancy if p.date is None and p.pregnant]
    recent_status = bool(preg and _within(preg.date, ctx, th.safety_window_days))
    undated_open = bool(undated_preg) and not recent_status
    out["pregnancy_stale"] = bool(preg and preg.pregnant and not out["pregnant"]) or undated_open
    if undated_open:
        ctx.note(
            f"current pregnancy status (an undated 'pregnant' status is on file:"
            f" {undated_preg[0].source})"
        )
    lact = _latest(rec.lactation, ctx)
    undated_lact = [x for x in rec.lactation if x.date is None and x.value]
    out["lactating"] = bool(
        (lact and lact.value and _within(lact.date, ctx, th.safety_window_days))
        or (undated_lact and not lact)
    )
    for x in undated_lact:
        ctx.note(f"date of lactation status {x.source}")
    # the W-PREG evidence line (§A4.11 rule 4: pregnancy or lactation)
    out["preg_label"] = ""
    if out["lactating"]:
        src = lact.source if lact and lact.value else undated_lact[0].source
        when = _iso(lact.date) if lact else "undated"
        out["preg_label"] = f"Lactation: breastfeeding ({src}, {when})"
    if out["pregnant"]:
        out["preg_label"] = (f"Pregnancy status: pregnant ({preg.source},"
                             f" {preg.date.isoformat()})")
    if preg and preg.pregnant:
        flags.append(
            {
                "type": "flag",
                "name": "pregnancy",
                "ref": preg.source,
                "label": f"Pregnancy status: pregnant ({preg.source}, {preg.date.isoformat()})",
            }
        )
    if preg and preg.pregnant and not out["pregnant"]:
        ctx.note(f"current pregnancy status (last recorded as pregnant on {preg.date.isoformat()})")
    # §A4.11 rule 4: a female aged 12-55 (DESIGN range) or of unknown age (sex unknown counts)
    childbearing = rec.sex in (None, "female", "unknown") and (
        age is None or th.childbearing_age_min_years <= age <= th.childbearing_age_max_years
    )
    out["pregnancy_status_needed"] = bool(
        childbearing and not (preg and _within(preg.date, ctx, th.safety_window_days))
    )
    return out, flags


def _safety(rec: cm.PatientRecord, ctx: _Ctx) -> dict:
    th = ctx.th
    win = th.safety_window_days
    out: dict[str, Any] = {"type": "safety"}
    bp = _latest(
        [b for b in rec.blood_pressures if b.systolic is not None or b.diastolic is not None], ctx
    )
    out["has_bp"] = bool(bp and _within(bp.date, ctx, win))
    out["bp_uncontrolled"] = bool(
        out["has_bp"]
        and (
            (bp.systolic is not None and bp.systolic >= th.bp_systolic_uncontrolled)
            or (bp.diastolic is not None and bp.diastolic >= th.bp_diastolic_uncontrolled)
        )
    )
    if bp:
        sys_, dia = (("?" if v is None else f"{v:g}") for v in (bp.systolic, bp.diastolic))
        out["bp_label"] = f"Blood pressure {sys_}/{dia} mmHg on {bp.date.isoformat()}"
        out["bp_ref"] = bp.source
    qtc = _latest(rec.qtc_ms, ctx)
    out["has_qtc"] = bool(qtc and _within(qtc.date, ctx, win))
    out["qtc_prolonged"] = bool(out["has_qtc"] and qtc.value > th.qtc_ms_max)
    k = _latest(rec.potassium, ctx)
    out["hypokalemia"] = bool(
        k and _within(k.date, ctx, win) and k.value < th.potassium_min_mmol_per_l
    )
    lqt = _latest(rec.congenital_long_qt, ctx)
    out["congenital_long_qt"] = bool(
        (lqt and lqt.value) or any(f.active and f.value for f in rec.congenital_long_qt)
    )
    out["qt_risk"] = out["qtc_prolonged"] or out["hypokalemia"] or out["congenital_long_qt"]
    parts = []
    if qtc:
        parts.append(f"QTc {qtc.value:g} ms on {qtc.date.isoformat()}")
    if k:
        parts.append(f"K {k.value:g} mmol/L on {k.date.isoformat()}")
    if out["congenital_long_qt"]:
        parts.append("congenital long QT")
    out["qt_label"] = "; ".join(parts) or "no QTc or potassium on file"
    out["ref"] = [x.source for x in (bp, qtc, k) if x is not None]
    return out


def _history(
    rec: cm.PatientRecord, ctx: _Ctx, pd_events: list, drugs: Mapping[str, Any]
) -> tuple[dict, dt.date | None]:
    exposures = [t for t in rec.therapies if t.start is None or t.start <= ctx.as_of]
    vegfr = [t for t in exposures if drugs.get(t.drug, {}).get("vegfr")]
    ntrk = [t for t in exposures if drugs.get(t.drug, {}).get("ntrk_inhibitor")]

    def active(t: cm.TherapyExposure) -> bool:
        return (
            t.start is not None
            and (t.end is None or t.end >= ctx.as_of)
            and (t.status or "active") not in _STOPPED
        )

    def progressed_on(t: cm.TherapyExposure) -> bool:
        """Stopped for progression, or PD dated while on it (start..end)."""
        if t.stop_reason == cm.StopReason.PROGRESSION:
            return True
        return t.start is not None and any(
            t.start <= day and (t.end is None or day <= t.end) for day, _, _ in pd_events
        )

    def progressed_following(t: cm.TherapyExposure) -> bool:
        """G1 "PD on or after": on it, or after it, whatever the stop reason. §A4.12:
        cabozantinib's "progressed following prior VEGFR-targeted therapy" is met by a patient
        progressing after an MKI stopped for intolerance (G2 stays for intolerance without PD)."""
        if progressed_on(t):
            return True
        return t.end is not None and any(day > t.end for day, _, _ in pd_events)

    current = [t for t in exposures if active(t)]
    therapy_start = max((t.start for t in current if t.start is not None), default=None)
    vegfr_pd = any(progressed_following(t) for t in vegfr)
    intolerant = any(t.stop_reason == cm.StopReason.INTOLERANCE for t in vegfr)
    # §A4.12: PD follows only MKIs stopped for intolerance (none failed on progression): the
    # "no satisfactory alternative" of D+T's label is an MDT confirmation
    vegfr_pd_after_intolerance_only = vegfr_pd and not any(
        progressed_following(t) for t in vegfr if t.stop_reason != cm.StopReason.INTOLERANCE)
    on_vegfr = any(active(t) for t in vegfr)
    planned = [lt for lt in rec.local_therapies if lt.date and lt.date > ctx.as_of]
    lines = [
        f"{t.drug} {_iso(t.start)}–{_iso(t.end) if t.end else 'ongoing'}"
        + (f", stopped for {t.stop_reason.value}" if t.stop_reason else "")
        for t in exposures
    ]
    fact = {
        "type": "history",
        "prior_systemic": bool(exposures),
        "prior_vegfr": bool(vegfr),
        "vegfr_pd": vegfr_pd,
        "vegfr_intolerance_no_pd": intolerant and not vegfr_pd,
        "vegfr_pd_after_intolerance_only": vegfr_pd_after_intolerance_only,
        # §A4.12: COSMIC-311 excluded prior BRAF inhibitors (dabrafenib, alone or with trametinib)
        "braf_inhibitor_pd": any(
            progressed_on(t) for t in exposures if "dabrafenib" in t.drug.split("+")),
        "prior_ntrk_inhibitor": bool(ntrk),
        "on_systemic": bool(current),
        "surgery_planned_on_vegfr": bool(planned) and on_vegfr,
        "ref": [t.source for t in exposures],
        "label": "Systemic therapy: " + ("; ".join(lines) if lines else "none"),
    }
    progressed = {t.drug for t in exposures if progressed_on(t)}
    # §A4.12: a drug stopped for intolerance (and not progressed on) is never preferred
    intolerant_on = {
        t.drug: _iso(t.end) for t in exposures
        if t.stop_reason == cm.StopReason.INTOLERANCE and t.drug not in progressed
    }
    return fact | {"_progressed": sorted(progressed), "_intolerant": intolerant_on}, therapy_start


def _age_below(rec: cm.PatientRecord, as_of: dt.date, min_age: Mapping | None) -> bool | None:
    if not min_age:
        return False
    if rec.birth_date is None:
        return None
    if "years" in min_age:
        return rec.age_on(as_of) < min_age["years"]
    limit = add_months(rec.birth_date, int(min_age["months_exclusive"]))
    return as_of <= limit  # must be OLDER than N months


def _drugs(
    rec: cm.PatientRecord,
    ctx: _Ctx,
    region: str,
    progressed: list,
    intolerant: Mapping[str, str] | None = None,
) -> list[dict]:
    intolerant = intolerant or {}
    out = []
    for name, d in ctx.drugs.items():
        below = _age_below(rec, ctx.as_of, d.get("min_age"))
        reg = (d.get("regions") or {}).get(region)
        warns = set(d.get("warns") or ())
        out.append(
            {
                "type": "drug",
                "drug": name,
                "us_status": d["us_status"],
                "accelerated": d["us_status"] == "accelerated",
                "age_below_label": bool(below),
                "age_unknown": below is None,
                "age_reason": d.get("age_reason", ""),
                "vegfr": bool(d.get("vegfr")),
                "htn_warning": "htn" in warns,
                "htn_blocking": bool(d.get("htn_blocking")),
                # §A4.11 rule 1: "label" (selpercatinib, pralsetinib) or "design" (lenvatinib,
                # cabozantinib) blocking W-HTN when BP is uncontrolled; "none" (sorafenib)
                "htn_block_basis": str(d.get("htn_blocking") or "none"),
                "qt_warning": "qt" in warns,
                "bleed_warning": "bleed" in warns,
                "infection_warning": "infection" in warns,
                # H5: a region with no entry is "not verified", which is shown (safer).
                "region_differs": region != "US"
                and (reg is None or bool(reg.get("differs_from_us"))),
                "region_note": f"{region}: {reg['note']}"
                if reg
                else f"{region}: status not verified",
                "progressed_on": name in progressed,
                "stopped_intolerance": name in intolerant,
                "intolerance_note": f"stopped for intolerance on {intolerant[name]}; a re-challenge"
                " at a lower dose is an MDT decision" if name in intolerant else "",
            }
        )
    return out
