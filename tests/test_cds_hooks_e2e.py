"""End to end: the real waitress server on a loopback port, called over HTTP with urllib."""

from __future__ import annotations

import pytest
import responses
from conftest import assert_operation_outcome, http

pytestmark = pytest.mark.e2e

PATIENT = {"resourceType": "Patient", "id": "1288992"}


@pytest.fixture
def base_url(app, live_server):
    return live_server(app)


def test_discovery_and_health_over_http(base_url, assert_valid_response):
    status, headers, body = http("GET", f"{base_url}/cds-services")
    assert status == 200 and headers["Content-Type"].startswith("application/json")
    assert_valid_response(body, "discovery-response")
    assert http("GET", f"{base_url}/healthz")[2]["status"] == "ok"


def test_spec_patient_view_request_over_http(base_url, shared_example, assert_valid_response):
    body = shared_example("spec-2.0.1/request-patient-view.json")
    body["prefetch"] = {"patient": PATIENT, "conditions": None}
    status, _, result = http("POST", f"{base_url}/cds-services/toy-greeter", body)
    assert status == 200
    assert assert_valid_response(result)["cards"][0]["summary"] == "Hello 1288992"


def test_fetching_prefetch_over_http_with_mocked_ehr(
    base_url, shared_example, assert_valid_response
):
    body = shared_example("spec-3.0.0-ballot/request-order-sign-paginated-prefetch.json")
    page2 = "https://ehr.example.org/fhir/MedicationRequest?patient=1288992&_count=1&_page=2"
    with responses.RequestsMock() as fhir:  # patches requests in the server thread too
        fhir.get(
            page2,
            json={
                "resourceType": "Bundle",
                "type": "searchset",
                "entry": [{"resource": {"resourceType": "MedicationRequest", "id": "rx-2"}}],
            },
        )
        status, _, result = http("POST", f"{base_url}/cds-services/toy-orders", body)
    assert status == 200
    assert_valid_response(result)
    assert result["extension"]["org.example.toy"]["prefetch"]["orders"]["entries"] == 2


def test_errors_over_http_are_operation_outcomes(base_url, shared_example):
    status, headers, body = http(
        "POST",
        f"{base_url}/cds-services/toy-greeter",
        shared_example("spec-2.0.1/request-with-extension.json"),
    )
    assert status == 400 and headers["Content-Type"] == "application/fhir+json"
    assert_operation_outcome(body, code="invalid", mentions="patientId")
    status, _, body = http("POST", f"{base_url}/cds-services/missing", {"hook": "x"})
    assert status == 404
    status, _, body = http("POST", f"{base_url}/cds-services/toy-greeter", raw=b"{oops")
    assert status == 400
    assert_operation_outcome(body, mentions="not valid JSON")


def test_body_too_large_over_http(make_app, live_server):
    base = live_server(make_app(MAX_CONTENT_LENGTH=2048))
    status, _, body = http("POST", f"{base}/cds-services/toy-greeter", raw=b"x" * 10000)
    assert status == 413
    assert_operation_outcome(body, code="too-long")


def test_cors_preflight_over_http(base_url):
    status, headers, _ = http(
        "OPTIONS",
        f"{base_url}/cds-services/toy-greeter",
        headers={
            "Origin": "https://sandbox.cds-hooks.org",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,content-type",
        },
    )
    assert status == 200
    assert headers["Access-Control-Allow-Origin"] == "*"
    assert "Authorization" in headers["Access-Control-Allow-Headers"]


def test_card_then_feedback_then_report_over_http(app, base_url, assert_valid_response, capsys):
    body = {
        "hook": "patient-view",
        "hookInstance": "h-e2e",
        "context": {"userId": "Practitioner/1", "patientId": "1288992"},
        "prefetch": {"patient": PATIENT},
    }
    _, _, result = http("POST", f"{base_url}/cds-services/toy-greeter", body)
    card = assert_valid_response(result)["cards"][0]
    feedback = {
        "feedback": [
            {
                "card": card["uuid"],
                "outcome": "overridden",
                "overrideReason": {
                    "reason": {"system": "https://example.org/toy/reasons", "code": "not-now"}
                },
                "outcomeTimestamp": "2024-01-15T10:00:00Z",
            }
        ]
    }
    assert_valid_response(feedback, "feedback-request")
    status, _, _ = http("POST", f"{base_url}/cds-services/toy-greeter/feedback", feedback)
    assert status == 200

    from cds_hooks.cli import main

    assert main(["feedback-report", "--db", app.config["FEEDBACK_DB"]]) == 0
    out = capsys.readouterr().out
    assert "toy-greeter" in out and "greeting" in out and "100.0" in out
