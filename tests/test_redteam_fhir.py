"""Red team: smuggling the EHR's FHIR token to another destination (cds_hooks/fhir_guard.py,
fhir_client.py, prefetch.py), through the real app with the EHR mocked by ``responses``.

Every hostile ``fhirServer``, ``link[next]`` or redirect must leave the token at the allowlisted
base ``https://ehr.example.org/fhir``: the mock records every request that was made.
"""

from __future__ import annotations

import re
from urllib.parse import unquote

import pytest
import responses

FHIR = "https://ehr.example.org/fhir"
TOKEN = "ehr-access-token-redteam-42"
GREETER = "/cds-services/toy-greeter"
PATIENT = {"resourceType": "Patient", "id": "p1"}


def _body(fhir_server=FHIR, prefetch=None):
    return {
        "hook": "patient-view",
        "hookInstance": "2f6e0c1a-0000-4000-8000-000000000001",
        "fhirServer": fhir_server,
        "fhirAuthorization": {
            "access_token": TOKEN,
            "token_type": "Bearer",
            "expires_in": 300,
            "scope": "patient/*.read",
            "subject": "cds-service",
        },
        "context": {"userId": "Practitioner/example", "patientId": "p1"},
        "prefetch": prefetch if prefetch is not None else {},
    }


@pytest.fixture
def ehr():
    """Every URL answers (so that a leak would succeed and be recorded, not fail to connect)."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.add(responses.GET, re.compile(r".*"), json=PATIENT)
        yield mock


@pytest.fixture
def secure_client(make_app):
    return make_app(FHIR_SERVER_ALLOWLIST=[FHIR], FHIR_REQUIRE_AUTHORIZATION=True).test_client()


def _under_the_ehr(url):
    """The test's own oracle: under FHIR + "/", and no segment a server could read as a dot
    segment (percent-encoded once or twice, with a ``;`` path parameter, or ``\\``-separated)."""
    if not url.startswith(FHIR + "/"):
        return False
    path = unquote(unquote(url.split("?", 1)[0]))
    return not any(seg.split(";")[0] in (".", "..") for seg in re.split(r"[/\\]", path))


def _token_went_only_to_the_ehr(mock):
    for call in mock.calls:
        if call.request.headers.get("Authorization"):
            assert _under_the_ehr(call.request.url), call.request.url
    return True


HOSTILE_FHIR_SERVERS = [
    "https://allowed@ehr.example.org/fhir",
    "https://ehr.example.org:443@evil.example/fhir",
    "http://127.0.0.1:80@evil.example/fhir",
    "https://ehr.example.org@evil.example/fhir",
    "https://evil.example/fhir#@ehr.example.org/fhir",
    "https://evil.example\\@ehr.example.org/fhir",
    "https://ehr.example.org./fhir",
    "https://ehr.example.org:8443/fhir",
    "http://ehr.example.org/fhir",
    "https://ehr.example.org/fhir-evil",
    "https://ehr.example.org/fhirx",
    "https://ehr.example.org/fhir/../admin",
    "https://ehr.example.org/fhir/%2e%2e/admin",
    "https://ehr.example.org/fhir/..;/admin",
    "https://ehr.example.org/fhir/%252e%252e/admin",
    "https://ehr.example.org/fhir/..%5cadmin",
    "https://ehr.exampl\uff45.org/fhir",
    "https://xn--ehr-xample-fhir.example/fhir",
    "https://[::1]/fhir",
    "https://[::ffff:127.0.0.1]/fhir",
    "https://127.0.0.1/fhir",
    "https://2130706433/fhir",
    "https://ehr.example.org.evil.example/fhir",
    "https://ehr.example.org/fhir?next=https://evil.example",
    "https://ehr.example.org/fhir/\r\nHost: evil.example",
]


@pytest.mark.parametrize("fhir_server", HOSTILE_FHIR_SERVERS)
def test_hostile_fhir_server_never_receives_the_token(secure_client, ehr, fhir_server):
    response = secure_client.post(GREETER, json=_body(fhir_server))
    assert response.status_code in (400, 412), response.get_data(as_text=True)
    assert _token_went_only_to_the_ehr(ehr)
    assert TOKEN not in response.get_data(as_text=True)
    if response.status_code == 412:  # the needed key was refused, not fetched elsewhere
        assert all(_under_the_ehr(c.request.url) for c in ehr.calls)


@pytest.mark.parametrize(
    "fhir_server",
    [FHIR, FHIR + "/", "https://EHR.example.org/fhir", "https://ehr.example.org:443/fhir"],
)
def test_allowlisted_fhir_server_spellings_do_receive_it(secure_client, ehr, fhir_server):
    response = secure_client.post(GREETER, json=_body(fhir_server))
    assert response.status_code == 200, response.get_data(as_text=True)
    assert ehr.calls[0].request.headers["Authorization"] == f"Bearer {TOKEN}"


HOSTILE_NEXT_LINKS = [
    "https://evil.example/fhir/Condition?page=2",
    "http://ehr.example.org/fhir/Condition?page=2",
    "https://ehr.example.org:8443/fhir/Condition?page=2",
    "https://ehr.example.org/fhir-evil/Condition?page=2",
    "https://ehr.example.org/other/Condition?page=2",
    "https://ehr.example.org/fhir/../other/Condition",
    "https://ehr.example.org/fhir/..;/other/Condition",
    "https://ehr.example.org/fhir/%2E%2E/other/Condition",
    "https://user:pw@ehr.example.org/fhir/Condition",
    "//evil.example/fhir/Condition",
    "HTTPS://evil.example/fhir/Condition",
    "javascript:alert(1)",
    "file:///etc/passwd",
]


@pytest.mark.parametrize("link", HOSTILE_NEXT_LINKS)
def test_hostile_next_links_are_not_followed(secure_client, ehr, link):
    conditions = {
        "resourceType": "Bundle",
        "type": "searchset",
        "entry": [],
        "link": [{"relation": "next", "url": link}],
    }
    prefetch = {"patient": PATIENT, "conditions": conditions}
    response = secure_client.post(GREETER, json=_body(prefetch=prefetch))
    assert response.status_code == 200  # conditions is optional: listed as missing
    assert response.get_json()["extension"]["org.example.toy"]["missing"] == ["conditions"]
    assert _token_went_only_to_the_ehr(ehr)
    # nothing fetched, except that a protocol-relative link resolves under fhirServer
    assert not ehr.calls or link.startswith("//"), [c.request.url for c in ehr.calls]


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_redirects_are_never_followed(make_app, status):
    client = make_app(FHIR_SERVER_ALLOWLIST=[FHIR], FHIR_REQUIRE_AUTHORIZATION=True).test_client()
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.get(FHIR + "/Patient/p1", status=status, headers={"Location": FHIR + "/Patient/p2"})
        mock.get(FHIR + "/Patient/p2", json=PATIENT)
        mock.get("https://evil.example/steal", json=PATIENT)
        response = client.post(GREETER, json=_body())
        urls = [c.request.url for c in mock.calls]
    assert response.status_code == 412
    assert FHIR + "/Patient/p1" in urls
    assert FHIR + "/Patient/p2" not in urls and "https://evil.example/steal" not in urls
    assert TOKEN not in response.get_data(as_text=True)


def test_next_link_from_a_fetched_page_to_another_host_is_refused(make_app):
    client = make_app(FHIR_SERVER_ALLOWLIST=[FHIR], FHIR_REQUIRE_AUTHORIZATION=True).test_client()
    page = {
        "resourceType": "Bundle",
        "type": "searchset",
        "entry": [],
        "link": [{"relation": "next", "url": "https://ehr.example.org:444/fhir/Condition?p=2"}],
    }
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.get(FHIR + "/Patient/p1", json=PATIENT)
        mock.get(FHIR + "/Condition", json=page)
        mock.get("https://ehr.example.org:444/fhir/Condition", json=page)
        response = client.post(GREETER, json=_body())
        urls = [c.request.url for c in mock.calls]
    assert response.status_code == 200
    assert urls and all(_under_the_ehr(url) for url in urls)
