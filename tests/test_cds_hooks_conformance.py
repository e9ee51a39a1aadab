"""CDS Hooks 2.0 conformance: the rows of the service requirements list not proved elsewhere.

``docs/CONFORMANCE.md`` maps every requirement row of
``../shared/cds-hooks-schemas/requirements/cds-hooks-2.0-service-requirements.csv`` to the code
and the test that proves it; :func:`test_every_requirement_row_is_in_conformance_md` keeps that
table complete. The tests here are named after the rows they prove (``rNN``).
"""

from __future__ import annotations

import csv
import logging
import re
from pathlib import Path

import pytest
from conftest import SHARED_DIR, assert_operation_outcome, http
from pydantic import ValidationError

from cds_hooks.cards import Action, Card, Link, Source, Suggestion
from cds_hooks.errors import ConfigurationError, PluginError
from cds_hooks.hook_call import build_response
from cds_hooks.prefetch import check_template, query_advice
from cds_hooks.registry import check_service
from cds_hooks.service import HookResult, ServiceDefinition

REPO = Path(__file__).resolve().parents[1]
REQUIREMENTS_CSV = (
    SHARED_DIR / "cds-hooks-schemas" / "requirements" / "cds-hooks-2.0-service-requirements.csv"
)
SOURCE = Source(label="Test", url="https://example.org/test")
PATIENT = {"resourceType": "Patient", "id": "p1"}
BASE = "https://ehr.example.org/fhir"


def patient_view(**members):
    body = {
        "hook": "patient-view",
        "hookInstance": "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea",
        "context": {"userId": "Practitioner/example", "patientId": "p1"},
    }
    body.update(members)
    return body


# -- the table itself ------------------------------------------------------------------------


def _requirement_rows():
    if not REQUIREMENTS_CSV.is_file():
        pytest.skip(f"requirements list absent: {REQUIREMENTS_CSV} (../shared not mounted)")
    with REQUIREMENTS_CSV.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.mark.shared
def test_every_requirement_row_is_in_conformance_md():
    rows = _requirement_rows()
    assert len(rows) == 120
    doc = (REPO / "docs" / "CONFORMANCE.md").read_text(encoding="utf-8")
    table = {}
    for line in doc.splitlines():
        match = re.match(
            r"^\|\s*(\d+)\s*\|\s*([A-Z ]+?)\s*\|.*\|\s*([a-z. ]+?)\s*\|[^|]*\|[^|]*\|$", line
        )
        if match:
            table[match.group(1)] = (match.group(2), match.group(3))
    missing = [row["id"] for row in rows if row["id"] not in table]
    assert not missing, f"requirement rows missing from docs/CONFORMANCE.md: {missing}"
    statuses = {"met", "partial", "n.a.", "not met"}
    for row in rows:
        level, status = table[row["id"]]
        assert level == row["conformance"], (row["id"], level)
        assert status in statuses, (row["id"], status)


@pytest.mark.shared
def test_no_applicable_shall_or_should_is_left_not_met():
    _requirement_rows()
    doc = (REPO / "docs" / "CONFORMANCE.md").read_text(encoding="utf-8")
    not_met = [line for line in doc.splitlines() if re.search(r"\|\s*not met\s*\|", line)]
    assert not_met == []


# -- r1: JSON, Content-Type --------------------------------------------------------------------


@pytest.mark.parametrize(
    "content_type",
    ["application/x-www-form-urlencoded", "text/plain", "application/xml", "multipart/form-data"],
)
def test_r1_a_body_declared_as_not_json_is_415(client, content_type):
    response = client.post(
        "/cds-services/toy-greeter", data=b'{"hook": "patient-view"}', content_type=content_type
    )
    assert response.status_code == 415
    assert response.mimetype == "application/fhir+json"
    assert_operation_outcome(response.get_json(), code="not-supported", mentions=content_type)


def test_r1_feedback_declared_as_not_json_is_415(client):
    response = client.post(
        "/cds-services/toy-greeter/feedback", data=b"{}", content_type="text/plain"
    )
    assert response.status_code == 415


@pytest.mark.parametrize(
    "content_type",
    [None, "application/json", "application/json; charset=utf-8", "application/fhir+json"],
)
def test_r1_json_media_types_and_no_content_type_are_accepted(client, content_type):
    import json

    kwargs = {"content_type": content_type} if content_type else {}
    body = patient_view(prefetch={"patient": PATIENT, "conditions": None})
    response = client.post("/cds-services/toy-greeter", data=json.dumps(body), **kwargs)
    assert response.status_code == 200, response.get_json()
    assert response.mimetype == "application/json"


# -- r3: no null or empty members ----------------------------------------------------------------


