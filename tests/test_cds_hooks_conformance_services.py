"""CDS Hooks 2.0 conformance, services: discovery members and extensions (r7-r12, r214), prefetch
tokens (r55-r59), fhirAuthorization and 412 (r54, r61). See docs/CONFORMANCE.md."""

from __future__ import annotations

import logging
import re

import pytest
from conformance_helpers import BASE, PATIENT, SOURCE, ServiceStub, patient_view
from conftest import assert_operation_outcome
from pydantic import ValidationError

from cds_hooks.cards import Card, Suggestion
from cds_hooks.errors import ConfigurationError
from cds_hooks.hook_call import build_response
from cds_hooks.prefetch import check_template, query_advice
from cds_hooks.registry import check_service
from cds_hooks.service import HookResult, ServiceDefinition

# -- r7-r12, r214: discovery members and extension --------------------------------------------


def test_r214_discovery_entry_carries_an_extension_object():
    definition = ServiceDefinition(
        id="x",
        hook="patient-view",
        title="t",
        description="d",
        extension={"org.example.flags": {"beta": True}},
    )
    check_service(ServiceStub(definition), "plugin")
    assert definition.to_discovery_json()["extension"] == {"org.example.flags": {"beta": True}}


@pytest.mark.parametrize("extension", [{}, ["org.example"], "org.example"])
def test_r214_discovery_extension_must_be_a_non_empty_object(extension):
    definition = ServiceDefinition(
        id="x", hook="patient-view", title="t", description="d", extension=extension
    )
    with pytest.raises(ConfigurationError, match="extension"):
        check_service(ServiceStub(definition), "plugin")


def test_r214_card_level_extensions_are_objects_and_are_sent():
    card = Card(
        summary="s",
        indicator="info",
        source=SOURCE,
        suggestions=[Suggestion(label="l", extension={"org.example.s": 1})],
        selectionBehavior="any",
        extension={"org.example.c": {"x": 1}},
    )
    body, _ = build_response(HookResult(cards=[card]), "svc")
    assert body["cards"][0]["extension"] == {"org.example.c": {"x": 1}}
    assert body["cards"][0]["suggestions"][0]["extension"] == {"org.example.s": 1}
    with pytest.raises(ValidationError):
        Card(summary="s", indicator="info", source=SOURCE, extension=["not", "an", "object"])


# -- r55-r59: prefetch tokens ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "template", ["Patient/{{context.patientId", "Patient/context.patientId}}", "X?a={{{{y}}"]
)
def test_r55_tokens_are_delimited_by_double_braces(template):
    with pytest.raises(ConfigurationError):
        check_template(template)


@pytest.mark.parametrize(
    ("hook", "template"),
    [
        ("order-sign", "Bundle?x={{context.draftOrders}}"),
        ("order-select", "MedicationRequest?_id={{context.selections}}"),
    ],
)
def test_r57_non_primitive_context_fields_are_refused_at_start_up(hook, template):
    with pytest.raises(ConfigurationError, match="not a primitive"):
        check_template(template, hook)
    definition = ServiceDefinition(
        id="x", hook=hook, title="t", description="d", prefetch={"k": template}
    )
    with pytest.raises(ConfigurationError, match="not a primitive"):
        check_service(ServiceStub(definition), "plugin")


@pytest.mark.parametrize(
    ("token", "user", "expected"),
    [
        ("userPractitionerId", "Practitioner/pr1", "pr1"),
        ("userPractitionerRoleId", "PractitionerRole/role1", "role1"),
        ("userPatientId", "Patient/p1", "p1"),
        ("userRelatedPersonId", "RelatedPerson/rp1", "rp1"),
    ],
)
def test_r56_user_tokens_take_the_id_of_user_id(token, user, expected):
    from cds_hooks.prefetch import render_template

    check_template(f"X/{{{{{token}}}}}", "patient-view")
    assert render_template(f"X/{{{{{token}}}}}", {"userId": user}) == f"X/{expected}"


def test_r58_templates_of_shipped_services_keep_to_the_recommended_query_subset(make_app):
    for plugin in (["toy_plugin"], ["plugin.thyroid"]):
        app = make_app(PLUGINS=plugin)
        for definition in app.extensions["rair_cds"].registry.definitions():
            for key, template in definition.prefetch.items():
                assert query_advice(template) == [], (definition.id, key, template)


def test_r58_templates_outside_the_subset_are_logged_at_start_up(caplog):
    definition = ServiceDefinition(
        id="x",
        hook="patient-view",
        title="t",
        description="d",
        prefetch={"obs": "Observation?patient={{context.patientId}}&code:text=tsh&_include=x"},
    )
    with caplog.at_level(logging.WARNING, logger="rair_cds.registry"):
        check_service(ServiceStub(definition), "plugin")
    assert "modifier ':text'" in caplog.text and "_include" in caplog.text


# -- r54, r61: fhirAuthorization and 412 ---------------------------------------------------------


@pytest.fixture
def fhir():
    import responses

    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


def test_r61_no_fhir_call_without_an_access_token_by_default(make_app, fhir):
    fhir.get(f"{BASE}/Patient/p1", json=PATIENT)
    app = make_app(FHIR_REQUIRE_AUTHORIZATION=True)
    response = app.test_client().post(
        "/cds-services/toy-greeter", json=patient_view(fhirServer=BASE)
    )
    assert response.status_code == 412
    assert_operation_outcome(response.get_json(), code="processing", mentions="fhirAuthorization")
    assert len(fhir.calls) == 0


def test_r61_the_default_setting_requires_the_token():
    from cds_hooks.settings import DEFAULTS

    assert DEFAULTS["FHIR_REQUIRE_AUTHORIZATION"] is True


def test_r61_with_a_token_every_fhir_call_carries_it(make_app, fhir):
    fhir.get(f"{BASE}/Patient/p1", json=PATIENT)
    fhir.get(
        re.compile(re.escape(BASE) + r"/Condition\?.*"),
        json={"resourceType": "Bundle", "type": "searchset"},
    )
    app = make_app(FHIR_REQUIRE_AUTHORIZATION=True)
    authorization = {
        "access_token": "tok-123",
        "token_type": "Bearer",
        "expires_in": 300,
        "scope": "patient/*.read",
        "subject": "cds-service",
    }
    response = app.test_client().post(
        "/cds-services/toy-greeter",
        json=patient_view(fhirServer=BASE, fhirAuthorization=authorization),
    )
    assert response.status_code == 200
    assert len(fhir.calls) == 2
    assert all(c.request.headers["Authorization"] == "Bearer tok-123" for c in fhir.calls)


def test_r54_412_body_has_the_shape_of_the_spec_example(client, shared_example):
    example = shared_example("spec-3.0.0-ballot/error-412-operationoutcome-body.json")
    response = client.post("/cds-services/toy-greeter", json=patient_view())
    assert response.status_code == 412
    body = response.get_json()
    issue = assert_operation_outcome(body, code=example["issue"][0]["code"])
    assert issue["severity"] == example["issue"][0]["severity"]
    assert "patient" in issue["diagnostics"] and issue["expression"] == ["prefetch.patient"]
