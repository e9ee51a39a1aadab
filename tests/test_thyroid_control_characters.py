"""Issue 13 item 3: ids and texts with NUL (or another character durable_rules refuses) in every
resource type the reader reads never reach the rule engine and never make the call answer 500.

``read_record`` cleans every entry before any reader sees it (``plugin/thyroid/reading/text.py``):
the characters become U+FFFD and the resource gets a data-quality note, shown on the
data-quality card. The engine itself refuses NUL and lone surrogates with ``RuleEngineError``
before durable sees them (tests/test_plugin_engine.py).
"""

from __future__ import annotations

import datetime as dt
import json
import uuid

import pytest

from plugin.thyroid.patient_view import PatientViewService
from plugin.thyroid.reading.record import read_record
from plugin.thyroid.reading.text import NOTE, REPLACEMENT, clean_value, plainly_clean

AS_OF = dt.date(2026, 11, 27)
LOINC = "http://loinc.org"
RAIR = "https://rair-cds.org/fhir/CodeSystem/concepts"
SUBJECT = {"reference": "Patient/p1"}
CHROMOSOME = "http://terminology.hl7.org/CodeSystem/chromosome-human"
# NUL, another C0 control, DEL and a lone surrogate (JSON "\ud800" decodes to one)
BAD = ["\u0000", "x\u0001y", "\u007f", "\ud800"]


def _cc(system: str, code: str, text: str) -> dict:
    return {"coding": [{"system": system, "code": code, "display": text}], "text": text}


def resources(bad: str) -> dict[str, dict]:
    """One resource of each type the reader reads, each one read into a fact the engine gets,
    with ``bad`` in its id and in its texts."""
    i131 = _cc("http://snomed.info/sct", "111160004", "I-131" + bad)
    activity = {"url": "https://rair-cds.org/fhir/StructureDefinition/administered-activity",
                "valueQuantity": {"value": 150, "unit": "mCi",
                                  "system": "http://unitsofmeasure.org", "code": "mCi"}}
    return {
        "Patient": {"resourceType": "Patient", "id": "p1" + bad, "birthDate": "1960-01-01",
                    "gender": "female", "name": [{"text": "Jane" + bad}]},
        "Condition": {"resourceType": "Condition", "id": bad, "subject": SUBJECT,
                      "code": _cc("http://hl7.org/fhir/sid/icd-10-cm", "C73",
                                  "papillary thyroid carcinoma" + bad),
                      "onsetDateTime": "2020-01-01", "note": [{"text": bad}]},
        "Observation": {"resourceType": "Observation", "id": "scan" + bad, "status": "final",
                        "subject": SUBJECT, "code": _cc(RAIR, "rai-wbs", "whole-body scan" + bad),
                        "effectiveDateTime": "2024-01-15",
                        "valueCodeableConcept": _cc(RAIR, "uptake-no-lesions", "none" + bad)},
        "DiagnosticReport": {"resourceType": "DiagnosticReport", "id": "dr" + bad,
                             "status": "final", "subject": SUBJECT,
                             "code": _cc(RAIR, "rai-wbs", "scan report" + bad),
                             "effectiveDateTime": "2025-01-15", "conclusion": bad,
                             "conclusionCode": [_cc(RAIR, "uptake-no-lesions", bad)]},
        "Procedure": {"resourceType": "Procedure", "id": "proc" + bad, "status": "completed",
                      "subject": SUBJECT, "performedDateTime": "2023-12-01",
                      "code": _cc(RAIR, "iodinated-contrast", "CT with contrast" + bad)},
        "MedicationAdministration": {
            "resourceType": "MedicationAdministration", "id": "ma" + bad, "status": "completed",
            "subject": SUBJECT, "effectiveDateTime": "2024-01-10",
            "medicationCodeableConcept": i131, "extension": [activity],
            "category": _cc(RAIR, "therapeutic", "therapy" + bad)},
        "MedicationStatement": {
            "resourceType": "MedicationStatement", "id": "ms" + bad, "status": "completed",
            "subject": SUBJECT, "effectivePeriod": {"start": "2025-01-01", "end": "2025-06-01"},
            "medicationCodeableConcept": _cc("http://www.nlm.nih.gov/research/umls/rxnorm",
                                             "1603296", "lenvatinib" + bad),
            "statusReason": [_cc(RAIR, "stopped-progression", bad)]},
        "MedicationRequest": {
            "resourceType": "MedicationRequest", "id": "mr" + bad, "status": "active",
            "intent": "order", "subject": SUBJECT, "authoredOn": "2026-10-01",
            "medicationCodeableConcept": _cc("http://www.nlm.nih.gov/research/umls/rxnorm",
                                             "1363268", "cabozantinib" + bad)},
        "MolecularSequence": {
            "resourceType": "MolecularSequence", "id": "seq" + bad, "type": "dna",
            "coordinateSystem": 1, "patient": SUBJECT,
            "referenceSeq": {"chromosome": _cc(CHROMOSOME, "7", bad),
                             "genomeBuild": "GRCh38" + bad,
                             "windowStart": 140753336, "windowEnd": 140753337},
            "variant": [{"start": 140753336, "end": 140753337, "observedAllele": "T",
                         "referenceAllele": "A"}]},
        "Observation (variant)": {
            "resourceType": "Observation", "id": "v" + bad, "status": "final",
            "subject": SUBJECT, "code": _cc(LOINC, "69548-6", "variant" + bad),
            "effectiveDateTime": "2024-03-01",
            "valueCodeableConcept": _cc(LOINC, "LA9633-4", "present" + bad),
            "component": [
                {"code": _cc(LOINC, "48018-6", "gene"),
                 "valueCodeableConcept": _cc("http://www.genenames.org/geneId", "HGNC:1097",
                                             "BRAF" + bad)},
                {"code": _cc(LOINC, "48005-3", "p.HGVS" + bad),
                 "valueCodeableConcept": {"text": "p.Val600Glu"}}]},
    }


