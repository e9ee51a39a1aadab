"""The fixed corpus of interesting hook calls, replayed on every run (issue 13 item 4).

test_cds_hooks_fuzz.py explores random inputs outside CI; what it (or a reviewer) found worth
keeping lives here, so every run, CI included, sends it: ids and texts with NUL and other
control characters in every resource type the plugin reads (a Condition with id "\\u0000" used to
reach the rule engine and answer 500), lone surrogates, numbers beyond 64 bits, wrong JSON types
where FHIR has objects, a next-page link off the allowlist. The same properties as the fuzz
test: 200 with a schema-valid body or a 4xx OperationOutcome, never a 500, no token leaked.
"""

from __future__ import annotations

import json
import re
import uuid

import pytest
import responses
from fuzz_helpers import (
    EHR_TOKEN,
    EVIL,
    FHIR,
    PUBLIC,
    build_secure_app,
    captured_logs,
    check_answer,
    no_secret_in_logs,
    sign,
)

SUBJECT = {"reference": "Patient/1288992"}
RAIR = "https://rair-cds.org/fhir/CodeSystem/concepts"


def _cc(system: str, code: str, text: str = "") -> dict:
    return {"coding": [{"system": system, "code": code}], "text": text}


def every_type(bad: str) -> list[dict]:
    """One resource of each type the plugin reads, ``bad`` in its id and its texts."""
    return [
        {"resourceType": "Condition", "id": bad, "subject": SUBJECT,
         "code": _cc("http://hl7.org/fhir/sid/icd-10-cm", "C73", "papillary" + bad)},
        {"resourceType": "Observation", "id": "o" + bad, "status": "final", "subject": SUBJECT,
         "code": _cc(RAIR, "rai-wbs", bad), "effectiveDateTime": "2024-01-15",
         "valueCodeableConcept": _cc(RAIR, "uptake-no-lesions", bad)},
        {"resourceType": "DiagnosticReport", "id": "d" + bad, "status": "final",
         "subject": SUBJECT, "code": _cc(RAIR, "rai-wbs"), "conclusion": bad},
        {"resourceType": "Procedure", "id": "p" + bad, "status": "completed", "subject": SUBJECT,
         "code": _cc(RAIR, "iodinated-contrast", bad), "performedDateTime": "2023-12-01"},
        {"resourceType": "MedicationAdministration", "id": "ma" + bad, "status": "completed",
         "subject": SUBJECT, "effectiveDateTime": "2024-01-10",
         "medicationCodeableConcept": _cc("http://snomed.info/sct", "111160004", bad)},
        {"resourceType": "MedicationStatement", "id": "ms" + bad, "status": "completed",
         "subject": SUBJECT, "medicationCodeableConcept": {"text": "lenvatinib" + bad}},
        {"resourceType": "MedicationRequest", "id": "mr" + bad, "status": "active",
         "intent": "order", "subject": SUBJECT, "medicationCodeableConcept": {"text": bad}},
        {"resourceType": "MolecularSequence", "id": "s" + bad, "type": "dna",
         "coordinateSystem": 0, "patient": SUBJECT, "referenceSeq": {"genomeBuild": bad}},
    ]


def bundle(resources: list) -> dict:
    return {"resourceType": "Bundle", "type": "searchset",
            "entry": [{"resource": r} for r in resources]}


