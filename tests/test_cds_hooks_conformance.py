"""CDS Hooks 2.0 conformance: the rows of the service requirements list not proved elsewhere.

``docs/CONFORMANCE.md`` maps every requirement row of
``../shared/cds-hooks-schemas/requirements/cds-hooks-2.0-service-requirements.csv`` to the code
and the test that proves it; :func:`test_every_requirement_row_is_in_conformance_md` keeps that
table complete. The tests are named after the rows they prove (``rNN``): JSON and status codes
here, discovery and prefetch in ``test_cds_hooks_conformance_services.py``, cards in
``test_cds_hooks_conformance_cards.py``."""

from __future__ import annotations

import csv
import logging
import re

import pytest
from conformance_helpers import PATIENT, REPO, REQUIREMENTS_CSV, ServiceStub, patient_view
from conftest import assert_operation_outcome, http

from cds_hooks.hook_call import build_response
from cds_hooks.registry import check_service
from cds_hooks.service import HookResult, ServiceDefinition

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
        check_service(ServiceStub(definition), "plugin")
    assert "title" in caplog.text
    assert "title" not in definition.to_discovery_json()


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
