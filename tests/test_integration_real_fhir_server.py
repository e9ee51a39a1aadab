"""Prefetch from a real FHIR server: a patient-view call with no prefetch (only ``fhirServer`` and
``fhirAuthorization``) gives the same assessment as the same call with the full prefetch.

Every other test mocks the EHR's FHIR server with ``responses``; here the service's FHIR reads go
over loopback HTTP to a FHIR R4 server written by others: Medplum's FHIR REST router
(``@medplum/fhir-router``, the one Medplum's own server uses) over its in-memory repository, whose
searches are matched by ``@medplum/core`` against the R4 SearchParameter definitions.
``tests/realfhir/server.mjs`` only carries HTTP to that router and checks the bearer token.
``scripts/test.sh`` installs it (``npm ci`` in ``tests/realfhir``); where Node.js or that install
is absent, these tests skip and say so.

Every sample bundle (``fhir_samples/thyroid/bundles``) is loaded through the server's own API
(a FHIR ``batch`` of ``PUT`` entries). Known limits of that server, found here:

* reference search parameters match only the ``Type/id`` form: ``Observation?patient=rair-13``
  (the bare-id form, valid FHIR) finds nothing, while ``Observation?patient=Patient/rair-13``
  finds the patient's resources. This test found that; the thyroid templates now send the typed
  form, which every conformant server accepts, and a test below keeps the bare form out;
* ``_count`` limits a page but no ``link[next]`` is sent, so the service's page-following is not
  exercised here (the samples have at most a dozen resources a search).
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
from conftest import http
from realfhir_server import RealFhirServer, skip_reason

from plugin.thyroid.knowledge.loader import load_knowledge
from plugin.thyroid.prefetch import prefetch_templates
from plugin.thyroid.samples import evaluation_date, sample_index

pytestmark = [pytest.mark.e2e, pytest.mark.realfhir]

SAMPLES = sample_index()
SERVICE_URL = "/cds-services/rair-patient-view"
#: the shipped templates' bare-id reference searches, in the Type/id form this server matches
BARE_ID = "patient={{context.patientId}}"
TYPED_ID = "patient=Patient/{{context.patientId}}"


@pytest.fixture(scope="module")
def fhir_server():
    """The real FHIR server with every sample bundle loaded through its batch interaction."""
    reason = skip_reason()
    if reason:
        pytest.skip(reason)
    server = RealFhirServer()
    try:
        for sample in SAMPLES:
            bundle = json.loads(Path(sample["bundle"]).read_text(encoding="utf-8"))
            resources = [entry["resource"] for entry in bundle["entry"]]
            batch = {"resourceType": "Bundle", "type": "batch", "entry": [
                {"resource": r,
                 "request": {"method": "PUT", "url": f"{r['resourceType']}/{r['id']}"}}
                for r in resources
            ]}
            status, _, body = server.call("POST", "", batch)
            assert status == 200, body
            codes = [entry["response"]["status"] for entry in body["entry"]]
            assert all(code.startswith(("200", "201")) for code in codes), (sample["name"], codes)
        yield server
    finally:
        server.stop()


@pytest.fixture
def cds_service(make_app, live_server, fhir_server):
    """Our service on waitress, with its shipped prefetch templates, allowed to read from the
    real FHIR server."""

    def start() -> str:
        app = make_app(
            PLUGINS=["plugin.thyroid"],
            AUTH_MODE="off",  # loopback, sample data only
            EVALUATION_DATE=evaluation_date(),
            FHIR_SERVER_ALLOWLIST=[fhir_server.base_url],
            ALLOW_HTTP_FHIR=True,
            FHIR_REQUIRE_AUTHORIZATION=True,  # the default: fetch only with the EHR's token
        )
        return live_server(app)

    return start


def test_the_shipped_templates_search_by_typed_reference():
    """The bare ``patient=<id>`` form finds nothing on this server (see the module docstring)."""
    searches = [t for k, t in prefetch_templates(load_knowledge()).items() if "?" in t]
    assert searches and all(TYPED_ID in t and BARE_ID not in t for t in searches)


def without_prefetch(request: dict, fhir_server: RealFhirServer, token: str | None = None) -> dict:
    """The same call as an EHR that sends no prefetch: fhirServer + fhirAuthorization only."""
    fetched = {key: value for key, value in request.items() if key != "prefetch"}
    fetched["hookInstance"] = str(uuid.uuid4())
    fetched["fhirServer"] = fhir_server.base_url
    fetched["fhirAuthorization"] = {
        "access_token": token or fhir_server.token,
        "token_type": "Bearer",
        "expires_in": 300,
        "scope": "patient/*.read",
        "subject": "rair-cds",
    }
    return fetched


def assessments(base: str, sample: dict, fhir_server: RealFhirServer) -> tuple[dict, dict]:
    """(assessment with the full prefetch, assessment with none) for one sample."""
    request = json.loads(Path(sample["request"]).read_text(encoding="utf-8"))
    assert set(request["prefetch"]) == set(prefetch_templates(load_knowledge()))
    status, _, supplied = http("POST", base + SERVICE_URL, request)
    assert status == 200, supplied
    status, _, fetched = http("POST", base + SERVICE_URL, without_prefetch(request, fhir_server))
    assert status == 200, fetched
    return (supplied["extension"]["rair-cds"]["assessment"],
            fetched["extension"]["rair-cds"]["assessment"])


def test_the_server_answers_the_reads_and_searches_the_templates_make(fhir_server):
    """A read by id and a ``patient`` search per template, as searchset Bundles (Type/id form)."""
    sample = SAMPLES[0]
    patient_id = sample["patientId"]
    bundle = json.loads(Path(sample["bundle"]).read_text(encoding="utf-8"))
    status, _, patient = fhir_server.call("GET", f"Patient/{patient_id}")
    assert (status, patient["resourceType"], patient["id"]) == (200, "Patient", patient_id)
    for key, template in prefetch_templates(load_knowledge()).items():
        if key == "patient":
            continue
        query = template.replace("{{context.patientId}}", patient_id)
        status, _, found = fhir_server.call("GET", query)
        assert status == 200, (query, found)
        assert (found["resourceType"], found["type"]) == ("Bundle", "searchset"), query
        want = sorted(e["resource"]["id"] for e in bundle["entry"]
                      if e["resource"]["resourceType"] == query.split("?")[0])
        assert sorted(e["resource"]["id"] for e in found.get("entry", [])) == want, query
    status, _, refused = fhir_server.call("GET", f"Patient/{patient_id}", token="wrong")
    assert status == 401, refused


@pytest.mark.parametrize("sample", SAMPLES, ids=[s["name"] for s in SAMPLES])
def test_no_prefetch_gives_the_assessment_of_the_full_prefetch(sample, cds_service, fhir_server):
    base = cds_service()
    supplied, fetched = assessments(base, sample, fhir_server)
    assert fetched["missingData"] == supplied["missingData"]
    assert fetched == supplied


def test_a_token_the_server_refuses_leaves_the_needed_data_unavailable(cds_service, fhir_server):
    """The service sends fhirAuthorization's token; a token the server refuses gives 412."""
    base = cds_service()
    request = json.loads(Path(SAMPLES[0]["request"]).read_text(encoding="utf-8"))
    status, _, body = http("POST", base + SERVICE_URL,
                           without_prefetch(request, fhir_server, token="not-the-token"))
    assert status == 412, body



