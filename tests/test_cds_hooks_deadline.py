"""The hard per-call deadline: past it the answer is ``{"cards": []}`` (200), and it is logged."""

from __future__ import annotations

import json
import logging
import time

import requests
import responses

PATIENT_VIEW = {
    "hook": "patient-view",
    "hookInstance": "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea",
    "context": {"userId": "Practitioner/example", "patientId": "1288992"},
}


def test_slow_plugin_answers_no_cards_at_the_deadline(make_app, caplog, assert_valid_response):
    caplog.set_level(logging.INFO)
    client = make_app(DEADLINE_SECONDS=0.3, TOY_SLEEP_SECONDS=1.5).test_client()
    started = time.monotonic()
    response = client.post("/cds-services/toy-sleeper", json=PATIENT_VIEW)
    elapsed = time.monotonic() - started
    assert response.status_code == 200
    assert assert_valid_response(response.get_json()) == {"cards": []}
    assert elapsed < 1.2
    audit = [json.loads(r.getMessage()) for r in caplog.records if r.name == "rair_cds.audit"]
    assert audit[0]["deadline_exceeded"] is True and audit[0]["cards"] == 0
    assert "passed its deadline" in caplog.text


def test_fast_plugin_within_the_deadline_answers_its_cards(make_app):
    client = make_app(DEADLINE_SECONDS=5, TOY_SLEEP_SECONDS=0.05).test_client()
    response = client.post("/cds-services/toy-sleeper", json=PATIENT_VIEW)
    assert response.get_json()["cards"][0]["summary"] == "Woke up"


def test_fhir_timeout_is_clipped_to_the_deadline(make_app):
    """A FHIR read cut short by the deadline yields no cards (200), not a 412."""
    seen_timeouts = []

    def slow(request):
        seen_timeouts.append(request.req_kwargs["timeout"])
        raise requests.exceptions.ReadTimeout()

    body = dict(
        PATIENT_VIEW, fhirServer="https://ehr.example.org/fhir", prefetch={"conditions": None}
    )
    with responses.RequestsMock() as fhir:
        fhir.add_callback(
            responses.GET, "https://ehr.example.org/fhir/Patient/1288992", callback=slow
        )
        client = make_app(DEADLINE_SECONDS=0.5, FHIR_TIMEOUT_SECONDS=30).test_client()
        response = client.post("/cds-services/toy-greeter", json=body)
    assert response.status_code == 200
    assert response.get_json() == {"cards": []}
    assert 0 < seen_timeouts[0] <= 0.5


def test_fhir_timeout_within_the_deadline_is_412(make_app):
    body = dict(
        PATIENT_VIEW, fhirServer="https://ehr.example.org/fhir", prefetch={"conditions": None}
    )
    with responses.RequestsMock() as fhir:
        fhir.get(
            "https://ehr.example.org/fhir/Patient/1288992",
            body=requests.exceptions.ConnectTimeout(),
        )
        client = make_app(DEADLINE_SECONDS=10, FHIR_TIMEOUT_SECONDS=2).test_client()
        response = client.post("/cds-services/toy-greeter", json=body)
        assert fhir.calls[0].request.req_kwargs["timeout"] == 2
    assert response.status_code == 412
