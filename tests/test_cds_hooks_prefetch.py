"""The prefetch engine: supplied, null, OperationOutcome, missing -> fetched, paging, failures.

The EHR's FHIR server is mocked with ``responses``. ``toy-greeter`` needs ``patient`` and can
do without ``conditions``; its response extension shows what the plugin received.
"""

from __future__ import annotations

import threading

import pytest
import requests
import responses
from conftest import assert_operation_outcome

from cds_hooks.errors import ConfigurationError
from cds_hooks.prefetch import _Unresolvable, check_template, render_template

BASE = "https://ehr.example.org/fhir"
PATIENT_URL = f"{BASE}/Patient/1288992"
CONDITIONS_URL = f"{BASE}/Condition?patient=1288992&category=problem-list-item"
PATIENT = {"resourceType": "Patient", "id": "1288992"}
TOKEN = "tok-secret-123"


def request_body(prefetch=None, **changes):
    body = {
        "hook": "patient-view",
        "hookInstance": "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea",
        "fhirServer": BASE,
        "fhirAuthorization": {
            "access_token": TOKEN,
            "token_type": "Bearer",
            "expires_in": 300,
            "scope": "user/Patient.read user/Condition.read",
            "subject": "cds-service",
        },
        "context": {"userId": "Practitioner/example", "patientId": "1288992"},
    }
    if prefetch is not None:
        body["prefetch"] = prefetch
    body.update(changes)
    return body


def searchset(entries, next_url=None, self_url=None):
    bundle = {
        "resourceType": "Bundle",
        "type": "searchset",
        "entry": [{"resource": {"resourceType": "Condition", "id": str(i)}} for i in entries],
    }
    links = []
    if self_url:
        links.append({"relation": "self", "url": self_url})
    if next_url:
        links.append({"relation": "next", "url": next_url})
    if links:
        bundle["link"] = links
    return bundle


@pytest.fixture
def fhir():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


def seen(response):
    assert response.status_code == 200, response.get_json()
    return response.get_json()["extension"]["org.example.toy"]


def test_supplied_prefetch_is_used_without_any_fetch(client, fhir, assert_valid_response):
    body = request_body({"patient": PATIENT, "conditions": searchset([1, 2])})
    response = client.post("/cds-services/toy-greeter", json=body)
    assert_valid_response(response.get_json())
    assert seen(response)["prefetch"] == {
        "patient": {"resourceType": "Patient", "id": "1288992"},
        "conditions": {"entries": 2, "links": []},
    }
    assert len(fhir.calls) == 0


def test_null_means_no_data_not_an_error(client, fhir, assert_valid_response):
    body = request_body({"patient": None, "conditions": None})
    response = client.post("/cds-services/toy-greeter", json=body)
    result = assert_valid_response(response.get_json())
    assert seen(response)["prefetch"] == {"patient": None, "conditions": None}
    assert seen(response)["missing"] == []
    assert result["cards"][0]["summary"] == "Hello nobody"
    assert len(fhir.calls) == 0


def test_missing_keys_are_fetched_with_the_bearer_token(client, fhir, assert_valid_response):
    fhir.get(PATIENT_URL, json=PATIENT)
    fhir.get(CONDITIONS_URL, json=searchset([1]))
    response = client.post("/cds-services/toy-greeter", json=request_body())
    assert_valid_response(response.get_json())
    assert seen(response)["prefetch"]["patient"] == {"resourceType": "Patient", "id": "1288992"}
    assert seen(response)["prefetch"]["conditions"]["entries"] == 1
    assert len(fhir.calls) == 2
    for call in fhir.calls:
        assert call.request.headers["Authorization"] == f"Bearer {TOKEN}"
        assert call.request.headers["Accept"] == "application/fhir+json"


