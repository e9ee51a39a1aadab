"""Order hooks end to end: the official order examples, the order scenarios, repeats and feedback.

* The official order-select / order-sign examples (``../shared/cds-hooks-schemas``, read in
  place; skipped where absent) carry no prefetch: the EHR's FHIR server is mocked with
  ``responses``, or the answer is 412 when there is no ``fhirServer``.
* ``fhir_samples/thyroid/orders/index.json`` lists one scenario per rule of issue 4; each is run
  through the real reader, rules and waitress server on a loopback port.
* Every 200 body is checked against ``derived-json-schema/service-response.schema.json``.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import re
import sys
import types
from pathlib import Path

import pytest
import responses
from conftest import assert_operation_outcome, http

from plugin.thyroid.assessment.model import Assessment, TherapyOption
from plugin.thyroid.clinical_model import PatientRecord
from plugin.thyroid.facts.derivation import derive
from plugin.thyroid.orders.service import ORDER_SELECT_ID, ORDER_SIGN_ID, create_order_services
from plugin.thyroid.pipeline import Evaluation

SAMPLES = Path(__file__).resolve().parents[1] / "fhir_samples" / "thyroid" / "orders"
INDEX = json.loads((SAMPLES / "index.json").read_text(encoding="utf-8"))
SCENARIOS = {s["name"]: s for s in INDEX["scenarios"]}
SHIM = "rair_orders_stub_plugin"
# the FHIR servers named by the official examples (reads elsewhere are refused by the guard)
ALLOWLIST = ["https://fhir.example.org/r4", "https://fhir.example.org/stu3",
             "https://fhir.example.org/dstu2", "https://ehr.example.org/fhir"]


def stub_assessment(status="YES"):
    """A fixed assessment (no rules needed): refractory by JS-ii, lenvatinib preferred."""

    def assessor(resources, as_of, notes=(), unavailable=()):
        assessment = Assessment(
            as_of, rair_status=status, rair_criteria=["JS-ii"] if status == "YES" else [],
            progression="RECENT_PD", action="SYSTEMIC_FIRST_LINE",
            on_label=[TherapyOption("lenvatinib", preferred=True)],
            missing_data=[f"not retrieved: {k}" for k in unavailable],
        )
        record = PatientRecord()
        return Evaluation(record, derive(record, as_of), assessment)

    return assessor


@pytest.fixture
def stub_app(make_app, monkeypatch):
    """An app whose only services are the order services, with the stub assessor."""
    module = types.ModuleType(SHIM)
    module.create_services = lambda config: create_order_services(
        config, assessor=stub_assessment())
    monkeypatch.setitem(sys.modules, SHIM, module)
    return make_app(PLUGINS=[SHIM], FHIR_SERVER_ALLOWLIST=ALLOWLIST)


@pytest.fixture
def fhir():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


def mock_empty_fhir_server(mock, base, patient_id):
    """The patient exists; every search answers an empty searchset."""
    mock.get(f"{base}/Patient/{patient_id}",
             json={"resourceType": "Patient", "id": patient_id, "birthDate": "1960-01-01"})
    mock.get(re.compile(re.escape(base) + r"/[A-Za-z]+\?.*"),
             json={"resourceType": "Bundle", "type": "searchset", "entry": []})


def i131_order_select(patient="p1", mci=150):
    order = {
        "resourceType": "MedicationRequest", "id": "i131-1", "status": "draft", "intent": "order",
        "medicationCodeableConcept": {"coding": [{"system": "http://snomed.info/sct",
                                                  "code": "111160004"}]},
        "subject": {"reference": f"Patient/{patient}"},
        "dosageInstruction": [{"doseAndRate": [{"doseQuantity": {
            "value": mci, "unit": "mCi", "system": "http://unitsofmeasure.org", "code": "mCi"}}]}],
    }
    return {
        "hook": "order-select", "hookInstance": "5d0b5b5c-8b39-4a0d-9c5c-1a2b3c4d5e6f",
        "context": {"userId": "Practitioner/example", "patientId": patient,
                    "selections": ["MedicationRequest/i131-1"],
                    "draftOrders": {"resourceType": "Bundle", "entry": [{"resource": order}]}},
        "prefetch": {"patient": {"resourceType": "Patient", "id": patient},
                     "conditions": None, "observations": None},
    }


def as_sign(body):
    body = copy.deepcopy(body)
    body["hook"] = "order-sign"
    body["context"].pop("selections", None)
    return body


# -- discovery and the official examples ---------------------------------------------------------


def test_discovery_lists_both_order_services_with_the_patient_view_prefetch(stub_app,
                                                                              assert_valid_response):
    from plugin.thyroid.knowledge.loader import load_knowledge
    from plugin.thyroid.prefetch import prefetch_templates

    body = stub_app.test_client().get("/cds-services").get_json()
    assert_valid_response(body, "discovery-response")
    services = {s["id"]: s for s in body["services"]}
    assert services[ORDER_SELECT_ID]["hook"] == "order-select"
    assert services[ORDER_SIGN_ID]["hook"] == "order-sign"
    assert services[ORDER_SIGN_ID]["prefetch"] == prefetch_templates(load_knowledge())


@pytest.mark.shared
@pytest.mark.parametrize(
    ("example", "service"),
    [("assembled/request-order-select-R4.json", ORDER_SELECT_ID),
     ("assembled/request-order-sign-R4.json", ORDER_SIGN_ID),
     # STU3 request, but its draft orders use names R4 kept (MedicationRequest, NutritionOrder)
     ("assembled/request-order-select-STU3.json", ORDER_SELECT_ID),
     ("assembled/request-order-sign-STU3.json", ORDER_SIGN_ID)],
)
def test_official_order_examples_fetch_from_the_fhir_server_and_answer(
    stub_app, fhir, shared_example, assert_valid_response, example, service
):
    body = shared_example(example)
    mock_empty_fhir_server(fhir, body["fhirServer"], body["context"]["patientId"])
    response = stub_app.test_client().post(f"/cds-services/{service}", json=body)
    assert response.status_code == 200, response.get_json()
    result = assert_valid_response(response.get_json())
    assert result["cards"] == []  # amoxicillin and a pureed diet concern no rule
    assert result["extension"]["rair-cds"]["assessment"]["rairStatus"] == "YES"
    assert result["extension"]["rair-cds"]["orderReview"] == []
    assert fhir.calls, "the prefetch was fetched from fhirServer"


@pytest.mark.shared
def test_official_order_example_without_fhir_server_is_412(stub_app, fhir, shared_example):
    body = shared_example("assembled/request-order-sign-R4.json")
    del body["fhirServer"]
    response = stub_app.test_client().post(f"/cds-services/{ORDER_SIGN_ID}", json=body)
    assert response.status_code == 412
    assert_operation_outcome(response.get_json(), mentions="prefetch key")
    assert len(fhir.calls) == 0


@pytest.mark.shared
@pytest.mark.parametrize(
    ("example", "service", "hook"),
    [("hooks-library-1.0.1/order-select-context-DSTU2.json", ORDER_SELECT_ID, "order-select"),
     ("hooks-library-1.0.1/order-sign-context-DSTU2.json", ORDER_SIGN_ID, "order-sign")],
)
def test_official_dstu2_contexts_are_refused_with_a_clear_400(stub_app, fhir, shared_example,
                                                               example, service, hook):
    body = {"hook": hook, "hookInstance": "0f7f3d9e-2b1c-4e0a-8a44-6a7c9d0e1f23",
            "fhirServer": "https://fhir.example.org/dstu2",
            "context": shared_example(example)["context"]}
    mock_empty_fhir_server(fhir, body["fhirServer"], body["context"]["patientId"])
    response = stub_app.test_client().post(f"/cds-services/{service}", json=body)
    assert response.status_code == 400
    assert_operation_outcome(response.get_json(), code="invalid",
                             mentions="MedicationOrder/smart-MedicationOrder-103")


@pytest.mark.shared
def test_official_paginated_order_sign_example(stub_app, fhir, shared_example,
                                              assert_valid_response):
    """3.0-ballot example: its 'orders' key is not ours; ours are fetched from fhirServer."""
    body = shared_example("spec-3.0.0-ballot/request-order-sign-paginated-prefetch.json")
    mock_empty_fhir_server(fhir, body["fhirServer"], body["context"]["patientId"])
    response = stub_app.test_client().post(f"/cds-services/{ORDER_SIGN_ID}", json=body)
    assert response.status_code == 200, response.get_json()
    assert assert_valid_response(response.get_json())["cards"] == []


# -- repeats, feedback, card kinds (stub assessment, live server) --------------------------------


def test_a_card_shown_at_order_select_is_not_repeated_at_order_sign(stub_app, live_server,
                                                                    assert_valid_response):
    base = live_server(stub_app)
    select = i131_order_select()
    status, _, first = http("POST", f"{base}/cds-services/{ORDER_SELECT_ID}", select)
    assert status == 200
    assert [c["indicator"] for c in assert_valid_response(first)["cards"]] == ["warning"]

    status, _, signed = http("POST", f"{base}/cds-services/{ORDER_SIGN_ID}", as_sign(select))
    assert status == 200
    assert assert_valid_response(signed)["cards"] == []
    assert signed["extension"]["rair-cds"]["suppressedCards"] == [
        {"order": "MedicationRequest/i131-1", "kind": "order-i131-rair",
         "reason": "shown at order-select"}]

    # another dose is another order content: the card shows again
    changed = as_sign(i131_order_select(mci=200))
    status, _, again = http("POST", f"{base}/cds-services/{ORDER_SIGN_ID}", changed)
    assert [c["indicator"] for c in assert_valid_response(again)["cards"]] == ["warning"]
    # and another patient with the same order is another key
    status, _, other = http("POST", f"{base}/cds-services/{ORDER_SIGN_ID}",
                            as_sign(i131_order_select(patient="p2")))
    assert len(other["cards"]) == 1


def test_without_order_select_order_sign_shows_the_card(stub_app):
    response = stub_app.test_client().post(f"/cds-services/{ORDER_SIGN_ID}",
                                           json=as_sign(i131_order_select()))
    assert len(response.get_json()["cards"]) == 1


def test_critical_cards_can_be_repeated_at_sign_by_configuration(make_app, monkeypatch):
    module = types.ModuleType(SHIM)
    module.create_services = lambda config: create_order_services(
        config, assessor=stub_assessment())
    monkeypatch.setitem(sys.modules, SHIM, module)
    client = make_app(PLUGINS=[SHIM], ORDER_I131_CRITICAL="true",
                      ORDER_REPEAT_CRITICAL_AT_SIGN="true").test_client()
    select = i131_order_select()
    assert client.post(f"/cds-services/{ORDER_SELECT_ID}", json=select).get_json()["cards"]
    signed = client.post(f"/cds-services/{ORDER_SIGN_ID}", json=as_sign(select)).get_json()
    assert [c["indicator"] for c in signed["cards"]] == ["critical"]


def test_overrides_come_back_through_feedback_and_are_reported_by_card_kind(stub_app):
    client = stub_app.test_client()
    card = client.post(f"/cds-services/{ORDER_SELECT_ID}",
                       json=i131_order_select()).get_json()["cards"][0]
    reason = next(r for r in card["overrideReasons"] if r["code"] == "clinical-trial")
    assert reason["display"] == "Patient enrolled in a clinical trial"
    feedback = {"feedback": [{
        "card": card["uuid"], "outcome": "overridden",
        "overrideReason": {"reason": {k: reason[k] for k in ("system", "code", "display")},
                           "userComment": "NCT-redifferentiation protocol"},
        "outcomeTimestamp": "2026-11-27T10:00:00Z"}]}
    response = client.post(f"/cds-services/{ORDER_SELECT_ID}/feedback", json=feedback)
    assert response.status_code == 200, response.get_json()
    rows = stub_app.extensions["rair_cds"].feedback_store.report()
    assert [(r.service_id, r.kind, r.overridden) for r in rows] == [
        (ORDER_SELECT_ID, "order-i131-rair", 1)]


def test_order_select_with_a_selection_missing_from_draft_orders_notes_it(stub_app):
    body = i131_order_select()
    body["context"]["selections"].append("ServiceRequest/gone")
    result = stub_app.test_client().post(f"/cds-services/{ORDER_SELECT_ID}", json=body).get_json()
    assert result["extension"]["rair-cds"]["notes"] == [
        "selection ServiceRequest/gone is not in draftOrders; not evaluated"]


def test_a_draft_medication_request_in_the_prefetch_is_not_therapy_history(make_app, monkeypatch):
    seen = {}

    def assessor(resources, as_of, notes=(), unavailable=()):
        seen["ids"] = sorted(f"{r['resourceType']}/{r.get('id')}" for r in resources)
        return stub_assessment()(resources, as_of, notes, unavailable)

    module = types.ModuleType(SHIM)
    module.create_services = lambda config: create_order_services(config, assessor=assessor)
    monkeypatch.setitem(sys.modules, SHIM, module)
    body = as_sign(i131_order_select())
    body["prefetch"]["medicationRequests"] = {"resourceType": "Bundle", "entry": [
        {"resource": {"resourceType": "MedicationRequest", "id": "i131-1", "status": "active"}},
        {"resource": {"resourceType": "MedicationRequest", "id": "other-draft", "status": "draft"}},
        {"resource": {"resourceType": "MedicationRequest", "id": "old", "status": "completed"}}]}
    make_app(PLUGINS=[SHIM]).test_client().post(f"/cds-services/{ORDER_SIGN_ID}", json=body)
    assert seen["ids"] == ["MedicationRequest/old", "Patient/p1"]


# -- the order scenarios (real reader, rules and server) -----------------------------------------


def _check_card(card, kind, expected):
    assert card["indicator"] == expected["indicator"], (kind, card["summary"])
    assert kind == expected["kind"]
    for text in expected.get("summaryIncludes", []):
        assert text in card["summary"], (text, card["summary"])
    for text in expected.get("detailIncludes", []):
        assert text in card["detail"], (text, card["detail"])
    if "actions" in expected:
        got = [[a["type"], a.get("resourceId") or a["resource"]["resourceType"]]
               for s in card.get("suggestions", []) for a in s.get("actions", [])]
        assert got == expected["actions"]
    if card["indicator"] != "info":
        assert card["overrideReasons"], "warning and critical cards carry override reasons"


@pytest.mark.e2e
@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_order_scenario_end_to_end(make_app, live_server, assert_valid_response, name):
    scenario = SCENARIOS[name]
    request = json.loads((SAMPLES / scenario["request"]).read_text(encoding="utf-8"))
    expected = json.loads((SAMPLES / scenario["expected"]).read_text(encoding="utf-8"))
    app = make_app(PLUGINS=["plugin.thyroid"], EVALUATION_DATE=INDEX["evaluationDate"],
                   **scenario.get("config", {}))
    service = ORDER_SELECT_ID if request["hook"] == "order-select" else ORDER_SIGN_ID
    status, _, body = http("POST", f"{live_server(app)}/cds-services/{service}", request)
    assert status == expected["status"], body
    if status != 200:
        assert_operation_outcome(body, mentions=expected["mentions"])
        return
    assert_valid_response(body)
    extension = body["extension"]["rair-cds"]
    assert extension["assessment"]["evaluationDate"] == INDEX["evaluationDate"]
    kinds = [k for order in extension["orderReview"] for k in order["cards"]]
    assert len(body["cards"]) == len(expected["cards"]), [c["summary"] for c in body["cards"]]
    assert sorted(kinds) == sorted(c["kind"] for c in expected["cards"])
    # cards come critical first; expected cards are matched in that order
    rank = {"critical": 0, "warning": 1, "info": 2}
    ordered_expected = sorted(expected["cards"], key=lambda c: rank[c["indicator"]])
    for card, exp in zip(body["cards"], ordered_expected, strict=True):
        _check_card(card, exp["kind"], exp)
    # cards a rule held back (a continuation of current therapy): order and kind, any reason
    got = [{k: s[k] for k in ("order", "kind")} for s in extension.get("suppressedCards", [])]
    for item in expected.get("suppressed", []):
        assert item in got, (item, got)


def test_the_order_hooks_carry_the_same_assessment_as_patient_view(make_app):
    scenario = SCENARIOS["i131-refractory"]
    request = json.loads((SAMPLES / scenario["request"]).read_text(encoding="utf-8"))
    client = make_app(PLUGINS=["plugin.thyroid"], EVALUATION_DATE=INDEX["evaluationDate"]
                      ).test_client()
    view = {"hook": "patient-view", "hookInstance": request["hookInstance"],
            "context": {"userId": "Practitioner/example",
                        "patientId": request["context"]["patientId"]},
            "prefetch": request["prefetch"]}
    pv = client.post("/cds-services/rair-patient-view", json=view).get_json()
    order = client.post(f"/cds-services/{ORDER_SIGN_ID}", json=request).get_json()
    assert order["extension"]["rair-cds"]["assessment"] == pv["extension"]["rair-cds"]["assessment"]


def test_every_scenario_has_a_request_and_an_expectation():
    rules = {s["rule"] for s in INDEX["scenarios"]}
    assert {"1", "2", "3", "4", "5"} <= rules
    for scenario in INDEX["scenarios"]:
        assert (SAMPLES / scenario["request"]).is_file()
        assert (SAMPLES / scenario["expected"]).is_file()
    assert dt.date.fromisoformat(INDEX["evaluationDate"])
