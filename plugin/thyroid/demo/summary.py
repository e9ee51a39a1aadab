"""A compact, display-ready summary of a :class:`PatientRecord`, for the demo page.

The summary is JSON (camelCase keys, ISO dates) and holds what a clinician scans first:
diagnosis and histology, radioiodine history with the running cumulative activity, scans,
target-lesion sums with the RECIST progression points, molecular findings, therapies and the
safety readings the drug warnings depend on (latest blood pressure, pregnancy and lactation
status, QTc, potassium).

It is a *view* of the record, not a decision: the assessment (rules) decides; this module only
sorts, converts units for display and marks the sums the rules count as RECIST 1.1 PD
(DECISIONS C1: up >= 20 % **and** >= 5 mm over the nadir, with the nadir rules of C1b, C1c and
§A4.5) and the cumulative therapeutic activity the rules count (B0.3, A5, A6, §5), both taken
from the rules' own computation so the timeline cannot disagree with the assessment.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from plugin.thyroid.clinical_model import (
    MBQ_PER_MCI,
    DiseaseStatus,
    Histology,
    PatientRecord,
    RecistResponse,
    TherapyExposure,
)
from plugin.thyroid.facts.common import Thresholds
from plugin.thyroid.facts.derivation import Derivation, derive

HISTOLOGY_LABELS = {
    Histology.PTC: "Papillary thyroid carcinoma",
    Histology.FTC: "Follicular thyroid carcinoma",
    Histology.OTC: "Oncocytic (Hürthle cell) carcinoma",
    Histology.PDTC: "Poorly differentiated thyroid carcinoma",
    Histology.ATC: "Anaplastic thyroid carcinoma",
    Histology.MTC: "Medullary thyroid carcinoma",
}


def summarize(
    record: PatientRecord,
    as_of: dt.date | None = None,
    *,
    thresholds: Thresholds | None = None,
    derivation: Derivation | None = None,
) -> dict[str, Any]:
    """The display summary of ``record``; ``as_of`` gives the age and the timeline's end.

    :param record: the record read by ``from_fhir.read_record``.
    :param as_of: the evaluation date (today when ``None``).
    :param derivation: the record's derivation as of ``as_of`` (derived here, with
        ``thresholds``, when not given): the counted doses, scan kinds and PD points.
    """
    as_of = as_of or dt.datetime.now(dt.UTC).date()
    if derivation is None or derivation.as_of != as_of:
        derivation = derive(record, as_of, thresholds)
    scan_kinds = {id(r.scan): r for r in derivation.scans}
    return {
        "asOf": as_of.isoformat(),
        "patient": {
            "source": record.patient_source,
            "birthDate": _iso(record.birth_date),
            "sex": record.sex,
            "age": derivation.safety.age,
        },
        "diagnoses": [
            {
                "source": d.source,
                "histology": d.histology.value if d.histology else None,
                "label": HISTOLOGY_LABELS.get(d.histology, "Thyroid cancer, histology unknown")
                if d.histology
                else "Thyroid cancer, histology unknown",
                "onset": _iso(d.onset),
                "evidence": d.histology_evidence,
            }
            for d in _by_date(record.diagnoses, "onset")
        ],
        "rai": rai_history(record, as_of, derivation=derivation),
        "scans": [
            {
                "source": s.source,
                "date": _iso(s.date),
                "kind": scan_kinds[id(s)].kind,
                "kindInferred": scan_kinds[id(s)].inferred,
                "uptake": s.uptake.value,
                "tsh": s.tsh_miu_per_l,
            }
            for s in _by_date(record.scans)
        ],
        "lesionSums": [
            {"source": s.source, "date": _iso(s.date), "sumMm": s.sum_mm}
            for s in _by_date(record.lesion_sums)
        ],
        "progression": progression(record, as_of, derivation=derivation),
        "molecular": molecular(record),
        "therapies": [
            {
                "source": t.source,
                "drug": t.drug,
                "start": _iso(t.start),
                "end": _iso(t.end),
                "stopReason": t.stop_reason.value if t.stop_reason else None,
                "status": t.status,
                # the rules' reading (the derivation's therapy history)
                **_therapy_reading(derivation, t),
            }
            for t in _by_date(record.therapies, "start")
        ],
        "localTherapies": [
            {"source": t.source, "date": _iso(t.date), "description": t.description}
            for t in _by_date(record.local_therapies)
        ],
        "thyroglobulin": [
            {"source": x.source, "date": _iso(x.date), "value": x.value, "unit": x.unit}
            for x in _by_date(record.thyroglobulin)
        ],
        "safety": safety(record, as_of, derivation=derivation),
        "dataQuality": [
            {"source": n.source, "message": n.message, "missing": n.missing}
            for n in record.data_quality
        ],
    }


def rai_history(
    record: PatientRecord,
    as_of: dt.date | None = None,
    thresholds: Thresholds | None = None,
    *,
    derivation: Derivation | None = None,
) -> dict[str, Any]:
    """Administrations in date order with the running cumulative *therapeutic* activity (B5).

    The intents, the counted doses and the total are the rules' own (the derivation's ``rai``,
    :mod:`plugin.thyroid.facts.derivation`: B0.3, A5, A6, §5): a dose recorded twice on one day
    counts
    once, a coded-diagnostic dose of therapeutic size has an unknown intent,
    an unknown activity is never guessed and leaves the total a lower bound
    (``cumulativeComplete`` false), and "above" is strictly greater than the threshold.
    Diagnostic activities and administrations after ``as_of`` are listed but not counted.
    """
    if derivation is None:
        derivation = derive(record, as_of or dt.datetime.now(dt.UTC).date(), thresholds)
    view = derivation.rai
    dated_doses = [d for d in view.doses if d.date is not None]
    dated_total = dated_doses[-1].cumulative_mbq if dated_doses else 0
    undated_running = 0
    total_all = 0
    unknown = 0
    rows = []
    # undated administrations last, in their original order (as _by_date)
    for r in sorted(view.readings, key=lambda r: _date_key(r.administration.date)):
        a = r.administration
        if a.activity_mbq is None:
            unknown += 1
        else:
            total_all += a.activity_mbq
        if a.date is not None:
            running = max(
                (d.cumulative_mbq for d in dated_doses if d.date is not None and d.date <= a.date),
                default=0,
            )
        else:
            undated_running += (a.activity_mbq or 0) if r.counted else 0
            running = dated_total + undated_running
        rows.append(
            {
                "source": a.source,
                "date": _iso(a.date),
                "activityMBq": a.activity_mbq,
                "activityMCi": _mci(a.activity_mbq),
                "intent": r.intent,
                "intentCoded": a.intent_coded,
                "cumulativeTherapeuticMBq": running,
                "recordedIntent": a.intent.value,
                "intentConflict": r.intent_conflict,
                "counted": r.counted,
                "sameDayAs": r.same_day_as,
                "afterEvaluationDate": r.after_as_of,
            }
        )
    return {
        "administrations": rows,
        "cumulativeTherapeuticMBq": view.cumulative_mbq,
        "cumulativeTherapeuticMCi": _mci(view.cumulative_mbq),
        "cumulativeComplete": view.complete,
        "therapeuticCount": len(view.doses),
        "unknownIntent": len(view.unknown_intent),
        "totalAdministeredMBq": total_all,
        "unknownActivity": unknown,
        "thresholdMBq": view.threshold_mbq,
        "aboveThreshold": view.over,
        "atThreshold": view.equal,
        "recordedSummaries": [
            {
                "source": c.source,
                "date": _iso(c.date),
                "activityMBq": c.activity_mbq,
                "rawValue": c.raw_value,
                "rawUnit": c.raw_unit,
            }
            for c in _by_date(record.cumulative_summaries)
        ],
    }


def progression(
    record: PatientRecord, as_of: dt.date, *, derivation: Derivation | None = None
) -> dict[str, Any]:
    """PD evidence in date order: computed RECIST points, new lesions and coded findings.

    The computed points are exactly the sums the rules count as RECIST 1.1 PD
    (the derivation's ``recist_pd``, :mod:`plugin.thyroid.facts.derivation`: C1, C1a-c, §A4.5).
    """
    events: list[dict[str, Any]] = [
        {
            "kind": "recist-computed",
            "date": _iso(p.date),
            "source": p.source,
            "sumMm": p.sum_mm,
            "nadirMm": p.nadir_mm,
            "nadirDate": _iso(p.nadir_date),
            "nadirSource": p.nadir_source,
            "increasePercent": round((p.sum_mm - p.nadir_mm) * 100 / p.nadir_mm, 1),
            "text": f"Sum {_fmt_mm(p.sum_mm)} mm vs nadir {_fmt_mm(p.nadir_mm)} mm "
            f"({_iso(p.nadir_date)}): RECIST 1.1 PD",
        }
        for p in (derivation or derive(record, as_of)).recist_pd
    ]
    for n in record.new_lesions:
        events.append(
            {"kind": "new-lesion", "date": _iso(n.date), "source": n.source, "text": "New lesion"}
        )
    for r in record.recist_responses:
        events.append(
            {
                "kind": "recist-coded" if r.response is RecistResponse.PD else "recist-response",
                "date": _iso(r.date),
                "source": r.source,
                "response": r.response.value,
                "text": f"RECIST response recorded: {r.response.value}",
            }
        )
    for st in record.disease_statuses:
        events.append(
            {
                "kind": "status-worsened"
                if st.status is DiseaseStatus.WORSENED
                else "status",
                "date": _iso(st.date),
                "source": st.source,
                "status": st.status.value,
                "text": f"Disease status: {st.status.value}",
            }
        )
    events.sort(key=lambda e: e["date"] or "")
    pd_kinds = {"recist-computed", "new-lesion", "recist-coded", "status-worsened"}
    pd_dates = [e["date"] for e in events if e["kind"] in pd_kinds and e["date"]]
    return {"events": events, "latestPdDate": max(pd_dates, default=None)}


def safety(
    record: PatientRecord, as_of: dt.date, *, derivation: Derivation | None = None
) -> dict[str, Any]:
    """The safety readings the drug warnings depend on (W-HTN, W-PREG, W-QT): the latest dated
    blood pressure, pregnancy status, lactation status, QTc and potassium on or before ``as_of``,
    the derivation's own (``safety``, :mod:`plugin.thyroid.facts.safety`), so the page shows the
    readings the rules used; ``None`` when none is on file. The rules also apply a recency
    window (``safety_window_days``)."""
    if derivation is None or derivation.as_of != as_of:
        derivation = derive(record, as_of)
    s = derivation.safety
    bp, preg, lact, qtc, k = s.blood_pressure, s.pregnancy, s.lactation, s.qtc, s.potassium
    return {
        "bloodPressure": None if bp is None else {
            "source": bp.source, "date": _iso(bp.date),
            "systolic": bp.systolic, "diastolic": bp.diastolic,
        },
        "pregnancy": None if preg is None else {
            "source": preg.source, "date": _iso(preg.date), "pregnant": preg.pregnant,
        },
        "lactation": None if lact is None else {
            "source": lact.source, "date": _iso(lact.date), "lactating": lact.value,
        },
        "qtc": None if qtc is None else {
            "source": qtc.source, "date": _iso(qtc.date), "valueMs": qtc.value,
        },
        "potassium": None if k is None else {
            "source": k.source, "date": _iso(k.date), "value": k.value, "unit": k.unit,
        },
    }


def _therapy_reading(derivation: Derivation, t: TherapyExposure) -> dict[str, bool]:
    """How the rules read one exposure: current, progressed on it, stopped for intolerance
    (all False for an exposure started after the evaluation date)."""
    reading = derivation.history.reading(t)
    return {
        "current": bool(reading and reading.current),
        "progressedOn": bool(reading and reading.progressed_on),
        "stoppedForIntolerance": bool(reading and reading.stopped_for_intolerance),
    }


def molecular(record: PatientRecord) -> dict[str, Any]:
    """Findings (present first, then pertinent negatives) and the genes tested."""
    findings = [
        {
            "source": v.source,
            "gene": v.gene,
            "present": v.present,
            "kind": v.kind.value,
            "alteration": v.alteration,
            "partner": v.partner,
            "fusionOnly": v.fusion_only,
            "fusionCapable": v.fusion_capable,
            "date": _iso(v.date),
            "description": v.description,
            "alleleFraction": v.allele_fraction,
            "label": variant_label(v.gene, v.alteration, v.partner, v.present, v.fusion_only),
        }
        for v in sorted(record.variants, key=lambda v: (not v.present, v.gene))
    ]
    tested: dict[str, dict[str, Any]] = {}
    for g in record.genes_tested:
        row = tested.setdefault(g.gene, {"gene": g.gene, "fusionCapable": False, "sources": []})
        row["fusionCapable"] = row["fusionCapable"] or bool(g.fusion_capable)
        if g.source not in row["sources"]:
            row["sources"].append(g.source)
    return {"findings": findings, "genesTested": sorted(tested.values(), key=lambda r: r["gene"])}


def variant_label(
    gene: str, alteration: str | None, partner: str | None, present: bool, fusion_only: bool
) -> str:
    """``"BRAF V600E"``, ``"CCDC6::RET fusion"``, ``"NRAS: not detected"``."""
    if not present:
        return f"{gene} fusion: not detected" if fusion_only else f"{gene}: not detected"
    if alteration == "fusion":
        return f"{partner}::{gene} fusion" if partner else f"{gene} fusion"
    return f"{gene} {alteration}" if alteration else gene


def _by_date(items: Iterable[Any], attr: str = "date") -> list[Any]:
    # undated items last, in their original order
    return sorted(items, key=lambda x: _date_key(getattr(x, attr)))


def _date_key(day: dt.date | None) -> tuple[bool, dt.date]:
    return (day is None, day or dt.date.min)


def _iso(day: dt.date | None) -> str | None:
    return day.isoformat() if day else None


def _mci(mbq: int | None) -> float | None:
    return None if mbq is None else round(mbq / MBQ_PER_MCI, 1)


def _fmt_mm(value: float) -> str:
    return f"{value:g}"
