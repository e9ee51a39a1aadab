"""The sandbox kit against a real FHIR server (issue 12 items 1-3): ``rair-cds load-samples`` writes
every sample patient into Medplum's FHIR router on loopback (``tests/realfhir``), a second run
changes nothing (not even a version id), and ``rair-cds evaluate --fhir-server`` reproduces every
sample's expected assessment, and the file form's assessment and cards, from what the server holds.

Paging is not exercised here: this server applies ``_count`` but sends no ``link[next]`` (see
``tests/test_integration_real_fhir_server.py``); ``tests/test_sandbox_kit.py`` pages the same
code path against a ``responses``-mocked server instead.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import json
import logging
from pathlib import Path

import pytest
from realfhir_server import RealFhirServer, skip_reason
from test_thyroid_samples_e2e import compare

from cds_hooks import cli
from plugin.thyroid.cli import evaluate_file
from plugin.thyroid.samples import evaluation_date, sample_index

pytestmark = [pytest.mark.e2e, pytest.mark.realfhir]

SAMPLES = sample_index()
AS_OF = evaluation_date()


def resources_of(sample):
    bundle = json.loads(Path(sample["bundle"]).read_text(encoding="utf-8"))
    return [entry["resource"] for entry in bundle["entry"]]


def start_server():
    reason = skip_reason()
    if reason:
        pytest.skip(reason)
    return RealFhirServer()


@pytest.fixture
def empty_server():
    server = start_server()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def loaded():
    """The real server after one ``rair-cds load-samples`` run: ``(server, exit code, output)``."""
    server = start_server()
    try:
        code, out, err = run_cli(["load-samples", "--fhir-server", server.base_url,
                                  f"--bearer-token={server.token}"])
        yield server, code, out + err
    finally:
        server.stop()


def run_cli(argv):
    """``rair-cds ARGV`` in process: (exit code, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli.main(argv)
    return code, out.getvalue(), err.getvalue()


def versions(server):
    """``{Type/id: versionId}`` of every sample resource on the server."""
    found = {}
    for sample in SAMPLES:
        for resource in resources_of(sample):
            name = f"{resource['resourceType']}/{resource['id']}"
            status, _, body = server.call("GET", name)
            assert status == 200, (name, body)
            found[name] = body["meta"]["versionId"]
    return found


def test_load_samples_writes_every_sample_and_prints_its_id_and_scenario(loaded):
    server, code, output = loaded
    assert code == 0, output
    lines = output.splitlines()
    for sample in SAMPLES:
        (line,) = [ln for ln in lines if ln.startswith(f"{sample['patientId']}\t")]
        assert f"\t{sample['name']}\t" in line and "(transaction)" in line, line
        for resource in resources_of(sample):
            status, _, body = server.call("GET", f"{resource['resourceType']}/{resource['id']}")
            assert status == 200
            assert {k: v for k, v in body.items() if k != "meta"} == resource
    assert server.token not in output


def test_a_second_run_changes_nothing(loaded):
    server, _, _ = loaded
    before = versions(server)
    code, out, err = run_cli(["load-samples", "--fhir-server", server.base_url,
                              f"--bearer-token={server.token}"])
    assert code == 0, err
    rows = [ln.split("\t") for ln in out.splitlines() if "\t" in ln]
    assert len(rows) == len(SAMPLES) and all(row[2] == "unchanged" for row in rows)
    assert f"0 resource(s) written, {len(before)} unchanged" in out
    assert versions(server) == before  # not even a new version of an unchanged resource


@pytest.mark.parametrize("sample", SAMPLES, ids=[s["name"] for s in SAMPLES])
def test_evaluate_from_the_server_reproduces_the_sample(sample, loaded):
    """Expected assessment, and the file form's assessment and cards (uuids aside)."""
    server, _, _ = loaded
    code, out, err = run_cli(["evaluate", "--fhir-server", server.base_url, "--patient",
                              sample["patientId"], f"--bearer-token={server.token}",
                              "--as-of", AS_OF, "--format", "json"])
    assert code == 0, err
    result = json.loads(out)
    expected = json.loads(Path(sample["expected"]).read_text(encoding="utf-8"))
    diffs = compare(expected, result["assessment"])
    assert not diffs, diffs
    from_file = evaluate_file(Path(sample["request"]), dt.date.fromisoformat(AS_OF))
    assert result["assessment"] == from_file["assessment"]
    assert result["cardKinds"] == from_file["cardKinds"]
    assert without_uuids(result["cards"]) == without_uuids(from_file["cards"])
    assert server.token not in out + err


def test_evaluate_text_form_prints_assessment_and_cards(loaded):
    server, _, _ = loaded
    sample = SAMPLES[1]
    code, out, _ = run_cli(["evaluate", "--fhir-server", server.base_url, "--patient",
                            sample["patientId"], f"--bearer-token={server.token}",
                            "--as-of", AS_OF])
    assert code == 0
    expected = json.loads(Path(sample["expected"]).read_text(encoding="utf-8"))
    assert f"Action:           {expected['action']}" in out and "\n[" in out


def test_the_token_can_come_from_the_environment_not_the_command_line(loaded, monkeypatch):
    # a token on the command line is in the process list; and one starting with "-" (as
    # token_urlsafe can) is read by argparse as an option unless written --bearer-token=T
    server, _, _ = loaded
    sample = SAMPLES[1]
    monkeypatch.setenv("RAIR_CDS_FHIR_BEARER_TOKEN", server.token)
    code, out, err = run_cli(["evaluate", "--fhir-server", server.base_url, "--patient",
                              sample["patientId"], "--as-of", AS_OF])
    assert code == 0, err
    monkeypatch.setenv("RAIR_CDS_FHIR_BEARER_TOKEN", "wrong-token-c0ffee")
    code, _, err = run_cli(["evaluate", "--fhir-server", server.base_url, "--patient",
                            sample["patientId"], "--as-of", AS_OF])
    assert code == 1 and "401" in err


def test_evaluate_an_unknown_patient_names_every_missing_key(loaded):
    server, _, _ = loaded
    code, out, err = run_cli(["evaluate", "--fhir-server", server.base_url, "--patient",
                              "no-such-patient", f"--bearer-token={server.token}"])
    assert code == 1 and out == ""
    assert "prefetch key 'patient' is needed but could not be had" in err
    assert "answered 404" in err and server.token not in err


def test_dry_run_writes_nothing_and_only_writes_the_named_scenarios(empty_server):
    first, second = SAMPLES[0], SAMPLES[1]
    code, out, _ = run_cli(["load-samples", "--fhir-server", empty_server.base_url,
                            f"--bearer-token={empty_server.token}", "--dry-run"])
    assert code == 0 and f"{first['patientId']}\t{first['name']}\twould write" in out
    assert empty_server.call("GET", f"Patient/{first['patientId']}")[0] == 404
    code, out, _ = run_cli(["load-samples", "--fhir-server", empty_server.base_url,
                            f"--bearer-token={empty_server.token}", "--only", second["name"]])
    assert code == 0 and out.count("\n") == 2  # one patient line and the total
    assert empty_server.call("GET", f"Patient/{second['patientId']}")[0] == 200
    assert empty_server.call("GET", f"Patient/{first['patientId']}")[0] == 404


def test_a_refused_token_is_a_clear_401_and_no_token_is_printed(empty_server, caplog):
    wrong = "wrong-token-c0ffee"
    with caplog.at_level(logging.DEBUG):
        code, out, err = run_cli(["load-samples", "--fhir-server", empty_server.base_url,
                                  f"--bearer-token={wrong}"])
    assert code == 1
    assert "refused the credentials (401" in err
    assert "missing or wrong bearer token" in err  # the server's OperationOutcome text
    assert err.count("\n") == 1  # stops at the first refusal
    for text in (out, err, caplog.text):
        assert wrong not in text and empty_server.token not in text


def without_uuids(cards):
    cards = json.loads(json.dumps(cards))
    for card in cards:
        card.pop("uuid", None)
        for suggestion in card.get("suggestions", []):
            suggestion.pop("uuid", None)
    return cards
