"""Cost per call (issue 11): a long-followed patient's record is answered, not refused; resources
no rule reads are not validated; no thread is started per call; the other JSON bounds stay."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
from conftest import assert_operation_outcome
from large_record import routine_labs, with_routine_labs
from test_thyroid_samples_e2e import compare

import plugin.thyroid.reading.record as from_fhir
from plugin.thyroid.samples import evaluation_date, sample_index

SAMPLES = {s["name"]: s for s in sample_index()}


def toy_request(conditions: dict | None) -> dict:
    """A patient-view request for the toy plugin with ``conditions`` as that prefetch key."""
    return {"hook": "patient-view", "hookInstance": "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea",
            "context": {"userId": "Practitioner/1", "patientId": "p1"},
            "prefetch": {"patient": {"resourceType": "Patient", "id": "p1"},
                         "conditions": conditions}}


@pytest.fixture
def thyroid_app(make_app):
    return make_app(PLUGINS=["plugin.thyroid"], EVALUATION_DATE=evaluation_date())


@pytest.mark.parametrize("name", ["js-ii-post-therapy-no-uptake", "ret-fusion-first-line"])
def test_a_record_with_10000_unrelated_labs_gets_the_samples_assessment(thyroid_app, name):
    sample = SAMPLES[name]
    request = json.loads(Path(sample["request"]).read_text(encoding="utf-8"))
    expected = json.loads(Path(sample["expected"]).read_text(encoding="utf-8"))
    big = with_routine_labs(request, 10_000)
    assert len(big["prefetch"]["observations"]["entry"]) > 10_000
    response = thyroid_app.test_client().post("/cds-services/rair-patient-view", json=big)
    assert response.status_code == 200, response.get_json()
    assessment = response.get_json()["extension"]["rair-cds"]["assessment"]
    assert not compare(expected, assessment)
    plain = thyroid_app.test_client().post("/cds-services/rair-patient-view", json=request)
    assert assessment == plain.get_json()["extension"]["rair-cds"]["assessment"]


def test_supplied_bundle_entries_stay_bounded(make_app):
    client = make_app(MAX_PREFETCH_ENTRIES=5).test_client()
    bundle = {"resourceType": "Bundle", "type": "searchset",
              "entry": [{"resource": r} for r in routine_labs("p1", 6)]}
    body = toy_request(bundle)
    response = client.post("/cds-services/toy-greeter", json=body)
    assert response.status_code == 413
    assert_operation_outcome(response.get_json(), "too-long", "more than 5")


def test_other_arrays_keep_the_json_array_bound(make_app):
    client = make_app(MAX_JSON_ARRAY_LENGTH=5).test_client()
    labs = routine_labs("p1", 3)
    labs[0]["category"] = labs[0]["category"] * 6  # an array inside a resource
    bundle = {"resourceType": "Bundle", "type": "searchset",
              "entry": [{"resource": r} for r in labs] * 3}  # 9 entries: allowed
    body = toy_request(bundle)
    response = client.post("/cds-services/toy-greeter", json=body)
    assert response.status_code == 413
    assert_operation_outcome(response.get_json(), "too-long", "more than 5 items")
    labs[0]["category"] = labs[0]["category"][:1]
    assert client.post("/cds-services/toy-greeter", json=body).status_code == 200


def test_resources_no_rule_reads_are_not_validated(monkeypatch):
    validated: list[str] = []
    original = from_fhir.validation_problem

    def counting(resource):
        validated.append(resource["id"])
        return original(resource)

    monkeypatch.setattr(from_fhir, "validation_problem", counting)
    tg = {"resourceType": "Observation", "id": "tg-1", "status": "final",
          "code": {"coding": [{"system": "http://loinc.org", "code": "3013-0"}]},
          "effectiveDateTime": "2024-01-02", "valueQuantity": {"value": 3.0, "unit": "ng/mL"}}
    labs = routine_labs("p1", 200)
    labs[5]["valueQuantity"] = "not a quantity"  # invalid, but no rule reads it: no note
    record = from_fhir.read_record([*labs, tg])
    assert validated == ["tg-1"]
    assert [lab.value for lab in record.thyroglobulin] == [3.0]
    assert not any("lab-5" in note.source for note in record.data_quality)


def test_no_thread_is_started_per_call(make_app, monkeypatch):
    client = make_app().test_client()
    body = toy_request(None)
    assert client.post("/cds-services/toy-greeter", json=body).status_code == 200  # warm pool
    started: list[str] = []
    original = threading.Thread.start

    def counting(self):
        started.append(self.name)
        return original(self)

    monkeypatch.setattr(threading.Thread, "start", counting)
    for _ in range(5):
        assert client.post("/cds-services/toy-greeter", json=body).status_code == 200
    assert started == []
