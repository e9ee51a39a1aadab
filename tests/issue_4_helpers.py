"""Shared by the issue 4 clinical-review tests (tests/test_issue_4_*.py): a test client of the
real app, the patient-view samples, draft orders, and prefetch edits."""

from __future__ import annotations

import copy
import json
from pathlib import Path

from cds_hooks import create_app

SAMPLES = Path(__file__).resolve().parents[1] / "fhir_samples" / "thyroid"
SNOMED = "http://snomed.info/sct"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
RAIR = "https://rair-cds.org/fhir/CodeSystem/concepts"
UCUM = "http://unitsofmeasure.org"


def review_client(tmp_path):
    """A test client of the real app: the thyroid plugin, no client auth, the samples' date."""
    app = create_app({
        "TESTING": True, "AUTH_MODE": "off", "EVALUATION_DATE": "2026-11-27",
        "FEEDBACK_DB": str(tmp_path / "feedback.sqlite3"), "FHIR_REQUIRE_AUTHORIZATION": False,
    })
    return app.test_client()


def sample(name):
    return json.loads((SAMPLES / f"patient-view.{name}.json").read_text(encoding="utf-8"))


def i131(rid, value=150, unit="mCi"):
    resource = {
        "resourceType": "MedicationRequest", "id": rid, "status": "draft", "intent": "order",
        "medicationCodeableConcept": {"coding": [{"system": SNOMED, "code": "111160004"}],
                                      "text": "Sodium iodide I-131"},
        "subject": {"reference": "Patient/x"},
    }
    if value is not None:
        resource["dosageInstruction"] = [{"doseAndRate": [{"doseQuantity": {
            "value": value, "unit": unit, "system": UCUM, "code": unit}}]}]
    return resource


def drug(rid, rxnorm):
    return {"resourceType": "MedicationRequest", "id": rid, "status": "draft", "intent": "order",
            "medicationCodeableConcept": {"coding": [{"system": RXNORM, "code": rxnorm}]},
            "subject": {"reference": "Patient/x"}}


def post(client, name, drafts, *, edit=None, hook="order-sign", selections=None):
    pv = sample(name)
    prefetch = copy.deepcopy(pv["prefetch"])
    if edit:
        edit(prefetch)
    context = {"userId": "Practitioner/qa", "patientId": pv["context"]["patientId"],
               "draftOrders": {"resourceType": "Bundle", "type": "collection",
                               "entry": [{"resource": r} for r in drafts]}}
    if selections:
        context["selections"] = selections
    service = "rair-order-select" if hook == "order-select" else "rair-order-sign"
    response = client.post(f"/cds-services/{service}", json={
        "hook": hook, "hookInstance": "0b7a4c7e-4d0e-4f53-9a51-3f1f0c8d2a10",
        "context": context, "prefetch": prefetch})
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def by_order(body):
    review = body["extension"]["rair-cds"]["orderReview"]
    return {r["order"]: r["cards"] for r in review}


def card_for(body, ref):
    """The cards whose delete action (or detail) names the draft ``ref``."""
    return [c for c in body["cards"] if f"`{ref}`" in c["detail"]]


def add_resource(resource):
    def edit(prefetch):
        for value in prefetch.values():
            if isinstance(value, dict) and value.get("resourceType") == "Bundle" and any(
                    e["resource"]["resourceType"] == "Observation" for e in value.get("entry", [])):
                value["entry"].append({"resource": resource})
                return
        raise AssertionError("no Observation bundle in the prefetch")
    return edit


def set_doses(doses):
    def edit(prefetch):
        for value in prefetch.values():
            if isinstance(value, dict) and value.get("resourceType") == "Bundle":
                for entry in value.get("entry", []):
                    res = entry["resource"]
                    if res.get("id") in doses:
                        res["dosage"]["dose"]["value"] = doses[res["id"]]
    return edit


def lactating(patient):
    return {"resourceType": "Observation", "id": "qa-lactating", "status": "final",
            "code": {"coding": [{"system": RAIR, "code": "lactating"}]},
            "subject": {"reference": f"Patient/{patient}"},
            "effectiveDateTime": "2026-11-01", "valueBoolean": True}
