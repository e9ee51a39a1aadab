"""Validation of hook requests: 400 with an OperationOutcome naming the problem; 404; leniency."""

from __future__ import annotations

import copy

import pytest
from conftest import assert_operation_outcome

PATIENT = {"resourceType": "Patient", "id": "1288992"}


def patient_view(**changes):
    body = {
        "hook": "patient-view",
        "hookInstance": "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea",
        "fhirServer": "https://ehr.example.org/fhir",
        "fhirAuthorization": {
            "access_token": "tok-123",
            "token_type": "Bearer",
            "expires_in": 300,
            "scope": "user/Patient.read",
            "subject": "cds-service",
        },
        "context": {"userId": "Practitioner/example", "patientId": "1288992"},
        "prefetch": {"patient": PATIENT, "conditions": None},
    }
    body.update(changes)
    return body


def without(body, *path):
    body = copy.deepcopy(body)
    target = body
    for part in path[:-1]:
        target = target[part]
    del target[path[-1]]
    return body


BASE = patient_view()

INVALID = [
    ("hook missing", without(BASE, "hook"), "hook"),
    ("wrong hook", patient_view(hook="order-sign"), "hook"),
    ("hookInstance missing", without(BASE, "hookInstance"), "hookInstance"),
    ("hookInstance not a string", patient_view(hookInstance=5), "hookInstance"),
    ("context missing", without(BASE, "context"), "context"),
    ("context not an object", patient_view(context=[]), "context"),
    ("patientId missing", without(BASE, "context", "patientId"), "context.patientId"),
    (
        "patientId not an id",
        patient_view(context={"userId": "Practitioner/1", "patientId": "a b"}),
        "context.patientId",
    ),
    ("userId missing", without(BASE, "context", "userId"), "context.userId"),
    (
        "userId not a user",
        patient_view(context={"userId": "Device/1", "patientId": "1"}),
        "context.userId",
    ),
    ("fhirServer not a URL", patient_view(fhirServer="ehr.example.org"), "fhirServer"),
    ("fhirAuthorization without fhirServer", without(BASE, "fhirServer"), "fhirServer"),
    (
        "access_token missing",
        without(BASE, "fhirAuthorization", "access_token"),
        "fhirAuthorization.access_token",
    ),
    (
        "token_type not Bearer",
        patient_view(fhirAuthorization={**BASE["fhirAuthorization"], "token_type": "MAC"}),
        "fhirAuthorization.token_type",
    ),
    (
        "expires_in missing",
        without(BASE, "fhirAuthorization", "expires_in"),
        "fhirAuthorization.expires_in",
    ),
    (
        "expires_in a string",
        patient_view(fhirAuthorization={**BASE["fhirAuthorization"], "expires_in": "300"}),
        "fhirAuthorization.expires_in",
    ),
    ("scope missing", without(BASE, "fhirAuthorization", "scope"), "fhirAuthorization.scope"),
    ("subject missing", without(BASE, "fhirAuthorization", "subject"), "fhirAuthorization.subject"),
    ("prefetch not an object", patient_view(prefetch=[]), "prefetch"),
    (
        "prefetch value not a resource",
        patient_view(prefetch={"patient": "Patient/1"}),
        "prefetch.patient",
    ),
    ("extension not an object", patient_view(extension=[1]), "extension"),
    ("body an array", [BASE], "JSON object"),
]


@pytest.mark.parametrize(("body", "named"), [c[1:] for c in INVALID], ids=[c[0] for c in INVALID])
def test_invalid_request_is_400_naming_the_member(client, body, named):
    response = client.post("/cds-services/toy-greeter", json=body)
    assert response.status_code == 400
    assert response.mimetype == "application/fhir+json"
    assert_operation_outcome(response.get_json(), code="invalid", mentions=named)


def test_token_is_never_echoed_in_errors(client):
    body = patient_view(fhirAuthorization={**BASE["fhirAuthorization"], "token_type": "bearer"})
    response = client.post("/cds-services/toy-greeter", json=body)
    assert response.status_code == 400
    assert b"tok-123" not in response.data


