"""``docs/assessment.schema.json`` (issue 12 item 6): a JSON Schema (2020-12) for the
``extension["rair-cds"]`` object, kept equal to the code's vocabulary, linked from the README, and
applied to every response of the suite by ``conftest.py`` (Flask test client and ``http``); the
tests below show that the wrapper really catches an invalid answer.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import pytest
from conftest import ASSESSMENT_SCHEMA, REPO_DIR, check_rair_extension, http
from jsonschema import Draft202012Validator

from plugin.thyroid.assessment import model as model
from plugin.thyroid.samples import evaluation_date, sample_index

SCHEMA = json.loads(ASSESSMENT_SCHEMA.read_text(encoding="utf-8"))
DEFS = SCHEMA["$defs"]
SAMPLE = sample_index()[0]


def valid(schema_part, value):
    return Draft202012Validator({**schema_part, "$defs": DEFS}).is_valid(value)


def test_the_schema_is_a_valid_2020_12_schema():
    assert SCHEMA["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    Draft202012Validator.check_schema(SCHEMA)


def test_the_enums_are_the_codes_vocabulary():
    props = DEFS["assessment"]["properties"]
    assert tuple(props["rairStatus"]["enum"]) == model.RAIR_STATUSES
    assert tuple(props["rairCriteria"]["items"]["enum"]) == model.CRITERIA
    assert tuple(props["progression"]["enum"]) == model.PROGRESSIONS
    assert tuple(props["action"]["enum"]) == model.ACTIONS
    blank = model.Assessment(evaluation_date=dt.date(2026, 1, 1)).to_json()
    assert set(DEFS["assessment"]["required"]) == set(blank)


def test_warning_codes_are_a_pattern_that_admits_new_codes():
    code = {"$ref": "#/$defs/warning"}
    used = set(re.findall(r"W-[A-Z0-9-]*[A-Z0-9]",
                          " ".join(p.read_text(encoding="utf-8")
                                   for p in (REPO_DIR / "rules").rglob("*.yaml"))))
    assert used, "no W-code found in rules/: the pattern is broken"
    for name in sorted(used | {"W-HISTOLOGY-PDTC"}):
        assert valid(code, {"code": name, "blocking": False}), name
    for bad in ("HTN", "w-htn", "W-", "W-HTN "):
        assert not valid(code, {"code": bad, "blocking": True}), bad


@pytest.mark.parametrize(("alteration", "ok"), [
    ("V600E", True), ("Q61R", True), ("M918T", True), ("C228T", True), ("fusion", True),
    ("unknown", True), ("E746_A750del", True), ("p.V600E", False), ("Val600Glu", False),
    ("", False),
])
def test_driver_alterations(alteration, ok):
    driver = {"gene": "BRAF", "alteration": alteration, "kind": "snv"}
    assert valid({"$ref": "#/$defs/driver"}, driver) is ok


def test_drug_names_and_therapy_lists():
    therapy = {"$ref": "#/$defs/notEligibleTherapy"}
    assert valid(therapy, {"drug": "dabrafenib+trametinib", "reason": "BRAF V600E unknown"})
    assert not valid(therapy, {"drug": "dabrafenib+trametinib"})  # reason required
    assert not valid({"$ref": "#/$defs/therapy"}, {"drug": "Lenvatinib"})
    assert not valid({"$ref": "#/$defs/therapy"}, {"drug": "lenvatinib", "dose": "24 mg"})


def test_the_readme_links_the_schema():
    readme = (REPO_DIR / "README.md").read_text(encoding="utf-8")
    assert "(docs/assessment.schema.json)" in readme


def tampered(monkeypatch):
    """Make the service answer an action outside the vocabulary."""
    original = model.Assessment.to_json

    def bad(self):
        return original(self) | {"action": "TREAT_NOW"}

    monkeypatch.setattr(model.Assessment, "to_json", bad)


def test_the_test_client_wrapper_catches_an_invalid_answer(make_app, monkeypatch):
    client = make_app(PLUGINS=["plugin.thyroid"], EVALUATION_DATE=evaluation_date()).test_client()
    request = json.loads(Path(SAMPLE["request"]).read_text(encoding="utf-8"))
    assert client.post("/cds-services/rair-patient-view", json=request).status_code == 200
    tampered(monkeypatch)
    with pytest.raises(AssertionError, match="assessment.schema.json violations"):
        client.post("/cds-services/rair-patient-view", json=request)


def test_the_http_helper_catches_an_invalid_answer(make_app, live_server, monkeypatch):
    base = live_server(make_app(PLUGINS=["plugin.thyroid"], EVALUATION_DATE=evaluation_date()))
    request = json.loads(Path(SAMPLE["request"]).read_text(encoding="utf-8"))
    tampered(monkeypatch)
    with pytest.raises(AssertionError, match="'TREAT_NOW' is not one of"):
        http("POST", base + "/cds-services/rair-patient-view", request)


def test_bodies_without_the_extension_pass_untouched():
    for body in (None, [], {"cards": []}, {"extension": {"org.example.toy": {}}}):
        assert check_rair_extension(body) is body


def test_an_unreadable_braf_change_is_a_valid_answer(make_app):
    """§A4.13: a BRAF result whose protein change cannot be read reaches the assessment as
    ``alteration: "unknown"`` with kind ``other``; the published schema must accept that answer
    (the conftest hook validates this response)."""
    path = REPO_DIR / "fhir_samples" / "thyroid" / "patient-view.braf-v600e-first-line.json"
    text = path.read_text(encoding="utf-8")
    text = text.replace("NP_004324.2:p.Val600Glu", "NP_004324.2:p.?")
    text = text.replace("NM_004333.4:c.1799T>A", "NM_004333.4:c.?")
    body = json.loads(text)
    client = make_app(PLUGINS=["plugin.thyroid"], EVALUATION_DATE=evaluation_date()).test_client()
    res = client.post("/cds-services/rair-patient-view", json=body)
    assert res.status_code == 200
    drivers = res.get_json()["extension"]["rair-cds"]["assessment"]["drivers"]
    braf = [d for d in drivers if d["gene"] == "BRAF"]
    assert braf and braf[0]["alteration"] == "unknown"
    assert braf[0]["kind"] == "other" and valid(DEFS["driver"], braf[0])