def _walk(value, path="$"):
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _walk(item, f"{path}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _walk(item, f"{path}[{index}]")
    yield path, value


def test_r3_responses_have_no_null_or_empty_members(client):
    body = patient_view(prefetch={"patient": PATIENT, "conditions": None})
    response = client.post("/cds-services/toy-greeter", json=body)
    bad = [
        p
        for p, v in _walk({k: v for k, v in response.get_json().items() if k != "extension"})
        if v is None or v in ("", [], {}) and p != "$.cards"
    ]
    assert bad == []
    discovery = client.get("/cds-services").get_json()
    bad = [p for p, v in _walk(discovery) if v is None or v in ("", [], {})]
    assert bad == []


def test_r3_r8_blank_title_is_left_out_of_discovery_with_a_warning(caplog):
    definition = ServiceDefinition(id="x", hook="patient-view", title=" ", description="d")
    with caplog.at_level(logging.WARNING, logger="rair_cds.registry"):
        check_service(_Service(definition), "plugin")
    assert "title" in caplog.text
    assert "title" not in definition.to_discovery_json()


# -- r7-r12, r214: discovery members and extension --------------------------------------------


class _Service:
    def __init__(self, definition):
        self.definition = definition

    def evaluate(self, call):
        return HookResult()


def test_r214_discovery_entry_carries_an_extension_object():
    definition = ServiceDefinition(
        id="x",
        hook="patient-view",
        title="t",
        description="d",
        extension={"org.example.flags": {"beta": True}},
    )
    check_service(_Service(definition), "plugin")
    assert definition.to_discovery_json()["extension"] == {"org.example.flags": {"beta": True}}


@pytest.mark.parametrize("extension", [{}, ["org.example"], "org.example"])
def test_r214_discovery_extension_must_be_a_non_empty_object(extension):
    definition = ServiceDefinition(
        id="x", hook="patient-view", title="t", description="d", extension=extension
    )
    with pytest.raises(ConfigurationError, match="extension"):
        check_service(_Service(definition), "plugin")


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
        check_service(_Service(definition), "plugin")


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
        check_service(_Service(definition), "plugin")
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


# -- r80-r147: cards, suggestions, actions, links --------------------------------------------


def test_r80_r119_every_card_and_suggestion_has_a_string_uuid(client):
    body = patient_view(prefetch={"patient": PATIENT, "conditions": None})
    cards = client.post("/cds-services/toy-greeter", json=body).get_json()["cards"]
    assert cards
    for card in cards:
        assert isinstance(card["uuid"], str) and card["uuid"]
        for suggestion in card.get("suggestions", []):
            assert isinstance(suggestion["uuid"], str) and suggestion["uuid"]


def test_r80_duplicate_suggestion_uuids_are_a_plugin_error():
    cards = [
        Card(
            summary="a",
            indicator="info",
            source=SOURCE,
            selectionBehavior="any",
            suggestions=[Suggestion(label="x", uuid="same")],
        ),
        Card(
            summary="b",
            indicator="info",
            source=SOURCE,
            selectionBehavior="any",
            suggestions=[Suggestion(label="y", uuid="same")],
        ),
    ]
    with pytest.raises(PluginError):
        build_response(HookResult(cards=cards), "svc")


@pytest.mark.parametrize("url", ["/relative/path", "example.org/x", "mailto", " https://x.org/"])
def test_r107_r111_r139_urls_must_be_absolute(url):
    with pytest.raises(ValidationError):
        Source(label="l", url=url)
    with pytest.raises(ValidationError):
        Source(label="l", icon=url)
    with pytest.raises(ValidationError):
        Link(label="l", url=url)


def test_r122_several_recommended_suggestions_need_selection_behavior_any():
    suggestions = [
        Suggestion(label="a", isRecommended=True),
        Suggestion(label="b", isRecommended=True),
    ]
    with pytest.raises(ValidationError, match="selectionBehavior 'any'"):
        Card(
            summary="s",
            indicator="info",
            source=SOURCE,
            suggestions=suggestions,
            selectionBehavior="at-most-one",
        )
    Card(
        summary="s",
        indicator="info",
        source=SOURCE,
        suggestions=suggestions,
        selectionBehavior="any",
    )


@pytest.mark.parametrize(
    "action",
    [
        {"type": "delete", "description": "d", "resourceId": ["ServiceRequest/1"]},
        {"type": "delete", "description": "d", "resourceId": "not a reference"},
        {"type": "create", "description": " ", "resource": PATIENT},
    ],
)
def test_r128_r135_action_description_and_resource_id(action):
    with pytest.raises(ValidationError):
        Action(**action)


def test_r133_r134_spec_delete_example_is_accepted(shared_example):
    action = Action(**shared_example("spec-2.0.1/action-delete.json"))
    assert action.to_json()["resourceId"] == "ServiceRequest/procedure-request-1"


@pytest.mark.parametrize("label", ["", "   "])
def test_r117_r138_labels_must_not_be_blank(label):
    with pytest.raises(ValidationError):
        Suggestion(label=label)
    with pytest.raises(ValidationError):
        Link(label=label, url="https://example.org")


# -- r13, r74, r77: status codes over HTTP --------------------------------------------------------


@pytest.mark.e2e
def test_r13_r74_status_codes_over_http(app, live_server):
    base = live_server(app)
    status, headers, body = http("GET", f"{base}/cds-services")
    assert status == 200 and isinstance(body["services"], list)
    status, _, body = http(
        "POST",
        f"{base}/cds-services/toy-orders",
        {
            "hook": "order-sign",
            "hookInstance": "i",
            "context": {
                "userId": "Practitioner/1",
                "patientId": "p1",
                "draftOrders": {"resourceType": "Bundle", "entry": []},
            },
            "prefetch": {"orders": None},
        },
    )
    assert status == 200 and body["cards"]
    status, _, body = http(
        "POST",
        f"{base}/cds-services/toy-greeter",
        raw=b"<xml/>",
        headers={"Content-Type": "application/xml"},
    )
    assert status == 415 and body["resourceType"] == "OperationOutcome"


def test_r77_no_guidance_is_200_with_an_empty_cards_array():
    body, issued = build_response(HookResult(), "svc")
    assert body == {"cards": []} and issued == []


# -- r83-r100, r115, r131, r141-r147, r216-r220: the card model refuses what the spec forbids ----

_OK = {"summary": "s", "indicator": "info", "source": {"label": "l"}}


@pytest.mark.parametrize(
    ("rows", "card"),
    [
        ("r83", {**_OK, "summary": "x" * 140}),
        ("r87", {k: v for k, v in _OK.items() if k != "indicator"}),
        ("r88", {**_OK, "indicator": "hard-stop"}),
        ("r90", {k: v for k, v in _OK.items() if k != "source"}),
        ("r105", {**_OK, "source": {"label": ""}}),
        ("r93 r96", {**_OK, "suggestions": [{"label": "a"}]}),
        ("r95", {**_OK, "suggestions": [{"label": "a"}], "selectionBehavior": "all"}),
        ("r100 r136 r219", {**_OK, "overrideReasons": [{"system": "s", "code": "c"}]}),
        ("r115 r217", {**_OK, "source": {"label": "l", "topic": {"code": "c"}}}),
        ("r216 r218", {**_OK, "source": {"label": "l", "topic": {"system": "s", "code": " "}}}),
        ("r141 r142", {**_OK, "links": [{"label": "l", "url": "https://x.org", "type": "web"}]}),
        (
            "r146 r147",
            {**_OK, "links": [{"label": "l", "url": "https://x.org", "appContext": "a"}]},
        ),
        (
            "r121",
            {
                **_OK,
                "selectionBehavior": "any",
                "suggestions": [{"label": "a", "isRecommended": "maybe"}],
            },
        ),
        (
            "r131",
            {
                **_OK,
                "selectionBehavior": "any",
                "suggestions": [
                    {"label": "a", "actions": [{"type": "create", "description": "d"}]}
                ],
            },
        ),
        (
            "r130",
            {
                **_OK,
                "selectionBehavior": "any",
                "suggestions": [
                    {
                        "label": "a",
                        "actions": [
                            {"type": "update", "description": "d", "resource": {"id": "1"}}
                        ],
                    }
                ],
            },
        ),
    ],
)
def test_card_model_refuses_what_the_spec_forbids(rows, card):
    with pytest.raises(ValidationError):
        Card.model_validate(card)


def test_r220_topic_display_is_optional_and_smart_links_take_app_context():
    card = Card.model_validate(
        {
            **_OK,
            "source": {"label": "l", "topic": {"system": "s", "code": "c"}},
            "links": [
                {"label": "l", "url": "https://x.org/launch", "type": "smart", "appContext": "ctx"}
            ],
        }
    )
    assert card.to_json()["links"][0]["appContext"] == "ctx"


@pytest.mark.parametrize("name", ["action-create.json", "action-update.json"])
def test_r127_r132_spec_action_examples_are_accepted(shared_example, name):
    example = shared_example(f"spec-2.0.1/{name}")
    assert Action(**example).to_json() == example


def test_every_test_named_in_conformance_md_exists():
    doc = (REPO / "docs" / "CONFORMANCE.md").read_text(encoding="utf-8")
    named = set(re.findall(r"\b([a-z_]+)::(test_[a-z0-9_]+)", doc))
    assert named
    missing = []
    for short, test in sorted(named):
        source = (REPO / "tests" / f"test_cds_hooks_{short}.py").read_text(encoding="utf-8")
        if f"def {test}(" not in source:
            missing.append(f"{short}::{test}")
    assert missing == []
