"""The mismatched-prefetch sample (issue 9 items 5 and 9) through the running server.

``fhir_samples/thyroid/protocol/patient-view.mismatched-prefetch.json`` is a call about one sample
patient whose ``patient``, ``observations`` and ``medicationAdministrations`` keys hold another
sample patient's data. Posted to the real waitress server (loopback): without ``fhirServer`` the
answer is 412 naming those three keys; with a ``fhirServer`` (the EHR mocked with ``responses``)
the keys are fetched and the answer is the context patient's own expected assessment, never the
other patient's.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import responses
from conftest import REPO_DIR, http
from mock_fhir import bundle_resources, serve
from test_thyroid_samples_e2e import compare

from plugin.thyroid.knowledge.loader import load_knowledge
from plugin.thyroid.prefetch import prefetch_templates
from plugin.thyroid.samples import SAMPLES_DIR, evaluation_date, sample_index

pytestmark = pytest.mark.e2e

PROTOCOL = SAMPLES_DIR / "protocol"
REQUEST = json.loads((PROTOCOL / "patient-view.mismatched-prefetch.json").read_text("utf-8"))
EXPECTED = json.loads((PROTOCOL / "mismatched-prefetch.expected.json").read_text("utf-8"))
BASE = "https://ehr.example.org/fhir"
URL = "/cds-services/rair-patient-view"


def scenario(name):
    return next(s for s in sample_index() if s["name"] == name)


@pytest.fixture
def base(make_app, live_server):
    return live_server(make_app(PLUGINS=["plugin.thyroid"], EVALUATION_DATE=evaluation_date()))


def test_the_committed_sample_is_what_its_generator_writes():
    """Regenerated when the sample patients are renumbered (the test says which command)."""
    sys.path.insert(0, str(PROTOCOL))
    try:
        import generate
    finally:
        sys.path.remove(str(PROTOCOL))
    assert generate.build() == {"patient-view.mismatched-prefetch.json": REQUEST,
                                "mismatched-prefetch.expected.json": EXPECTED}, (
        f"run: .venv/bin/python {(PROTOCOL / 'generate.py').relative_to(REPO_DIR)}")


def test_the_sample_really_mixes_two_patients():
    own, other = EXPECTED["contextPatientId"], EXPECTED["foreignPatientId"]
    assert own != other and REQUEST["context"]["patientId"] == own
    assert REQUEST["prefetch"]["patient"]["id"] == other
    for key in EXPECTED["mismatchedKeys"][1:]:
        refs = {e["resource"]["subject"]["reference"] for e in REQUEST["prefetch"][key]["entry"]}
        assert refs == {f"Patient/{other}"}, key


def test_without_fhir_server_the_answer_is_412_naming_every_mixed_key(base):
    status, _, body = http("POST", base + URL, REQUEST)
    assert status == EXPECTED["withoutFhirServer"]["status"], body
    assert body["resourceType"] == "OperationOutcome"
    named = {i["expression"][0].removeprefix("prefetch."): i for i in body["issue"]}
    assert sorted(named) == sorted(EXPECTED["mismatchedKeys"] + EXPECTED["unprovenKeys"])
    assert EXPECTED["unprovenKeys"], "the sample has keys that name no patient"
    for key in EXPECTED["withoutFhirServer"]["neededKeys"]:
        assert named[key]["severity"] == "error"
    for key in EXPECTED["withoutFhirServer"]["optionalKeys"]:
        assert named[key]["severity"] == "warning"
    for key in EXPECTED["mismatchedKeys"]:
        assert "holds another patient's data" in named[key]["diagnostics"]
    for key in EXPECTED["unprovenKeys"]:
        assert "names no patient" in named[key]["diagnostics"]
    assert EXPECTED["foreignPatientId"] not in json.dumps(body)


def test_with_fhir_server_the_mixed_keys_are_fetched_and_the_answer_is_the_patients_own(base):
    own = scenario(EXPECTED["contextScenario"])
    foreign = json.loads(Path(scenario(EXPECTED["foreignScenario"])["expected"]).read_text())
    request = dict(REQUEST, fhirServer=BASE)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as ehr:
        serve(ehr, BASE, bundle_resources(own["bundle"]))
        status, _, body = http("POST", base + URL, request)
        fetched = sorted({c.request.url.split("/fhir/")[1].split("?")[0].split("/")[0]
                          for c in ehr.calls})
    assert status == EXPECTED["withFhirServer"]["status"], body
    templates = prefetch_templates(load_knowledge())
    assert fetched == sorted({templates[k].split("/")[0].split("?")[0]
                              for k in EXPECTED["withFhirServer"]["fetchedKeys"]})
    assert "Condition" not in fetched  # the context patient's own Condition was used
    actual = body["extension"]["rair-cds"]["assessment"]
    expected = json.loads((SAMPLES_DIR / EXPECTED["withFhirServer"]["expected"]).read_text())
    assert not compare(expected, actual), compare(expected, actual)
    assert compare(foreign, actual), "the answer must not be the other patient's assessment"
    assert actual["action"] != foreign["action"]


def test_the_order_hooks_refuse_another_patients_prefetch_too(base):
    """The rule sits in the protocol layer: order-sign with the prefetch of another patient."""
    order = json.loads((SAMPLES_DIR / "orders" / "order-sign.continuation-lenvatinib.json")
                       .read_text(encoding="utf-8"))
    other = json.loads(Path(scenario(EXPECTED["foreignScenario"])["request"]).read_text("utf-8"))
    assert order["context"]["patientId"] != other["context"]["patientId"]
    status, _, body = http("POST", base + "/cds-services/rair-order-sign",
                           dict(order, prefetch=other["prefetch"]))
    assert status == 412, body
    named = {i["expression"][0] for i in body["issue"] if i["severity"] == "error"}
    assert {"prefetch.patient", "prefetch.observations", "prefetch.conditions"} <= named
