"""The sandbox kit against a ``responses``-mocked FHIR server (issue 12 items 1-3): what the real
server of ``tests/test_sandbox_kit_real_fhir.py`` cannot show.

* paging: ``evaluate --fhir-server`` follows ``link[next]`` with the service's own paging rules
  (the real Medplum router sends no next link);
* ``load-samples`` on a server that refuses transactions (PUT per resource), and its messages for
  403 and 422 answers with the server's ``OperationOutcome`` text; the token is never printed.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import json
import logging
import re
from pathlib import Path

import pytest
import responses
from mock_fhir import bundle_resources, serve

from cds_hooks import cli
from cds_hooks.errors import PrefetchUnavailable
from cds_hooks.fhir_writer import FhirWriteError, FhirWriter, outcome_text, same_content
from cds_hooks.settings import DEFAULTS
from plugin.thyroid.cli import evaluate_file
from plugin.thyroid.samples import evaluation_date, sample_index
from plugin.thyroid.sandbox import evaluate_server

BASE = "https://fhir.example.org/r4"
TOKEN = "tok-sandbox-5ecret"
AS_OF = dt.date.fromisoformat(evaluation_date())
SAMPLES = {s["name"]: s for s in sample_index()}
PAGED = SAMPLES["cabozantinib-after-lenvatinib"]  # 7 Observations: 4 pages of 2


def run_cli(argv):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli.main(argv)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def fhir():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


def outcome(code, text):
    return {"resourceType": "OperationOutcome",
            "issue": [{"severity": "error", "code": code, "details": {"text": text}}]}


# -- evaluate --fhir-server: paging ---------------------------------------------------------


def test_evaluate_follows_next_links_and_gives_the_file_forms_answer(fhir):
    serve(fhir, BASE, bundle_resources(PAGED["bundle"]), page_size=2)
    result = evaluate_server(BASE, PAGED["patientId"], AS_OF, access_token=TOKEN)
    pages = [c.request.url for c in fhir.calls if "Observation" in c.request.url]
    assert len(pages) == 4 and all("_page=" in url for url in pages[1:]), pages
    assert all(c.request.headers["Authorization"] == f"Bearer {TOKEN}" for c in fhir.calls)
    assert result["assessment"] == evaluate_file(Path(PAGED["bundle"]), AS_OF)["assessment"]


def test_evaluate_keeps_the_services_page_bound(fhir):
    serve(fhir, BASE, bundle_resources(PAGED["bundle"]), page_size=1)
    config = dict(DEFAULTS, MAX_PAGES=3)
    with pytest.raises(PrefetchUnavailable) as info:
        evaluate_server(BASE, PAGED["patientId"], AS_OF, config=config)
    assert "observations" in info.value.needed
    assert "more than 3 pages" in info.value.unavailable["observations"]


def test_evaluate_without_a_token_sends_no_authorization(fhir):
    serve(fhir, BASE, bundle_resources(PAGED["bundle"]))
    evaluate_server(BASE, PAGED["patientId"], AS_OF)
    assert fhir.calls and all("Authorization" not in c.request.headers for c in fhir.calls)


@pytest.mark.parametrize("argv", [
    ["evaluate"],
    ["evaluate", "x.json", "--fhir-server", BASE, "--patient", "p"],
    ["evaluate", "--fhir-server", BASE],
    ["evaluate", "x.json", "--patient", "p"],
])
def test_evaluate_needs_a_file_or_a_server_and_patient(argv):
    code, out, err = run_cli(argv)
    assert code == 2 and "either BUNDLE.json or --fhir-server URL --patient ID" in err


def test_evaluate_refuses_a_patient_id_that_is_not_a_fhir_id(fhir):
    code, _, err = run_cli(["evaluate", "--fhir-server", BASE, "--patient", "../Patient/x"])
    assert code == 2 and "context.patientId is not a FHIR id" in err
    assert not fhir.calls


# -- load-samples: PUT fallback, errors, token ------------------------------------------------


def put_server(fhir, *, transaction_status=405, transaction_body=None):
    """A server that refuses transactions and stores PUTs (reads answer what was put)."""
    stored = {}

    def put(request):
        name = request.url[len(BASE) + 1:]
        stored[name] = json.loads(request.body)
        return 201, {"Content-Type": "application/fhir+json"}, request.body

    def get(request):
        name = request.url[len(BASE) + 1:]
        if name in stored:
            return 200, {}, json.dumps(stored[name] | {"meta": {"versionId": "1"}})
        return 404, {}, json.dumps(outcome("not-found", "not found"))

    fhir.add(responses.POST, BASE, status=transaction_status,
             json=transaction_body or outcome("not-supported", "transactions are not supported"))
    fhir.add_callback(responses.PUT, re.compile(re.escape(BASE) + "/.*"), callback=put)
    fhir.add_callback(responses.GET, re.compile(re.escape(BASE) + "/.*"), callback=get)
    return stored


@pytest.mark.parametrize(("status", "body"), [
    (405, None), (501, None), (404, None),
    (400, outcome("not-supported", "Bundle type transaction is not supported")),
])
def test_a_server_refusing_transactions_gets_one_put_per_resource(fhir, status, body):
    stored = put_server(fhir, transaction_status=status, transaction_body=body)
    names = ["js-i-diagnostic-scan-no-uptake", "js-ii-post-therapy-no-uptake"]
    code, out, err = run_cli(["load-samples", "--fhir-server", BASE, "--bearer-token", TOKEN,
                              "--only", *names])
    assert code == 0, err
    assert out.count("(put)") == 2
    posts = [c for c in fhir.calls if c.request.method == "POST"]
    assert len(posts) == 1  # the refusal is remembered for the next patient
    wanted = {f"{r['resourceType']}/{r['id']}": r for n in names
              for r in bundle_resources(SAMPLES[n]["bundle"])}
    assert stored == wanted
    puts = [c.request.url[len(BASE) + 1:] for c in fhir.calls if c.request.method == "PUT"]
    assert puts[0] == f"Patient/{SAMPLES[names[0]]['patientId']}"  # the Patient first
    assert all(c.request.headers["Authorization"] == f"Bearer {TOKEN}" for c in fhir.calls)
    # a second run: everything unchanged, nothing written
    code, out, _ = run_cli(["load-samples", "--fhir-server", BASE, "--only", *names])
    assert code == 0 and out.count("\tunchanged\t") == 2


def test_403_stops_with_the_servers_text_and_no_token(fhir, caplog):
    fhir.get(re.compile(re.escape(BASE) + "/.*"), status=404)
    fhir.post(BASE, status=403, json=outcome("forbidden", "scope user/*.write is required"))
    with caplog.at_level(logging.DEBUG):
        code, out, err = run_cli(["load-samples", "--fhir-server", BASE, "--bearer-token", TOKEN])
    assert code == 1
    assert "forbids this write (403" in err and "scope user/*.write is required" in err
    assert err.count("\n") == 1 and len([c for c in fhir.calls if c.request.method == "POST"]) == 1
    assert TOKEN not in out + err + caplog.text


def test_422_names_the_patient_quotes_the_server_and_goes_on(fhir):
    first, second = "js-i-diagnostic-scan-no-uptake", "js-ii-post-therapy-no-uptake"
    fhir.get(re.compile(re.escape(BASE) + "/.*"), status=404)
    fhir.post(BASE, status=422, json=outcome("invariant", "Observation.status: code is required"))
    fhir.post(BASE, status=200, json={"resourceType": "Bundle", "type": "transaction-response",
                                      "entry": [{"response": {"status": "201 Created"}}] * 20})
    code, out, err = run_cli(["load-samples", "--fhir-server", BASE, "--bearer-token", TOKEN,
                              "--only", first, second])
    assert code == 1
    assert f"{first}: the FHIR server rejected the content (422)" in err
    assert "Observation.status: code is required" in err
    assert f"{SAMPLES[second]['patientId']}\t{second}\twrote" in out
    assert "1 of 2 patient(s)" in out and TOKEN not in out + err


def test_a_failed_entry_in_a_transaction_response_is_an_error(fhir):
    fhir.get(re.compile(re.escape(BASE) + "/.*"), status=404)
    fhir.post(BASE, status=200, json={"resourceType": "Bundle", "type": "transaction-response",
                                      "entry": [{"response": {
                                          "status": "400 Bad Request",
                                          "outcome": outcome("invalid", "bad subject")}}]})
    writer = FhirWriter(BASE)
    with pytest.raises(FhirWriteError) as info:
        writer.sync([{"resourceType": "Patient", "id": "p1"}])
    assert "400 Bad Request for Patient/p1" in info.value.message
    assert "bad subject" in info.value.message


def test_the_writer_follows_no_redirect_and_hides_its_token(fhir):
    fhir.get(f"{BASE}/Patient/p1", status=302, headers={"Location": "https://evil.example/x"})
    writer = FhirWriter(BASE, access_token=TOKEN)
    with pytest.raises(FhirWriteError) as info:
        writer.sync([{"resourceType": "Patient", "id": "p1"}])
    assert "answered 302" in info.value.message
    assert [c.request.url for c in fhir.calls] == [f"{BASE}/Patient/p1"]
    assert TOKEN not in repr(writer) + info.value.message


def test_unknown_scenario_names_are_refused_before_any_request(fhir):
    code, _, err = run_cli(["load-samples", "--fhir-server", BASE, "--only", "no-such-thing"])
    assert code == 2 and "unknown scenario(s): no-such-thing" in err
    assert not fhir.calls


def test_outcome_text_is_bounded_and_tolerant():
    assert outcome_text(None) == "" and outcome_text({"resourceType": "Patient"}) == ""
    long = outcome("invalid", "x" * 5000)
    assert len(outcome_text(long)) <= 600
    assert outcome_text({"resourceType": "OperationOutcome",
                         "issue": [{"diagnostics": "d"}, {"code": "c"}, "junk"]}) == "d; c"


def test_same_content_ignores_the_servers_meta_and_generated_narrative():
    wanted = {"resourceType": "Patient", "id": "p1", "gender": "female"}
    narrative = {"status": "generated", "div": "<div>p1</div>"}
    assert same_content(wanted | {"meta": {"versionId": "3"}, "text": narrative}, wanted)
    assert not same_content(wanted | {"gender": "male"}, wanted)
    assert not same_content(wanted | {"text": narrative}, wanted | {"text": {"status": "empty"}})
    assert not same_content({"resourceType": "Patient", "id": "p1"}, wanted)
