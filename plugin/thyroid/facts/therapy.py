"""The systemic-therapy history (G1-G5), drug (H1, H5), clinical-flag and safety (H4, §2.9,
§A4.8) facts for the thyroid fact mapper: translations of the derivation's ``history`` and
``safety`` (:mod:`plugin.thyroid.facts.history`, :mod:`plugin.thyroid.facts.safety`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from plugin.thyroid import clinical_model as cm
from plugin.thyroid.facts.common import FactContext, add_months, day_text
from plugin.thyroid.facts.history import TherapyHistory
from plugin.thyroid.facts.safety import FlagReading, SafetyValues

_iso = day_text


def clinical_facts(s: SafetyValues, ctx: FactContext) -> tuple[dict, list[dict]]:
    """The ``clinical`` fact and its ``flag`` facts; notes the missing dates."""
    out: dict[str, Any] = {"type": "clinical"}
    flags: list[dict] = []

    def flag(name: str, reading: FlagReading, label: str) -> bool:
        for i in reading.undated:
            ctx.note(f"date of {i.source} ({label.lower()})")
        if reading.on:
            flags.append({"type": "flag", "name": name, "ref": reading.source,
                          "label": f"{label} ({reading.source}, {reading.when})"})
        return reading.on

    f = s.flags
    out["symptomatic"] = flag("symptomatic", f.symptomatic, "Symptomatic or threatening disease")
    out["oligoprogression"] = flag("oligoprogression", f.oligoprogression, "Oligoprogression")
    # §A4.14: a clinician judged RAI not appropriate (rair#rai-ineligible)
    out["rai_ineligible"] = flag("rai_ineligible", f.rai_ineligible, "RAI judged not appropriate")
    out["airway_invasion"] = flag("airway_invasion", f.airway_invasion,
                                  "Tracheal, oesophageal or major-vessel invasion")
    for h in s.undated_hemorrhage:
        ctx.note(f"date of hemorrhage {h.source} (counted as recent until dated)")
    out["recent_hemorrhage"] = bool(s.recent_hemorrhage)
    if s.recent_hemorrhage:
        first = s.recent_hemorrhage[0]
        flags.append({"type": "flag", "name": "recent_hemorrhage", "ref": first.source,
                      "label": f"Recent hemorrhage ({first.source}, {_iso(first.date)})"})
    preg, lact = s.pregnancy, s.lactation
    out["pregnant"] = s.pregnant
    out["pregnancy_stale"] = s.pregnancy_stale
    if s.undated_pregnant and not s.pregnancy_recent:
        ctx.note(
            f"current pregnancy status (an undated 'pregnant' status is on file:"
            f" {s.undated_pregnant[0].source})"
        )
    out["lactating"] = s.lactating
    for x in s.undated_lactation:
        ctx.note(f"date of lactation status {x.source}")
    # the W-PREG evidence line (§A4.11 rule 4: pregnancy or lactation)
    out["preg_label"] = ""
    if s.lactating:
        src = lact.source if lact and lact.value else s.undated_lactation[0].source
        when = _iso(lact.date) if lact else "undated"
        out["preg_label"] = f"Lactation: breastfeeding ({src}, {when})"
    if s.pregnant and preg is not None:
        out["preg_label"] = (f"Pregnancy status: pregnant ({preg.source},"
                             f" {_iso(preg.date)})")
    if preg is not None and preg.pregnant:
        flags.append(
            {
                "type": "flag",
                "name": "pregnancy",
                "ref": preg.source,
                "label": f"Pregnancy status: pregnant ({preg.source}, {_iso(preg.date)})",
            }
        )
        if not s.pregnant:
            ctx.note(f"current pregnancy status (last recorded as pregnant on {_iso(preg.date)})")
    out["pregnancy_status_needed"] = s.pregnancy_status_needed
    return out, flags


def safety_fact(s: SafetyValues) -> dict:
    """The ``safety`` fact (W-HTN, W-QT)."""
    bp, qtc, k = s.blood_pressure, s.qtc, s.potassium
    out: dict[str, Any] = {"type": "safety", "has_bp": s.bp_recent,
                           "bp_uncontrolled": s.bp_uncontrolled}
    if bp:
        sys_, dia = (("?" if v is None else f"{v:g}") for v in (bp.systolic, bp.diastolic))
        out["bp_label"] = f"Blood pressure {sys_}/{dia} mmHg on {_iso(bp.date)}"
        out["bp_ref"] = bp.source
    out["has_qtc"] = s.qtc_recent
    out["qtc_prolonged"] = s.qtc_prolonged
    out["hypokalemia"] = s.hypokalemia
    out["congenital_long_qt"] = s.congenital_long_qt
    out["qt_risk"] = s.qt_risk
    parts = []
    if qtc:
        parts.append(f"QTc {qtc.value:g} ms on {_iso(qtc.date)}")
    if k:
        parts.append(f"K {k.value:g} mmol/L on {_iso(k.date)}")
    if s.congenital_long_qt:
        parts.append("congenital long QT")
    out["qt_label"] = "; ".join(parts) or "no QTc or potassium on file"
    out["ref"] = [x.source for x in (bp, qtc, k) if x is not None]
    return out


def history_fact(h: TherapyHistory) -> dict:
    """The ``history`` fact (G1-G5, §A4.12)."""
    exposures = [r.exposure for r in h.exposures]
    lines = [
        f"{t.drug} {_iso(t.start)}–{_iso(t.end) if t.end else 'ongoing'}"
        + (f", stopped for {t.stop_reason.value}" if t.stop_reason else "")
        for t in exposures
    ]
    return {
        "type": "history",
        "prior_systemic": bool(exposures),
        "prior_vegfr": any(r.vegfr for r in h.exposures),
        "vegfr_pd": h.vegfr_pd,
        "vegfr_intolerance_no_pd": h.vegfr_intolerance_no_pd,
        "vegfr_pd_after_intolerance_only": h.vegfr_pd_after_intolerance_only,
        "braf_inhibitor_pd": h.braf_inhibitor_pd,
        "prior_ntrk_inhibitor": any(r.ntrk_inhibitor for r in h.exposures),
        "on_systemic": bool(h.current),
        "surgery_planned_on_vegfr": bool(h.planned_local) and h.on_vegfr,
        "ref": [t.source for t in exposures],
        "label": "Systemic therapy: " + ("; ".join(lines) if lines else "none"),
    }


def _age_below(rec: cm.PatientRecord, as_of: dt.date, min_age: Mapping | None) -> bool | None:
    if not min_age:
        return False
    if rec.birth_date is None:
        return None
    if "years" in min_age:
        return rec.age_on(as_of) < min_age["years"]
    limit = add_months(rec.birth_date, int(min_age["months_exclusive"]))
    return as_of <= limit  # must be OLDER than N months


def drug_facts(
    rec: cm.PatientRecord, ctx: FactContext, region: str, history: TherapyHistory
) -> list[dict]:
    """One ``drug`` fact per drug of the drug table (H1, H5, G1, §A4.12)."""
    progressed, intolerant = history.progressed, history.intolerant
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
