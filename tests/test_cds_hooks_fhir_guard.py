"""Where the EHR's FHIR token may go: cds_hooks/fhir_guard.py (and its use by FhirClient)."""

from __future__ import annotations

import logging

import pytest
import responses

from cds_hooks.client_auth import ClientIdentity
from cds_hooks.errors import ConfigurationError, FhirServerError
from cds_hooks.fhir_client import FhirClient
from cds_hooks.fhir_guard import DestinationRefused, FhirGuard
from cds_hooks.security import guard_destination

FHIR = "https://ehr.example.org/fhir"
TOKEN = "secret-ehr-access-token-123"
PATIENT = {"resourceType": "Patient", "id": "p1"}


def _identity(*fhir_servers):
    return ClientIdentity(
        issuer="https://ehr/", kid="k", jti="j", expires_at=0, fhir_servers=fhir_servers
    )


def _client(base, guard, identity=None):
    return FhirClient(base, access_token=TOKEN, destination_check=lambda url: guard(url, identity))


@pytest.mark.parametrize(
    "url",
    [
        FHIR,
        FHIR + "/",
        FHIR + "/Patient/p1",
        FHIR + "/Observation?patient=p1&code=x",
        "https://EHR.example.org:443/fhir/Patient/p1",
    ],
)
def test_urls_under_an_allowlisted_base_pass(url):
    FhirGuard([FHIR]).check(url)


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("https://ehr.example.org/fhirx/Patient/1", "not under"),
        ("https://ehr.example.org/other/Patient/1", "not under"),
        ("https://ehr.example.org.evil.example/fhir/Patient/1", "not under"),
        ("https://evil.example/fhir/Patient/1", "not under"),
        ("https://ehr.example.org:8443/fhir/Patient/1", "not under"),
        ("http://ehr.example.org/fhir/Patient/1", "http"),
        ("https://user:pw@ehr.example.org/fhir/Patient/1", "clean"),
        ("https://ehr.example.org@evil.example/fhir/Patient/1", "clean"),
        ("https://ehr.example.org/fhir/../admin", "clean"),
        ("https://ehr.example.org/fhir/%2e%2e/admin", "clean"),
        ("https://ehr.example.org/fhir/Patient/1\r\nX: y", "clean"),
        ("ftp://ehr.example.org/fhir", "clean"),
        ("/fhir/Patient/1", "clean"),
        ("https://ehr.example.org:99999/fhir", "clean"),
    ],
)
def test_other_urls_are_refused(url, why):
    with pytest.raises(DestinationRefused, match=why):
        FhirGuard([FHIR]).check(url)


def test_refusal_is_a_412_fhir_error_and_audited_without_query(caplog):
    with caplog.at_level(logging.WARNING, logger="rair_cds.security"):
        with pytest.raises(FhirServerError) as info:
            FhirGuard([FHIR]).check("https://evil.example/fhir/Patient?name=Smith")
    assert info.value.status_code == 412
    assert "fhir destination refused" in caplog.text
    assert "Smith" not in caplog.text and "Smith" not in info.value.message


def test_no_allowlist_means_no_fetch():
    with pytest.raises(DestinationRefused, match="no FHIR server allowlist"):
        FhirGuard().check(FHIR + "/Patient/1")


def test_issuer_fhir_servers_extend_the_allowlist():
    guard = FhirGuard()
    guard.check(FHIR + "/Patient/1", _identity(FHIR))
    with pytest.raises(DestinationRefused):
        guard.check("https://other.example/fhir/Patient/1", _identity(FHIR))


def test_http_only_when_allowed():
    with pytest.raises(DestinationRefused, match="http"):
        FhirGuard(["http://127.0.0.1:9999/fhir"]).check("http://127.0.0.1:9999/fhir/Patient/1")
    FhirGuard(["http://127.0.0.1:9999/fhir"], allow_http=True).check(
        "http://127.0.0.1:9999/fhir/Patient/1"
    )


def test_from_config_validates_entries():
    guard = FhirGuard.from_config(
        {"FHIR_SERVER_ALLOWLIST": f"{FHIR}, https://b.example/r4", "ALLOW_HTTP_FHIR": "false"}
    )
    assert guard.allows("https://b.example/r4/Patient/1") and not guard.allow_http
    for bad in (["not a url"], ["https://u:p@ehr.example.org/fhir"]):
        with pytest.raises(ConfigurationError):
            FhirGuard.from_config({"FHIR_SERVER_ALLOWLIST": bad})
    with pytest.raises(ConfigurationError):
        FhirGuard.from_config(
            {"JWT_ISSUERS": {"https://i/": {"jwks_url": "https://i/j", "fhir_servers": ["x"]}}}
        )


# -- the guard inside FhirClient: the token never leaves for a refused host -----------------


@responses.activate
def test_token_is_sent_to_an_allowlisted_server():
    responses.get(FHIR + "/Patient/p1", json=PATIENT)
    client = _client(FHIR, guard_destination(FhirGuard([FHIR])))
    assert client.read("Patient/p1")["id"] == "p1"
    assert responses.calls[0].request.headers["Authorization"] == f"Bearer {TOKEN}"


@responses.activate
def test_token_is_never_sent_to_a_non_allowlisted_server():
    evil = "https://evil.example/fhir"
    responses.get(evil + "/Patient/p1", json=PATIENT)
    client = _client(evil, guard_destination(FhirGuard([FHIR])))
    with pytest.raises(DestinationRefused):
        client.read("Patient/p1")
    assert len(responses.calls) == 0


@responses.activate
def test_next_page_on_another_host_is_not_fetched():
    first = {
        "resourceType": "Bundle",
        "type": "searchset",
        "entry": [{"resource": PATIENT}],
        "link": [{"relation": "next", "url": "https://evil.example/fhir/Patient?page=2"}],
    }
    responses.get(FHIR + "/Patient", json=first)
    responses.get("https://evil.example/fhir/Patient", json=first)
    client = _client(FHIR, guard_destination(FhirGuard([FHIR])))
    with pytest.raises(FhirServerError):
        client.read_all("Patient")
    assert [c.request.url.split("?")[0] for c in responses.calls] == [FHIR + "/Patient"]


@responses.activate
def test_redirect_to_another_host_is_not_followed():
    responses.get(
        FHIR + "/Patient/p1", status=302, headers={"Location": "https://evil.example/steal"}
    )
    responses.get("https://evil.example/steal", json=PATIENT)
    client = _client(FHIR, guard_destination(FhirGuard([FHIR])))
    with pytest.raises(FhirServerError, match="redirect"):
        client.read("Patient/p1")
    assert len(responses.calls) == 1
    assert all("evil.example" not in c.request.url for c in responses.calls)


@responses.activate
def test_http_fhir_server_refused_unless_allowed():
    base = "http://127.0.0.1:8089/fhir"
    responses.get(base + "/Patient/p1", json=PATIENT)
    with pytest.raises(DestinationRefused):
        _client(base, guard_destination(FhirGuard([base]))).read("Patient/p1")
    assert len(responses.calls) == 0
    assert _client(base, guard_destination(FhirGuard([base], allow_http=True))).read("Patient/p1")


def test_token_never_in_guard_logs_or_errors(caplog):
    with caplog.at_level(logging.DEBUG):
        with pytest.raises(DestinationRefused) as info:
            _client("https://evil.example/fhir", guard_destination(FhirGuard([FHIR]))).read(
                "Patient/p1"
            )
    assert TOKEN not in caplog.text
    assert TOKEN not in str(info.value) and TOKEN not in repr(info.value)
