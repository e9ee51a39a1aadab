"""One JSON audit line per call on ``rair_cds.audit``: content, no token, no patient id."""

from __future__ import annotations

import json
import logging

import pytest
import responses

BASE = "https://ehr.example.org/fhir"
TOKEN = "tok-very-secret-987"


def body(**changes):
    value = {
        "hook": "patient-view",
        "hookInstance": "0f8b2c1e-aaaa-4bbb-8ccc-123456789abc",
        "fhirServer": BASE,
        "fhirAuthorization": {
            "access_token": TOKEN,
            "token_type": "Bearer",
            "expires_in": 60,
            "scope": "user/*.read",
            "subject": "svc",
        },
        "context": {"userId": "Practitioner/example", "patientId": "pat-4711"},
        "prefetch": {"patient": {"resourceType": "Patient", "id": "pat-4711"}},
    }
    value.update(changes)
    return value


def audit_lines(caplog):
    return [json.loads(r.getMessage()) for r in caplog.records if r.name == "rair_cds.audit"]


@pytest.fixture
def fhir():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


def test_hook_call_audit_line(client, caplog, fhir):
    caplog.set_level(logging.INFO, logger="rair_cds.audit")
    fhir.get(f"{BASE}/Condition?patient=pat-4711&category=problem-list-item", status=500)
    response = client.post("/cds-services/toy-greeter", json=body())
    assert response.status_code == 200
    (line,) = audit_lines(caplog)
    assert line["event"] == "hook_call"
    assert line["service"] == "toy-greeter"
    assert line["hook"] == "patient-view"
    assert line["hookInstance"] == "0f8b2c1e-aaaa-4bbb-8ccc-123456789abc"
    assert line["status"] == 200
    assert line["cards"] == 1
    assert line["prefetch"] == {"patient": "supplied", "conditions": "missing"}
    assert isinstance(line["duration_ms"], float)
    assert "patient" not in line
    assert TOKEN not in caplog.text
    assert "pat-4711" not in caplog.text


def test_prefetch_states_fetched_and_null(client, caplog, fhir):
    caplog.set_level(logging.INFO, logger="rair_cds.audit")
    fhir.get(f"{BASE}/Patient/pat-4711", json={"resourceType": "Patient", "id": "pat-4711"})
    client.post("/cds-services/toy-greeter", json=body(prefetch={"conditions": None}))
    (line,) = audit_lines(caplog)
    assert line["prefetch"] == {"patient": "fetched", "conditions": "null"}
    assert TOKEN not in caplog.text


def test_failed_calls_are_audited_too(client, caplog, fhir):
    caplog.set_level(logging.INFO, logger="rair_cds.audit")
    fhir.get(f"{BASE}/Patient/pat-4711", status=401)
    fhir.get(
        f"{BASE}/Condition?patient=pat-4711&category=problem-list-item",
        json={"resourceType": "Bundle", "type": "searchset"},
    )
    client.post("/cds-services/toy-greeter", json=body(prefetch={}))
    client.post("/cds-services/toy-greeter", json=body(hook="order-sign"))
    client.post("/cds-services/unknown", json=body())
    lines = audit_lines(caplog)
    assert [(x["status"], x.get("error")) for x in lines] == [
        (412, "processing"),
        (400, "invalid"),
        (404, "not-found"),
    ]
    assert lines[0]["prefetch"] == {"patient": "missing", "conditions": "fetched"}
    assert TOKEN not in caplog.text
    assert "pat-4711" not in caplog.text


def test_patient_id_only_when_configured(make_app, caplog):
    caplog.set_level(logging.INFO, logger="rair_cds.audit")
    client = make_app(AUDIT_INCLUDE_PATIENT=True).test_client()
    client.post("/cds-services/toy-greeter", json=body(prefetch={"patient": None}))
    (line,) = audit_lines(caplog)
    assert line["patient"] == "pat-4711"
    assert TOKEN not in caplog.text


def test_feedback_is_audited(client, caplog):
    caplog.set_level(logging.INFO, logger="rair_cds.audit")
    item = {"card": "c", "outcome": "overridden", "outcomeTimestamp": "2024-01-01T00:00:00Z"}
    client.post("/cds-services/toy-greeter/feedback", json={"feedback": [item]})
    client.post("/cds-services/toy-greeter/feedback", json={"feedback": [item]})
    lines = audit_lines(caplog)
    assert [
        (x["event"], x["status"], x["feedback_items"], x["feedback_stored"]) for x in lines
    ] == [("feedback", 200, 1, 1), ("feedback", 200, 1, 0)]
