"""A long-followed patient's record: a sample request plus thousands of unrelated lab results.

Used by the tests of issue 11 (a 10,000-Observation record is answered with the sample's own
assessment) and by ``scripts/bench_service.py``. The labs are routine chemistry and blood counts
(LOINC) that no rule reads; their values and dates vary so that no two are identical.
"""

from __future__ import annotations

import copy
import datetime as dt
from typing import Any

#: (LOINC code, display, UCUM unit, typical value): routine labs no rule of rair-cds reads
ROUTINE_LABS = (
    ("2345-7", "Glucose [Mass/volume] in Serum or Plasma", "mg/dL", 95.0),
    ("2160-0", "Creatinine [Mass/volume] in Serum or Plasma", "mg/dL", 0.9),
    ("2951-2", "Sodium [Moles/volume] in Serum or Plasma", "mmol/L", 140.0),
    ("718-7", "Hemoglobin [Mass/volume] in Blood", "g/dL", 13.5),
    ("6690-2", "Leukocytes [#/volume] in Blood by Automated count", "10*3/uL", 6.2),
    ("777-3", "Platelets [#/volume] in Blood by Automated count", "10*3/uL", 250.0),
    ("1742-6", "Alanine aminotransferase [Enzymatic activity/volume] in Serum or Plasma", "U/L",
     22.0),
    ("17861-6", "Calcium [Mass/volume] in Serum or Plasma", "mg/dL", 9.4),
)


def routine_labs(patient_id: str, count: int, start: dt.date = dt.date(2005, 1, 3)) -> list[dict]:
    """``count`` lab Observations for ``patient_id`` (codes no rule reads)."""
    labs = []
    for i in range(count):
        code, display, unit, value = ROUTINE_LABS[i % len(ROUTINE_LABS)]
        day = start + dt.timedelta(days=i // len(ROUTINE_LABS))
        labs.append({
            "resourceType": "Observation", "id": f"lab-{i}", "status": "final",
            "category": [{"coding": [{
                "system": "http://terminology.hl7.org/CodeSystem/observation-category",
                "code": "laboratory"}]}],
            "code": {"coding": [{"system": "http://loinc.org", "code": code,
                                 "display": display}]},
            "subject": {"reference": f"Patient/{patient_id}"},
            "effectiveDateTime": day.isoformat(),
            "valueQuantity": {"value": round(value * (0.9 + (i % 20) / 100), 2), "unit": unit,
                              "system": "http://unitsofmeasure.org", "code": unit},
        })
    return labs


def with_routine_labs(request: dict[str, Any], count: int) -> dict[str, Any]:
    """A copy of a patient-view ``request`` whose Observation prefetch also holds ``count``
    routine labs (the searchset ``total`` updated)."""
    out = copy.deepcopy(request)
    patient_id = out["context"]["patientId"]
    bundle = out["prefetch"].get("observations") or {
        "resourceType": "Bundle", "type": "searchset", "entry": []}
    entries = list(bundle.get("entry") or [])
    base = "https://ehr.example.org/fhir/Observation/"
    entries.extend({"fullUrl": base + lab["id"], "resource": lab, "search": {"mode": "match"}}
                   for lab in routine_labs(patient_id, count))
    bundle = {**bundle, "entry": entries}
    if "total" in bundle:
        bundle["total"] = len(entries)
    out["prefetch"]["observations"] = bundle
    return out