def test_keys_are_fetched_concurrently(make_app, fhir):
    # each mocked read waits for the other: run one after the other, the barrier would break
    barrier = threading.Barrier(2, timeout=3)

    def meet(payload):
        def callback(request):
            barrier.wait()
            return 200, {"Content-Type": "application/fhir+json"}, payload

        return callback

    import json

    fhir.add_callback(responses.GET, PATIENT_URL, callback=meet(json.dumps(PATIENT)))
    fhir.add_callback(responses.GET, CONDITIONS_URL, callback=meet(json.dumps(searchset([]))))
    client = make_app(PREFETCH_CONCURRENCY=2).test_client()
    response = client.post("/cds-services/toy-greeter", json=request_body())
    assert seen(response)["missing"] == []


def test_operation_outcome_counts_as_missing_and_is_fetched(client, fhir):
    fhir.get(PATIENT_URL, json=PATIENT)
    outcome = {"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": "x"}]}
    response = client.post(
        "/cds-services/toy-greeter",
        json=request_body({"patient": outcome, "conditions": None}),
    )
    assert seen(response)["prefetch"]["patient"]["resourceType"] == "Patient"
    assert len(fhir.calls) == 1


def test_search_pages_are_followed_and_merged(client, fhir):
    page2 = f"{BASE}/Condition?_page=2"
    page3 = f"{BASE}/Condition?_page=3"
    fhir.get(CONDITIONS_URL, json=searchset([1, 2], next_url=page2, self_url=CONDITIONS_URL))
    fhir.get(page2, json=searchset([3, 4], next_url=page3))
    fhir.get(page3, json=searchset([5]))
    response = client.post("/cds-services/toy-greeter", json=request_body({"patient": PATIENT}))
    conditions = seen(response)["prefetch"]["conditions"]
    assert conditions["entries"] == 5
    assert conditions["links"] == [{"relation": "self", "url": CONDITIONS_URL}]  # next dropped
    assert [c.request.url for c in fhir.calls] == [CONDITIONS_URL, page2, page3]


def test_page_bound_makes_an_optional_key_missing(make_app, fhir):
    fhir.get(CONDITIONS_URL, json=searchset([1], next_url=f"{BASE}/Condition?_page=2"))
    fhir.get(f"{BASE}/Condition?_page=2", json=searchset([2], next_url=f"{BASE}/Condition?_page=3"))
    client = make_app(MAX_PAGES=2).test_client()
    response = client.post("/cds-services/toy-greeter", json=request_body({"patient": PATIENT}))
    assert seen(response)["prefetch"]["conditions"] is None
    assert seen(response)["missing"] == ["conditions"]
    assert len(fhir.calls) == 2  # page 3 was never requested


def test_resource_bound_makes_an_optional_key_missing(make_app, fhir):
    fhir.get(CONDITIONS_URL, json=searchset([1, 2], next_url=f"{BASE}/Condition?_page=2"))
    fhir.get(f"{BASE}/Condition?_page=2", json=searchset([3, 4]))
    client = make_app(MAX_PREFETCH_RESOURCES=3).test_client()
    response = client.post("/cds-services/toy-greeter", json=request_body({"patient": PATIENT}))
    assert seen(response)["missing"] == ["conditions"]


FAILURES = [
    ("401", {"status": 401, "json": {"resourceType": "OperationOutcome", "issue": []}}, "401"),
    ("500", {"status": 500, "body": "boom"}, "500"),
    ("404", {"status": 404, "json": {"resourceType": "OperationOutcome", "issue": []}}, "404"),
    ("connect timeout", {"body": requests.exceptions.ConnectTimeout()}, "timed out"),
    ("read timeout", {"body": requests.exceptions.ReadTimeout()}, "timed out"),
    ("connection error", {"body": requests.exceptions.ConnectionError()}, "could not read"),
    ("not JSON", {"body": "<html>", "content_type": "text/html"}, "no JSON"),
    ("not a resource", {"json": [1, 2]}, "no FHIR resource"),
    (
        "OperationOutcome with 200",
        {"json": {"resourceType": "OperationOutcome", "issue": []}},
        "OperationOutcome",
    ),
    ("redirect", {"status": 302, "headers": {"Location": "https://evil.example/x"}}, "redirect"),
]


