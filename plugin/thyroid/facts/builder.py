"""PatientRecord + evaluation date + thresholds -> flat facts for the thyroid rules.

This module does the arithmetic durable_rules can't (docs/ENGINE.md §E3.6-§E3.7): dates become
integer day counts relative to the evaluation date (``days_ago``), activities are summed in
integer MBq, RECIST 1.1 is computed from lesion sums with the nadir rules of DECISIONS §D4.5,
scan validity (A3), the latest safety values, ages, and every negation the rules need is a
positive boolean here (durable's ``none()`` is order dependent). Facts hold only JSON scalars
or lists of strings; a value that is unknown is omitted (or flagged, e.g. ``has_age``), never
``None``. The fact vocabulary is documented in ``rules/README.md``.

Records dated after the evaluation date are ignored (the result must be reproducible with
``--as-of``), except planned surgery (W-WOUND).

What the record says is computed once, in the derivation (:mod:`plugin.thyroid.facts.derivation`:
radioiodine, scans, monitoring episode and PD evidence, therapy history, testing, safety); the
builders translate it into facts. They live in concept modules: ``common`` (thresholds, drug
table, helpers), ``rai`` (administrations, activity), ``scans`` (scans, A3 validity),
``progression`` (RECIST, §A4.5), ``molecular`` (variants, §A4.3) and ``therapy`` (history,
drugs, clinical flags, safety). This module keeps the patient, histology, Tg and
structural-disease facts and the entry point :func:`to_facts`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from plugin.thyroid import clinical_model as cm
from plugin.thyroid.facts.common import (
    MCI_MBQ,
    FactContext,
    Thresholds,
    add_months,
    day_text,
    latest_on,
    load_therapies,
    load_thresholds,
    mbq_text,
)
from plugin.thyroid.facts.derivation import Derivation, derive
from plugin.thyroid.facts.molecular import molecular_facts
from plugin.thyroid.facts.progression import progression_fact
from plugin.thyroid.facts.rai import activity_conflict_facts, intent_of, rai_fact
from plugin.thyroid.facts.scans import scan_facts
from plugin.thyroid.facts.therapy import clinical_facts, drug_facts, history_fact, safety_fact

__all__ = [
    "MCI_MBQ",
    "Thresholds",
    "add_months",
    "load_therapies",
    "load_thresholds",
    "mbq_text",
    "to_facts",
]

# §A3 histology precedence when diagnoses disagree: the most aggressive wins (safer).
_HISTOLOGY_ORDER = ("ATC", "MTC", "PDTC", "OTC", "FTC", "PTC")
_DTC = frozenset({"PTC", "FTC", "OTC"})  # A1
# §A4.14: PDTC is follicular-cell-derived: inside the RAI-R framework (with W-HISTOLOGY-PDTC)
_FOLLICULAR = _DTC | {"PDTC"}


def _patient(rec: cm.PatientRecord, ctx: FactContext, region: str) -> dict:
    fact: dict[str, Any] = {"type": "patient", "region": region, "has_age": False}
    if rec.patient_source:
        fact["ref"] = rec.patient_source
    age = rec.age_on(ctx.as_of)
    if age is not None and age >= 0:
        fact.update(has_age=True, age=age, adult=age >= ctx.th.adult_age_years)
        fact["label"] = f"Age {age} years on {ctx.as_of.isoformat()}"
    else:
        ctx.note("date of birth (label age limits)")
    fact["sex"] = rec.sex or "unknown"
    return fact


def _histology(rec: cm.PatientRecord, ctx: FactContext) -> dict:
    found = [d for d in rec.diagnoses if d.histology is not None]
    fact: dict[str, Any] = {"type": "histology"}
    if not found:
        fact.update(value="UNKNOWN", dtc=False, follicular=False, known=False)
        ctx.note(
            "thyroid cancer histology (Condition with a histology code)"
            if rec.diagnoses
            else "thyroid cancer diagnosis with histology (Condition C73)"
        )
        fact["ref"] = [d.source for d in rec.diagnoses]
        fact["label"] = "No thyroid cancer histology in the record"
        return fact
    values = {d.histology.value for d in found if d.histology is not None}
    value = next(h for h in _HISTOLOGY_ORDER if h in values)
    fact.update(value=value, dtc=value in _DTC, follicular=value in _FOLLICULAR, known=True,
                conflict=len(values) > 1)
    fact["ref"] = [d.source for d in found]
    parts = [
        f"{d.histology.value} ({d.histology_evidence or d.source})"
        for d in found
        if d.histology is not None
    ]
    fact["label"] = "Histology: " + ", ".join(parts)
    if len(values) > 1:
        fact["label"] += f"; conflicting classes, the most aggressive ({value}) is used"
        if values & _DTC and values - _DTC:
            # Two cancers or a misfiled diagnosis: the non-DTC class decides (safer), and the
            # record should be reconciled (pathology review).
            ctx.note(
                "reconcile conflicting thyroid cancer histology ("
                + " vs ".join(h for h in _HISTOLOGY_ORDER if h in values)
                + ")"
            )
    return fact


def _tg(rec: cm.PatientRecord, ctx: FactContext) -> list[dict]:
    out = []
    for name, series in (("Tg", rec.thyroglobulin), ("TgAb", rec.tg_antibodies)):
        dated = sorted(
            (x for x in series if ctx.known(x.date)), key=lambda x: x.date or dt.date.min
        )
        if len(dated) >= 2 and dated[-1].value > dated[-2].value:
            out.append(
                {
                    "type": "tg",
                    "rising": True,
                    "marker": name,
                    "ref": [dated[-2].source, dated[-1].source],
                    "label": f"{name} rising: {dated[-2].value:g} ({day_text(dated[-2].date)})"
                    f" -> {dated[-1].value:g} ({day_text(dated[-1].date)})",
                }
            )
    return out


def _structural(rec: cm.PatientRecord, ctx: FactContext) -> dict:
    last = latest_on(rec.structural_disease, ctx.as_of)
    absent = bool(last and not last.value)
    if absent:  # later structural evidence contradicts "no structural disease"
        later: list[cm.LesionSum | cm.NewLesion] = [
            s for s in rec.lesion_sums if ctx.known(s.date) and s.date > last.date and s.sum_mm > 0
        ]
        later += [n for n in rec.new_lesions if ctx.known(n.date) and n.date > last.date]
        absent = not later
    fact: dict[str, Any] = {"type": "structural", "absent": absent}
    if last:
        fact.update(
            ref=last.source,
            label=f"Structural disease {'absent' if absent else 'present'}"
            f" ({last.source}, {day_text(last.date)})",
        )
    return fact


# --------------------------------------------------------------------------- entry point


def to_facts(
    record: cm.PatientRecord,
    as_of: dt.date,
    thresholds: Thresholds | None = None,
    *,
    region: str = "US",
    therapies: Mapping[str, Any] | None = None,
    derivation: Derivation | None = None,
) -> list[dict]:
    """Turn ``record`` into the flat facts of ``rules/README.md``, as of ``as_of``.

    ``therapies`` is the drug table (``therapies.yaml``; default: the knowledge folder's);
    ``derivation`` the record's :class:`~plugin.thyroid.facts.derivation.Derivation` (computed here
    when not given; its thresholds must be ``thresholds``). The last fact has type
    ``missing_input`` per data gap found while mapping (its ``what`` is a short phrase for
    ``missingData``).
    """
    th = thresholds or load_thresholds()
    ctx = FactContext(as_of, th, therapies)
    if (derivation is None or derivation.record is not record or derivation.as_of != as_of
            or derivation.thresholds != th or derivation.therapies != ctx.therapies):
        derivation = derive(record, as_of, th, ctx.therapies)
    facts: list[dict] = []
    patient = _patient(record, ctx, region)
    facts.append(patient)
    facts.append(_histology(record, ctx))
    rai, dated_ther = rai_fact(record, ctx, derivation.rai)
    facts.append(rai)
    facts += activity_conflict_facts(record, [a for a in dated_ther], ctx)
    scans, scan_status, infos = scan_facts(record, ctx, dated_ther, derivation.scans)
    facts += scans
    facts.append(scan_status)

    monitored = derivation.monitoring
    facts.append(progression_fact(monitored, record, ctx))
    pd_events = monitored.pd_events
    facts.append(history_fact(derivation.history))

    # B4 (JS-iv): the last therapeutic dose whose post-therapy scan showed uptake in all lesions.
    avid = [
        i
        for i in infos
        if i["kind"] == "post-therapy"
        and i["dose"] is not None
        and intent_of(i["dose"], th) == "therapeutic"
        and i["scan"].uptake == cm.Uptake.ALL_LESIONS
        and not i.get("conflict")
    ]
    scan_status["avid_pd"] = False
    if avid:
        a = max(avid, key=lambda i: i["dose"].date)
        dose_day = a["dose"].date
        after = [p for p in pd_events if p[0] > dose_day]
        fact = {
            "type": "avid_rai",
            "pd_after": bool(after),
            "late": bool(after) and after[0][0] > add_months(dose_day, th.late_pd_months),
            "ref": [a["dose"].source, a["scan"].source] + [p[1] for p in after[:1]],
            "label": f"Therapeutic RAI {dose_day.isoformat()} with uptake in all lesions on the"
            f" post-therapy scan {a['scan'].date.isoformat()}"
            + (f"; PD after it on {after[0][0].isoformat()}" if after else ""),
        }
        facts.append(fact)
        scan_status["avid_pd"] = bool(after)  # JS-iv decided: A5:js-iv must not fire

    clinical, flags = clinical_facts(derivation.safety, ctx)
    facts.append(clinical)
    facts += flags
    facts.append(safety_fact(derivation.safety))
    molecular, variants = molecular_facts(record, ctx)
    facts.append(molecular)
    facts += variants
    facts += drug_facts(record, ctx, region, derivation.history)
    facts += _tg(record, ctx)
    facts.append(_structural(record, ctx))
    dq = [n for n in record.data_quality if n.missing]
    facts.append(
        {
            "type": "data_quality",
            "missing_count": len(dq),
            "ref": [n.source for n in dq],
            "label": "; ".join(f"{n.missing} ({n.source})" for n in dq) or "none",
        }
    )
    facts += [{"type": "missing_input", "what": w} for w in ctx.missing]
    return facts