PATIENT = {"resourceType": "Patient", "id": "1288992", "birthDate": "1960-01-01"}
CORPUS = {
    "NUL id of a Condition (issue 13)": {
        "patient": PATIENT, "conditions": bundle([{"resourceType": "Condition", "id": "\u0000",
                                                   "subject": SUBJECT,
                                                   "code": _cc("http://snomed.info/sct",
                                                               "363478007")}])},
    "NUL in every resource type": {"patient": {**PATIENT, "name": [{"text": "\u0000"}]},
                                   "observations": bundle(every_type("\u0000"))},
    "NUL in the Patient id": {"patient": {**PATIENT, "id": "1288992\u0000"}},
    "C0 controls and DEL in every resource type": {
        "patient": PATIENT, "observations": bundle(every_type("\u0001\u001f\u007f"))},
    "a lone surrogate in every resource type": {
        "patient": PATIENT, "observations": bundle(every_type("\ud800"))},
    "numbers beyond 64 bits and non-finite-looking floats": {
        "patient": {**PATIENT, "birthDate": 2**70}, "observations": bundle([
            {"resourceType": "Observation", "id": "tg", "status": "final", "subject": SUBJECT,
             "code": _cc("http://loinc.org", "3013-0"), "effectiveDateTime": "2025-01-01",
             "valueQuantity": {"value": 2**70, "unit": "ng/mL"}},
            {"resourceType": "Observation", "id": "tg2", "status": "final", "subject": SUBJECT,
             "code": _cc("http://loinc.org", "3013-0"), "effectiveDateTime": "2025-02-01",
             "valueQuantity": {"value": 1.7e308, "unit": "ng/mL"}}])},
    "JSON types where FHIR has objects": {
        "patient": PATIENT, "observations": bundle([
            {"resourceType": "Observation", "id": "x", "code": [], "status": 3,
             "subject": "Patient/1288992", "valueQuantity": "5", "component": {"a": 1}},
            {"resourceType": "Condition", "id": ["c"], "code": "C73"},
            {"resourceType": None}, {}])},
    "dates that are not dates": {
        "patient": {**PATIENT, "birthDate": "1960-02-30"}, "observations": bundle([
            {"resourceType": "Observation", "id": "d", "status": "final", "subject": SUBJECT,
             "code": _cc(RAIR, "rai-wbs"), "effectiveDateTime": "9999-99-99T99:99:99Z"}])},
    "a next-page link off the allowlist": {
        "patient": PATIENT, "observations": {
            **bundle([]), "link": [{"relation": "next", "url": EVIL + "/Observation?page=2"}]}},
}

# The protocol layer refuses a body with a lone surrogate (400) and the FHIR token off the
# allowlist (412, the key cannot be had); everything else is read and answered (a Patient whose
# id is not context.patientId is read again from the FHIR server).
EXPECTED = {"a lone surrogate in every resource type": 400,
            "a next-page link off the allowlist": 412}


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    from cds_hooks import create_app

    def make_app(**config):
        return create_app({"TESTING": True, "EVALUATION_DATE": "2026-11-27",
                           "FEEDBACK_DB": str(tmp_path_factory.mktemp("corpus") / "fb.sqlite3"),
                           **config})

    return build_secure_app(make_app)


@pytest.mark.parametrize("name", list(CORPUS))
def test_the_corpus_never_fails_or_leaks(app, assert_valid_response, name):
    definition = next(d for d in app.extensions["rair_cds"].registry.definitions()
                      if d.hook == "patient-view")
    body = {"hook": "patient-view", "hookInstance": str(uuid.uuid4()),
            "context": {"userId": "Practitioner/example", "patientId": "1288992"},
            "prefetch": CORPUS[name], "fhirServer": FHIR,
            "fhirAuthorization": {"access_token": EHR_TOKEN, "token_type": "Bearer",
                                  "expires_in": 300, "scope": "user/*.read",
                                  "subject": "rair-cds"}}
    path = f"/cds-services/{definition.id}"
    token = sign(path)
    with captured_logs() as logs, responses.RequestsMock(
            assert_all_requests_are_fired=False) as mock:
        mock.add(responses.GET, re.compile(r".*"), json=bundle([]))
        response = app.test_client().post(
            path, data=json.dumps(body), content_type="application/json",
            base_url=PUBLIC, headers={"Authorization": f"Bearer {token}"})
    answer = check_answer(response, assert_valid_response, (EHR_TOKEN, token))
    no_secret_in_logs(logs, EHR_TOKEN, token)
    assert response.status_code == EXPECTED.get(name, 200), answer