@pytest.mark.parametrize(
    ("mock", "reason"), [f[1:] for f in FAILURES], ids=[f[0] for f in FAILURES]
)
def test_needed_key_that_cannot_be_fetched_is_412(client, fhir, mock, reason):
    fhir.get(PATIENT_URL, **mock)
    fhir.get(CONDITIONS_URL, json=searchset([]))
    response = client.post("/cds-services/toy-greeter", json=request_body())
    assert response.status_code == 412
    issue = assert_operation_outcome(response.get_json(), code="processing", mentions="'patient'")
    assert issue["expression"] == ["prefetch.patient"]
    assert reason in issue["diagnostics"]
    assert TOKEN not in response.get_data(as_text=True)
    assert all("evil.example" not in c.request.url for c in fhir.calls)


@pytest.mark.parametrize(
    ("mock", "reason"), [f[1:] for f in FAILURES], ids=[f[0] for f in FAILURES]
)
def test_optional_key_that_cannot_be_fetched_becomes_none(client, fhir, mock, reason):
    fhir.get(CONDITIONS_URL, **mock)
    response = client.post("/cds-services/toy-greeter", json=request_body({"patient": PATIENT}))
    assert seen(response)["prefetch"]["conditions"] is None
    assert seen(response)["missing"] == ["conditions"]


def test_without_fhir_server_a_needed_missing_key_is_412(client, fhir, shared_example):
    body = shared_example("assembled/request-patient-view-no-prefetch.json")
    del body["fhirServer"]
    response = client.post("/cds-services/toy-greeter", json=body)
    assert response.status_code == 412
    assert_operation_outcome(response.get_json(), mentions="prefetch key 'patient'")
    assert len(fhir.calls) == 0


def test_assembled_request_without_prefetch_falls_back_to_fetching(client, fhir, shared_example):
    body = shared_example("assembled/request-patient-view-no-prefetch.json")
    fhir.get("https://fhir.example.org/r4/Patient/1288992", json=PATIENT)
    fhir.get(
        "https://fhir.example.org/r4/Condition?patient=1288992&category=problem-list-item",
        status=503,
    )
    response = client.post("/cds-services/toy-greeter", json=body)
    assert seen(response)["missing"] == ["conditions"]
    # no fhirAuthorization: no Authorization header is sent
    assert all("Authorization" not in c.request.headers for c in fhir.calls)


def test_supplied_searchset_with_next_link_is_completed(
    client, fhir, shared_example, assert_valid_response
):
    """The 3.0-ballot paginated order-sign example: page 2 is fetched and merged."""
    body = shared_example("spec-3.0.0-ballot/request-order-sign-paginated-prefetch.json")
    page2 = "https://ehr.example.org/fhir/MedicationRequest?patient=1288992&_count=1&_page=2"
    fhir.get(
        page2,
        json={
            "resourceType": "Bundle",
            "type": "searchset",
            "entry": [{"resource": {"resourceType": "MedicationRequest", "id": "rx-page-2-01"}}],
        },
    )
    response = client.post("/cds-services/toy-orders", json=body)
    result = assert_valid_response(response.get_json())
    orders = result["extension"]["org.example.toy"]["prefetch"]["orders"]
    assert orders["entries"] == 2
    assert all(link["relation"] != "next" for link in orders["links"])
    assert [c.request.url for c in fhir.calls] == [page2]


def test_next_link_outside_fhir_server_is_refused(client, fhir):
    evil = "https://evil.example/fhir/Condition?_page=2"
    fhir.get(CONDITIONS_URL, json=searchset([1], next_url=evil))
    fhir.get(evil, json=searchset([2]))
    response = client.post("/cds-services/toy-greeter", json=request_body({"patient": PATIENT}))
    assert seen(response)["missing"] == ["conditions"]
    assert [c.request.url for c in fhir.calls] == [CONDITIONS_URL]


