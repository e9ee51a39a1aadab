"""Every error path answers a FHIR OperationOutcome; no stack traces; body size bound (413)."""

from __future__ import annotations

import json

import pytest
from conftest import assert_operation_outcome
from toy_plugin import SECRET_IN_EXCEPTION

from cds_hooks.cards import Card, Source
from cds_hooks.errors import PluginError
from cds_hooks.hook_call import build_response
from cds_hooks.service import HookResult

PATIENT_VIEW = {
    "hook": "patient-view",
    "hookInstance": "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea",
    "context": {"userId": "Practitioner/example", "patientId": "1288992"},
}


def test_body_over_the_limit_is_413(make_app):
    client = make_app(MAX_CONTENT_LENGTH=1000).test_client()
    body = dict(PATIENT_VIEW, padding="x" * 2000)
    response = client.post("/cds-services/toy-sleeper", json=body)
    assert response.status_code == 413
    assert response.mimetype == "application/fhir+json"
    assert_operation_outcome(response.get_json(), code="too-long")
    # the feedback endpoint has the same bound
    response = client.post(
        "/cds-services/toy-sleeper/feedback",
        data=b"[" * 2000,
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 413


def test_invalid_plugin_output_is_a_500_without_details(client, caplog):
    response = client.post("/cds-services/toy-broken", json=PATIENT_VIEW)
    assert response.status_code == 500
    issue = assert_operation_outcome(response.get_json(), code="exception")
    assert issue["diagnostics"] == "service 'toy-broken' returned an invalid response"
    assert "Traceback" not in response.get_data(as_text=True)
    assert "cards.0.summary" in caplog.text  # logged for the developers


def test_plugin_exception_is_a_500_without_message_or_trace(client, caplog):
    response = client.post("/cds-services/toy-raiser", json=PATIENT_VIEW)
    assert response.status_code == 500
    text = response.get_data(as_text=True)
    assert_operation_outcome(
        response.get_json(), code="exception", mentions="internal server error"
    )
    assert SECRET_IN_EXCEPTION not in text and "Traceback" not in text
    assert "RuntimeError" in caplog.text
    assert SECRET_IN_EXCEPTION not in caplog.text  # messages may hold patient data


@pytest.mark.parametrize(
    ("method", "path", "status", "code"),
    [
        ("GET", "/nowhere", 404, "not-found"),
        ("GET", "/cds-services/toy-greeter", 405, "not-supported"),
        ("PUT", "/cds-services/toy-greeter/feedback", 405, "not-supported"),
    ],
)
def test_http_errors_are_operation_outcomes(client, method, path, status, code):
    response = client.open(path, method=method)
    assert response.status_code == status
    assert response.mimetype == "application/fhir+json"
    assert_operation_outcome(response.get_json(), code=code)


def _card(**changes):
    return Card(summary="ok", indicator="info", source=Source(label="s"), **changes)


@pytest.mark.parametrize(
    "result",
    [
        None,
        {"cards": []},
        HookResult(cards=[{"summary": "no indicator", "source": {"label": "s"}}]),
        HookResult(cards=[_card(uuid="same"), _card(uuid="same")]),
        HookResult(cards=[_card()], extension={"x": float("nan")}),
        HookResult(cards=[_card()], card_kinds=["not", "a", "dict"]),
    ],
    ids=["None", "dict", "card dict without indicator", "duplicate uuids", "NaN", "kinds list"],
)
def test_build_response_rejects_invalid_results(result):
    with pytest.raises(PluginError):
        build_response(result, "svc")


def test_build_response_keeps_extension_and_system_actions(assert_valid_response):
    from cds_hooks.cards import Action

    card = _card()
    result = HookResult(
        cards=[card],
        system_actions=[
            Action(
                type="update",
                description="d",
                resource={"resourceType": "ServiceRequest", "id": "1"},
            )
        ],
        extension={"org.example": {"empty": []}},
        card_kinds={card.uuid: "k"},
    )
    body, issued = build_response(result, "svc")
    assert_valid_response(body)
    assert body["extension"] == {"org.example": {"empty": []}}
    assert body["systemActions"][0]["type"] == "update"
    assert [(i.uuid, i.kind) for i in issued] == [(card.uuid, "k")]
    assert json.loads(json.dumps(body)) == body