def _strings(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in [*_strings(k), *_strings(v)]]
    if isinstance(value, (list, tuple)):
        return [s for v in value for s in _strings(v)]
    return []


@pytest.mark.parametrize("bad", BAD, ids=["nul", "c0", "del", "surrogate"])
@pytest.mark.parametrize("rtype", list(resources("")))
def test_each_resource_type_with_refused_characters_is_read_cleaned_and_noted(
        rtype: str, bad: str) -> None:
    resource = resources(bad)[rtype]
    base = [r for t, r in resources("").items() if t in ("Patient", "Condition") and t != rtype]
    service = PatientViewService()

    done = service.pipeline.evaluate([*base, resource], AS_OF)
    record, assessment = done.record, done.assessment

    notes = [n for n in record.data_quality if n.message == NOTE]
    assert len(notes) == 1 and REPLACEMENT in notes[0].source
    assert bad not in json.dumps(assessment.to_json(), ensure_ascii=False)
    # nothing of the record the engine may get (refs, labels, texts) keeps the character
    assert not any(bad in s for s in _strings(repr(record)))


def test_the_clean_input_gets_no_note_and_is_not_copied() -> None:
    clean = list(resources("").values())
    before = json.dumps(clean)
    record = read_record(clean)
    assert not any(n.message == NOTE for n in record.data_quality)
    assert json.dumps(clean) == before


@pytest.mark.parametrize("where", ["value", "key", "nested", "list"])
def test_the_fast_check_never_calls_clean_what_cleaning_would_change(where: str) -> None:
    # plainly_clean (orjson + a regex) lets read_record skip the walk of clean_value; it may
    # send a clean value down the walk, but never the reverse. Every code point below U+0100,
    # DEL and surrogates, in each position a resource can hold a string.
    chars = [chr(i) for i in range(0x100)] + ["\ud800", "\udfff", "\\b", "\\f", "\\u0000"]
    for char in chars:
        text = f"a{char}z"
        value = {
            "value": {"text": text},
            "key": {text: 1},
            "nested": {"code": {"coding": [{"display": text, "n": 1.5, "ok": True}]}},
            "list": {"given": ["x", text, None]},
        }[where]
        changed = clean_value(value)[1]
        if plainly_clean(value):
            assert not changed, repr(char)
        if not changed and "\\" not in char:  # a backslash may be a (harmless) false alarm
            assert plainly_clean(value), repr(char)  # the fast path is taken for clean text


def test_two_ids_that_differ_only_by_the_refused_character_stay_two_resources() -> None:
    a = {"resourceType": "Observation", "id": "tg\u0000", "status": "final",
         "code": _cc(LOINC, "3013-0", "Tg"), "effectiveDateTime": "2025-01-01",
         "valueQuantity": {"value": 1.0, "unit": "ng/mL"}}
    b = {**a, "id": "tg", "effectiveDateTime": "2025-06-01",
         "valueQuantity": {"value": 2.0, "unit": "ng/mL"}}
    record = read_record([a, b])
    assert sorted(t.source for t in record.thyroglobulin) == ["Observation/tg",
                                                              "Observation/tg" + REPLACEMENT]


@pytest.mark.parametrize("bad", BAD, ids=["nul", "c0", "del", "surrogate"])
def test_a_hook_call_with_refused_characters_everywhere_answers_200_with_the_note(
        make_app, bad: str) -> None:
    app = make_app(PLUGINS=["plugin.thyroid"])
    everything = list(resources(bad).values())
    # the Patient keeps its id: another id than context.patientId is refused (412) before reading
    patient = {**everything[0], "id": "p1"}
    body = {
        "hook": "patient-view", "hookInstance": str(uuid.uuid4()),
        "context": {"userId": "Practitioner/x", "patientId": "p1"},
        "prefetch": {"patient": patient, "conditions": None, "observations": {
            "resourceType": "Bundle", "type": "searchset",
            "entry": [{"resource": r} for r in everything[1:]]}},
    }
    # json.dumps writes "\u0000" and "\ud800" as escapes: the body itself is valid JSON
    response = app.test_client().post("/cds-services/rair-patient-view",
                                      data=json.dumps(body), content_type="application/json")

    if bad == "\ud800":  # the protocol layer refuses a lone surrogate in the body itself
        assert response.status_code == 400
        assert response.get_json()["resourceType"] == "OperationOutcome"
        return
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    cards = response.get_json()["cards"]
    detail = "\n".join(c.get("detail", "") for c in cards)
    assert "control characters or invalid Unicode" in detail
    assert bad not in response.get_data(as_text=True)