def test_destination_guard_hook_can_refuse(make_app, fhir):
    from cds_hooks.errors import FhirServerError

    refused = []

    def guard(url, identity):
        refused.append((url, identity))
        raise FhirServerError("not on the allowlist")

    client = make_app(FHIR_DESTINATION_GUARD=guard).test_client()
    response = client.post("/cds-services/toy-greeter", json=request_body())
    assert response.status_code == 412
    assert refused and refused[0] == (PATIENT_URL, None)
    assert len(fhir.calls) == 0


# -- templates -------------------------------------------------------------------------------


CONTEXT = {
    "patientId": "12 3&x",
    "userId": "PractitionerRole/abc",
    "encounterId": "e1",
    "draftOrders": {"resourceType": "Bundle"},
}


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("Patient/{{context.patientId}}", "Patient/12%203%26x"),
        ("Encounter/{{ context.encounterId }}", "Encounter/e1"),
        ("PractitionerRole/{{userPractitionerRoleId}}", "PractitionerRole/abc"),
        ("Observation?subject={{context.userId}}", "Observation?subject=PractitionerRole/abc"),
    ],
)
def test_templates_substitute_spec_tokens(template, expected):
    assert render_template(template, CONTEXT) == expected


@pytest.mark.parametrize(
    "template",
    [
        "Practitioner/{{userPractitionerId}}",
        "Patient/{{context.missing}}",
        "Bundle/{{context.draftOrders}}",
    ],
)
def test_tokens_without_a_simple_value_are_unresolvable(template):
    with pytest.raises(_Unresolvable):
        render_template(template, CONTEXT)


@pytest.mark.parametrize(
    "template",
    ["Patient/{{patientId}}", "Observation?date=gt{{today()}}", "X/{{context.patient.id}}"],
)
def test_non_spec_tokens_are_refused_at_start_up(template):
    with pytest.raises(ConfigurationError):
        check_template(template)


def _with_total(bundle, total):
    bundle["total"] = total
    return bundle


def test_fetched_search_cut_short_without_next_link_is_not_used(client, fhir):
    # a server that applies _count but sends no next link (seen with a real FHIR server):
    # using the page as if complete would let the rules conclude from part of the record
    fhir.get(CONDITIONS_URL, json=_with_total(searchset([1, 2]), 5))
    response = client.post("/cds-services/toy-greeter", json=request_body({"patient": PATIENT}))
    assert seen(response)["prefetch"]["conditions"] is None
    assert seen(response)["missing"] == ["conditions"]


def test_fetched_search_whose_total_matches_is_used(client, fhir):
    bundle = _with_total(searchset([1, 2]), 2)
    # includes are not matches (the included Patient is the context patient: §A4.15)
    bundle["entry"].append({"resource": {"resourceType": "Patient", "id": "1288992"},
                            "search": {"mode": "include"}})
    fhir.get(CONDITIONS_URL, json=bundle)
    response = client.post("/cds-services/toy-greeter", json=request_body({"patient": PATIENT}))
    assert seen(response)["prefetch"]["conditions"] == {"entries": 3, "links": []}


def test_supplied_search_cut_short_is_fetched_whole(client, fhir):
    fhir.get(CONDITIONS_URL, json=_with_total(searchset([1, 2, 3]), 3))
    supplied = {"patient": PATIENT, "conditions": _with_total(searchset([1]), 3)}
    response = client.post("/cds-services/toy-greeter", json=request_body(supplied))
    assert seen(response)["prefetch"]["conditions"]["entries"] == 3
    assert [c.request.url for c in fhir.calls] == [CONDITIONS_URL]


def test_supplied_search_cut_short_without_fhir_server_is_missing(client, fhir):
    body = request_body({"patient": PATIENT, "conditions": _with_total(searchset([1]), 3)})
    del body["fhirServer"], body["fhirAuthorization"]
    response = client.post("/cds-services/toy-greeter", json=body)
    assert seen(response)["missing"] == ["conditions"]
    assert len(fhir.calls) == 0