def test_the_observation_search_leaves_out_labs_no_rule_reads(cds_service, fhir_server):
    """Issue 11: with 300 routine labs on the server, the shipped (code-filtered) Observation
    search returns none of them and the call without prefetch still gives the assessment."""
    from large_record import routine_labs

    sample = SAMPLES[-1]
    patient_id = sample["patientId"]
    labs = routine_labs(patient_id, 300)
    for lab in labs:
        lab["id"] = f"{patient_id}-{lab['id']}"
    batch = {"resourceType": "Bundle", "type": "batch", "entry": [
        {"resource": lab, "request": {"method": "PUT", "url": f"Observation/{lab['id']}"}}
        for lab in labs]}
    status, _, body = fhir_server.call("POST", "", batch)
    assert status == 200, body
    lab_ids = {lab["id"] for lab in labs}
    # the server itself does hold them: an unfiltered search finds them
    status, _, everything = fhir_server.call(
        "GET", f"Observation?patient=Patient/{patient_id}&_count=1000")
    assert status == 200
    assert lab_ids <= {e["resource"]["id"] for e in everything.get("entry", [])}
    template = prefetch_templates(load_knowledge())["observations"]
    query = template.replace("{{context.patientId}}", patient_id)
    status, _, found = fhir_server.call("GET", query)
    assert status == 200, found
    assert not lab_ids & {e["resource"]["id"] for e in found.get("entry", [])}
    supplied, fetched = assessments(cds_service(), sample, fhir_server)
    assert fetched == supplied