@pytest.mark.parametrize("raw", [b"{not json", b"", b"\xff\xfe", b'{"hook": '])
def test_bad_json_is_400(client, raw):
    response = client.post(
        "/cds-services/toy-greeter", data=raw, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert_operation_outcome(response.get_json(), code="invalid", mentions="not valid JSON")


def test_unknown_service_is_404(client):
    response = client.post("/cds-services/no-such-service", json=BASE)
    assert response.status_code == 404
    assert_operation_outcome(response.get_json(), code="not-found", mentions="no-such-service")


def test_unknown_members_and_extension_are_tolerated(client, assert_valid_response):
    body = patient_view(
        extension={"com.example.timestamp": "2017-11-27T22:13:25Z"},
        somethingNew={"x": 1},
    )
    body["context"]["encounterId"] = "89284"
    body["context"]["futureField"] = True
    response = client.post("/cds-services/toy-greeter", json=body)
    assert response.status_code == 200
    seen = assert_valid_response(response.get_json())["extension"]["org.example.toy"]
    assert seen["requestExtension"] == {"com.example.timestamp": "2017-11-27T22:13:25Z"}


def test_order_select_needs_selections_and_draft_orders(client):
    context = {
        "userId": "PractitionerRole/123",
        "patientId": "1288992",
        "selections": ["MedicationRequest/rx-1"],
        "draftOrders": {"resourceType": "Bundle", "entry": []},
    }
    body = {
        "hook": "order-select",
        "hookInstance": "x-1",
        "context": context,
        "prefetch": {"orders": None},
    }
    assert client.post("/cds-services/toy-select", json=body).status_code == 200
    for member, bad in [
        ("selections", []),
        ("selections", "MedicationRequest/rx-1"),
        ("selections", [1]),
        ("draftOrders", {"resourceType": "List"}),
        ("draftOrders", None),
    ]:
        broken = copy.deepcopy(body)
        broken["context"][member] = bad
        response = client.post("/cds-services/toy-select", json=broken)
        assert response.status_code == 400, (member, bad)
        assert_operation_outcome(response.get_json(), mentions=f"context.{member}")


def test_order_sign_needs_draft_orders(client):
    body = {
        "hook": "order-sign",
        "hookInstance": "x-2",
        "context": {"userId": "Practitioner/1", "patientId": "1"},
        "prefetch": {"orders": None},
    }
    response = client.post("/cds-services/toy-orders", json=body)
    assert response.status_code == 400
    assert_operation_outcome(response.get_json(), mentions="context.draftOrders")


# -- the official examples (read in place from ../shared) -----------------------------------


def test_spec_request_patient_view_example(client, shared_example, assert_valid_response):
    body = shared_example("spec-2.0.1/request-patient-view.json")
    assert_valid_response(body, "service-request")
    body["prefetch"]["patient"] = {"resourceType": "Patient", "id": "1288992"}
    response = client.post("/cds-services/toy-greeter", json=body)
    assert response.status_code == 200, response.get_json()
    assert_valid_response(response.get_json())


def test_spec_request_with_extension_lacks_patient_id(client, shared_example):
    """Known defect in the spec example: patient-view without patientId is answered 400."""
    body = shared_example("spec-2.0.1/request-with-extension.json")
    response = client.post("/cds-services/toy-greeter", json=body)
    assert response.status_code == 400
    assert_operation_outcome(response.get_json(), code="invalid", mentions="context.patientId")


@pytest.mark.parametrize(
    ("example", "service"),
    [
        ("assembled/request-order-select-R4.json", "toy-select"),
        ("assembled/request-order-select-STU3.json", "toy-select"),
        ("assembled/request-order-sign-R4.json", "toy-orders"),
        ("assembled/request-order-sign-STU3.json", "toy-orders"),
    ],
)
def test_assembled_order_requests_validate(
    client, shared_example, assert_valid_response, example, service
):
    body = shared_example(example)
    assert_valid_response(body, "service-request")
    body["prefetch"] = {"orders": {"resourceType": "Bundle", "type": "searchset", "entry": []}}
    response = client.post(f"/cds-services/{service}", json=body)
    assert response.status_code == 200, response.get_json()
    result = assert_valid_response(response.get_json())
    drafts = len(body["context"]["draftOrders"]["entry"])
    assert result["cards"][0]["summary"] == f"{drafts} draft order(s)"


@pytest.mark.parametrize(
    "changes",
    [
        {"fhirServer": "http://[::1"},
        {"prefetch": {"patient": {"resourceType": "Bundle", "link": 5}}},
        {
            "prefetch": {
                "conditions": {
                    "resourceType": "Bundle",
                    "entry": 7,
                    "link": [{"relation": "next", "url": "https://ehr.example.org/fhir/x"}],
                }
            }
        },
        {"context": {"userId": "Practitioner/1", "patientId": "1", "encounterId": ["e"]}},
    ],
    ids=["bad IPv6 URL", "link not a list", "entry not a list", "encounterId a list"],
)
def test_malformed_members_never_cause_a_500(client, changes):
    body = patient_view(**changes)
    response = client.post("/cds-services/toy-greeter", json=body)
    assert response.status_code in (200, 400, 412), response.get_json()
