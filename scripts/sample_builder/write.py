"""Write every registered scenario: FHIR Bundles, patient-view requests, expected assessments."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import sample_builder.scenarios  # noqa: F401  (registers every scenario, in order)
from sample_builder.blocks import adult
from sample_builder.patient import Patient
from sample_builder.registry import SCENARIOS

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "fhir_samples" / "thyroid"
EVALUATION_DATE = "2026-11-27"
NS = uuid.UUID("6f1d7c1e-5b0a-4a8e-9d7e-2f1b6a0c9e11")

PREFETCH_QUERIES = {
    "patient": "Patient",
    "conditions": "Condition",
    "observations": "Observation",
    "procedures": "Procedure",
    "medicationStatements": "MedicationStatement",
    "medicationRequests": "MedicationRequest",
    "medicationAdministrations": "MedicationAdministration",
    "diagnosticReports": "DiagnosticReport",
    "molecularSequences": "MolecularSequence",
}


def bundle_of(p: Patient, name: str) -> dict:
    return {
        "resourceType": "Bundle",
        "id": f"rair-sample-{name}",
        "type": "collection",
        "entry": [{"fullUrl": f"urn:uuid:{uuid.uuid5(NS, r['resourceType'] + '/' + r['id'])}",
                   "resource": r} for r in p.resources],
    }


def request_of(p: Patient, name: str) -> dict:
    prefetch: dict = {}
    for key, rtype in PREFETCH_QUERIES.items():
        if key == "patient":
            prefetch[key] = p.resources[0]
            continue
        found = [r for r in p.resources if r["resourceType"] == rtype]
        prefetch[key] = {
            "resourceType": "Bundle", "type": "searchset", "total": len(found),
            "entry": [{"fullUrl": f"https://fhir.example.org/r4/{rtype}/{r['id']}",
                       "resource": r, "search": {"mode": "match"}} for r in found],
        }
        if not found:
            del prefetch[key]["entry"]
    return {
        "hook": "patient-view",
        "hookInstance": str(uuid.uuid5(NS, "hook/" + name)),
        "context": {"userId": "Practitioner/example", "patientId": p.pid},
        "prefetch": prefetch,
    }


def main() -> None:
    (OUT / "bundles").mkdir(parents=True, exist_ok=True)
    (OUT / "expected").mkdir(parents=True, exist_ok=True)
    index = []
    for i, sc in enumerate(SCENARIOS, 1):
        name = sc["name"]
        p = adult(f"rair-{i:02d}") if name not in ("child-ret-fusion", "atc-braf-v600e",
                                                   "mtc-medullary") else None
        if name == "child-ret-fusion":
            p = Patient(f"rair-{i:02d}", "2016-05-14", "male", ("Example", "Sam"))
            p.cancer("PTC", "2023-11-01")
            p.thyroidectomy("2024-01-15")
        elif name == "atc-braf-v600e":
            p = Patient(f"rair-{i:02d}", "1951-02-02", "male", ("Example", "Lee"))
            p.cancer("ATC", "2026-10-28")
        elif name == "mtc-medullary":
            p = Patient(f"rair-{i:02d}", "1970-07-07", "female", ("Example", "Kim"))
            p.cancer("MTC", "2025-02-01")
        if name == "pregnant-systemic-indicated":
            p = Patient(f"rair-{i:02d}", "1993-03-03", "female", ("Example", "Dana"))
            p.cancer("PTC", "2022-09-15")
            p.thyroidectomy("2022-10-03")
        sc["build"](p)
        files = {
            "bundle": f"bundles/{name}.json",
            "request": f"patient-view.{name}.json",
            "expected": f"expected/{name}.json",
        }
        expected = {"scenario": name, "evaluationDate": EVALUATION_DATE, **sc["expected"]}
        if sc["notes"]:
            expected["notes"] = sc["notes"]
        for key, payload in (("bundle", bundle_of(p, name)), ("request", request_of(p, name)),
                             ("expected", expected)):
            (OUT / files[key]).write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n",
                                          encoding="utf-8")
        index.append({"name": name, "title": sc["title"], "patientId": p.pid, **files})
    (OUT / "index.json").write_text(json.dumps({"evaluationDate": EVALUATION_DATE,
                                                "scenarios": index}, indent=2) + "\n",
                                    encoding="utf-8")
    print(f"wrote {len(index)} scenarios to {OUT}")
