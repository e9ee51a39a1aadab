"""The FHIR reader: radioiodine, scans, course, safety data, therapy, diagnosis, input shapes."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from plugin.thyroid.clinical_model import (
    DiseaseStatus,
    Histology,
    RaiIntent,
    RecistResponse,
    ScanKind,
    StopReason,
    Uptake,
)
from plugin.thyroid.facts.derivation import derive
from plugin.thyroid.knowledge.codes import load_codes, normalise_system
from plugin.thyroid.reading.record import activity_mbq, is_i131, read_record, recognise_drug

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "fhir"
SCT, LOINC, RAIR = "http://snomed.info/sct", "http://loinc.org", \
    "https://rair-cds.org/fhir/CodeSystem/concepts"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
I131 = {"coding": [{"system": SCT, "code": "111160004"}]}


def _q(value, unit):
    quantity = {"value": value}
    if unit:
        quantity.update(unit=unit, system="http://unitsofmeasure.org", code=unit)
    return quantity


def _rai(rtype, quantity, category=None, date="2024-02-01"):
    if rtype == "MedicationAdministration":
        res = {"resourceType": rtype, "id": "r1", "status": "completed",
               "medicationCodeableConcept": I131, "effectiveDateTime": date,
               "dosage": {"dose": quantity}}
    elif rtype == "MedicationStatement":
        res = {"resourceType": rtype, "id": "r1", "status": "completed",
               "medicationCodeableConcept": I131, "effectiveDateTime": date,
               "dosage": [{"doseAndRate": [{"doseQuantity": quantity}]}]}
    else:
        res = {"resourceType": rtype, "id": "r1", "status": "completed",
               "code": {"coding": [{"system": SCT, "code": "440252007"}]},
               "usedCode": [{"text": "Iodine-131"}], "performedDateTime": date,
               "extension": [{"url": "https://rair-cds.org/fhir/StructureDefinition/"
                                     "administered-activity", "valueQuantity": quantity}]}
    if category:
        res["category"] = {"coding": [{"system": RAIR, "code": category}]}
    return res


RAI_TYPES = ["MedicationAdministration", "MedicationStatement", "Procedure"]


@pytest.mark.parametrize("rtype", RAI_TYPES)
@pytest.mark.parametrize("value,unit,mbq", [
    (150, "mCi", 5550), (601, "mCi", 22237), (600, "mCi", 22200), (5550, "MBq", 5550),
    (5.55, "GBq", 5550), (22.237, "GBq", 22237), (0.5, "mCi", 19), (1.5, "MBq", 2),
])
def test_rai_activity_in_each_unit_and_resource_type(rtype, value, unit, mbq):
    (adm,) = read_record([_rai(rtype, _q(value, unit))]).rai_administrations
    assert adm.activity_mbq == mbq
    assert adm.date == dt.date(2024, 2, 1)


@pytest.mark.parametrize("rtype", RAI_TYPES)
def test_unitless_activity_is_unknown_and_noted(rtype):
    record = read_record([_rai(rtype, _q(150, None))])
    (adm,) = record.rai_administrations
    assert (adm.activity_mbq, adm.intent) == (None, RaiIntent.UNKNOWN)
    assert any(n.missing and "unit" in n.missing for n in record.data_quality)
    assert any(n.missing and "intent" in n.missing for n in record.data_quality)


@pytest.mark.parametrize("rtype", RAI_TYPES)
def test_unitless_activity_with_coded_intent_keeps_intent(rtype):
    (adm,) = read_record([_rai(rtype, _q(150, None), "therapeutic")]).rai_administrations
    assert (adm.activity_mbq, adm.intent, adm.intent_coded) == (None, RaiIntent.THERAPEUTIC, True)


@pytest.mark.parametrize("value,unit,intent", [
    (29, "mCi", RaiIntent.DIAGNOSTIC), (30, "mCi", RaiIntent.THERAPEUTIC),
    (1109, "MBq", RaiIntent.DIAGNOSTIC), (1.11, "GBq", RaiIntent.THERAPEUTIC),
])
def test_intent_from_activity_threshold(value, unit, intent):
    (adm,) = read_record([_rai("MedicationAdministration", _q(value, unit))]).rai_administrations
    assert (adm.intent, adm.intent_coded) == (intent, False)


def test_coded_intent_wins_over_activity_and_threshold_is_configurable():
    low = _rai("MedicationAdministration", _q(10, "mCi"), "therapeutic")
    (adm,) = read_record([low]).rai_administrations
    assert (adm.intent, adm.intent_coded) == (RaiIntent.THERAPEUTIC, True)
    plain = _rai("MedicationAdministration", _q(40, "mCi"))
    (adm,) = read_record([plain], diagnostic_below_mbq=2000).rai_administrations
    assert adm.intent is RaiIntent.DIAGNOSTIC


def test_activity_mbq_api():
    assert activity_mbq({"value": 150, "code": "mCi"}) == 5550
    assert activity_mbq({"value": 150, "unit": "mCi"}) == 5550
    assert activity_mbq({"value": 150}) is None
    assert activity_mbq({"value": 150, "code": "mBq"}) is None  # millibecquerel is not MBq
    assert activity_mbq({"code": "mCi"}) is None
    assert activity_mbq(None) is None


def test_medication_reference_resolves_in_input_and_contained():
    contained = _rai("MedicationAdministration", _q(100, "mCi"))
    del contained["medicationCodeableConcept"]
    contained["medicationReference"] = {"reference": "#m"}
    contained["contained"] = [{"resourceType": "Medication", "id": "m", "code": I131}]
    referenced = dict(contained, id="r2", medicationReference={"reference": "Medication/i"})
    del referenced["contained"]
    medication = {"resourceType": "Medication", "id": "i", "code": {"text": "Sodium iodide I 131"}}
    record = read_record([{"resourceType": "Bundle", "type": "collection", "entry": [
        {"resource": contained}, {"resource": referenced}, {"resource": medication}]}])
    assert [a.activity_mbq for a in record.rai_administrations] == [3700, 3700]


def test_unresolved_medication_reference_is_noted():
    res = _rai("MedicationAdministration", _q(100, "mCi"))
    del res["medicationCodeableConcept"]
    res["medicationReference"] = {"reference": "Medication/nowhere"}
    record = read_record([res])
    assert record.rai_administrations == []
    assert any("could not be resolved" in n.message for n in record.data_quality)


@pytest.mark.parametrize("concept,expected", [
    (I131, True), ({"coding": [{"system": RAIR, "code": "i131"}]}, True),
    ({"text": "Radioactive iodine ablation"}, True), ({"text": "I-131 100 mCi"}, True),
    ({"text": "iodine 131"}, True), ({"text": "Potassium iodide"}, False),
    ({"text": "Iodinated contrast"}, False), (None, False),
])
def test_is_i131(concept, expected):
    assert is_i131(concept) is expected


@pytest.mark.parametrize("concept,drugs", [
    ({"coding": [{"system": RXNORM, "code": "1603296"}]}, ["lenvatinib"]),
    ({"coding": [{"system": RXNORM + "/", "code": "1603303",
                  "display": "Lenvima 10 MG Oral Capsule"}]}, ["lenvatinib"]),
    ({"text": "Tafinlar 75 mg + Mekinist 2 mg"}, ["dabrafenib", "trametinib"]),
    ({"coding": [{"system": RXNORM, "code": "1424911"}, {"system": RXNORM, "code": "1425099"}]},
     ["dabrafenib", "trametinib"]),
    ({"coding": [{"system": RXNORM, "code": "495881", "display": "lenvatinib"}]}, ["sorafenib"]),
    ({"resourceType": "Medication", "code": {"text": "Combination pack"}, "ingredient": [
        {"itemCodeableConcept": {"coding": [{"system": RXNORM, "code": "2370147"}]}}]},
     ["selpercatinib"]),
    ({"text": "levothyroxine"}, []), (None, []),
])
def test_recognise_drug(concept, drugs):
    assert recognise_drug(concept) == drugs


def test_therapy_history_from_statement_request_and_administration():
    resources = [
        {"resourceType": "MedicationStatement", "id": "s", "status": "stopped",
         "medicationCodeableConcept": {"text": "Nexavar 200 mg tablet"},
         "effectivePeriod": {"start": "2020-01-01", "end": "2021-06-30"},
         "statusReason": [{"coding": [{"system": RAIR, "code": "stopped-intolerance"}]}]},
        {"resourceType": "MedicationRequest", "id": "q", "status": "active", "intent": "order",
         "medicationCodeableConcept": {"coding": [{"system": RXNORM, "code": "1363268"}]},
         "authoredOn": "2021-07-15", "subject": {"reference": "Patient/p"}},
        {"resourceType": "MedicationAdministration", "id": "a", "status": "completed",
         "medicationCodeableConcept": {"text": "selpercatinib"}, "subject": {"reference": "P/p"},
         "effectiveDateTime": "2022-02-02T10:00:00+02:00"},
        {"resourceType": "MedicationStatement", "id": "x", "status": "entered-in-error",
         "medicationCodeableConcept": {"text": "lenvatinib"}},
    ]
    record = read_record(resources)
    got = {(t.drug, t.start, t.end, t.stop_reason, t.status) for t in record.therapies}
    assert got == {
        ("sorafenib", dt.date(2020, 1, 1), dt.date(2021, 6, 30), StopReason.INTOLERANCE,
         "stopped"),
        ("cabozantinib", dt.date(2021, 7, 15), None, None, "active"),
        ("selpercatinib", dt.date(2022, 2, 2), None, None, "completed"),
    }
    assert any("entered-in-error" in n.message for n in record.data_quality)


def _scenario():
    path = FIXTURES / "patient.progression_after_lenvatinib.bundle.json"
    return read_record([json.loads(path.read_text(encoding="utf-8"))])


def test_scenario_patient_diagnosis_and_rai():
    record = _scenario()
    assert (record.patient_source, record.birth_date, record.sex) == (
        "Patient/p1", dt.date(1961, 7, 15), "female")
    (dx,) = record.diagnoses
    assert (dx.histology, dx.histology_evidence) == (Histology.PTC, "ICD-O-3 8260/3")
    got = {(a.source, a.activity_mbq, a.intent, a.intent_coded)
           for a in record.rai_administrations}
    assert got == {("MedicationAdministration/rai1", 5550, RaiIntent.THERAPEUTIC, True),
                   ("Procedure/rai2", 5550, RaiIntent.THERAPEUTIC, False),
                   ("MedicationStatement/rai-dx", 74, RaiIntent.DIAGNOSTIC, False)}


def test_scenario_scan_kind_is_inferred_by_the_derivation_not_the_reader():
    record = _scenario()
    (scan,) = record.scans
    assert (scan.kind, scan.uptake, scan.tsh_miu_per_l) == (
        ScanKind.UNKNOWN, Uptake.NO_LESIONS, 85.0)
    reading = derive(record, dt.date(2026, 11, 27)).scan_reading(scan)
    assert (reading.kind, reading.inferred) == ("post-therapy", True)


@pytest.mark.parametrize("days,kind", [(1, "unknown"), (2, "post-therapy"),
                                       (14, "post-therapy"), (15, "unknown")])
def test_post_therapy_window(days, kind):
    dose = _rai("MedicationAdministration", _q(100, "mCi"), date="2024-01-01")
    scan = {"resourceType": "Observation", "id": "s", "status": "final",
            "code": {"coding": [{"system": RAIR, "code": "rai-wbs"}]},
            "effectiveDateTime": (dt.date(2024, 1, 1) + dt.timedelta(days)).isoformat(),
            "valueCodeableConcept": {"coding": [{"system": RAIR, "code": "uptake-all-lesions"}]}}
    record = read_record([dose, scan])
    (found,) = record.scans
    assert found.kind is ScanKind.UNKNOWN  # the reader infers nothing
    assert derive(record, dt.date(2026, 11, 27)).scans[0].kind == kind


def test_coded_scan_kind_and_diagnostic_report_scan():
    report = {"resourceType": "DiagnosticReport", "id": "d", "status": "final",
              "code": {"coding": [{"system": RAIR, "code": "rai-wbs"}]},
              "category": [{"coding": [{"system": RAIR, "code": "diagnostic-scan"}]}],
              "effectiveDateTime": "2024-01-05",
              "conclusionCode": [{"coding": [{"system": RAIR, "code": "uptake-some-lesions"}]}]}
    (scan,) = read_record([report]).scans
    assert (scan.kind, scan.uptake) == (ScanKind.DIAGNOSTIC, Uptake.SOME_LESIONS)


def test_scenario_progression_inputs():
    record = _scenario()
    assert [s.status for s in record.disease_statuses] == [DiseaseStatus.WORSENED]
    assert [r.response for r in record.recist_responses] == [RecistResponse.PD]
    assert sorted(s.sum_mm for s in record.lesion_sums) == [42.0, 55.0]  # 4.2 cm -> 42 mm
    assert [n.source for n in record.new_lesions] == ["Observation/newlesion1"]
    assert [(t.value, t.unit) for t in record.thyroglobulin] == [(12.5, "ng/mL")]
    assert [t.value for t in record.tg_antibodies] == [0.9]
    (cum,) = record.cumulative_summaries
    assert (cum.activity_mbq, cum.raw_value, cum.raw_unit) == (None, 300.0, None)
    assert [f.value for f in record.oligoprogression] == [False]
    assert [f.value for f in record.structural_disease] == [True]
    assert [f.value for f in record.symptomatic] == [True]
    assert [f.value for f in record.airway_invasion] == [True]
    assert [(h.value, h.active, h.date) for h in record.hemorrhage] == [
        (True, True, dt.date(2025, 5, 20))]
    assert [i.source for i in record.iodine_exposures] == ["Procedure/ct1"]
    assert [(lt.source, lt.date) for lt in record.local_therapies] == [
        ("Procedure/ebrt1", dt.date(2022, 4, 1))]


def test_scenario_safety_data_and_therapies():
    record = _scenario()
    (bp,) = record.blood_pressures
    assert (bp.systolic, bp.diastolic) == (150.0, 92.0)
    assert [q.value for q in record.qtc_ms] == [478.0]
    assert [k.value for k in record.potassium] == [3.3]
    assert [p.pregnant for p in record.pregnancy] == [False]
    assert [f.value for f in record.lactation] == [False]
    assert [f.value for f in record.congenital_long_qt] == [True]
    got = {(t.drug, t.stop_reason, t.start) for t in record.therapies}
    assert got == {("lenvatinib", StopReason.PROGRESSION, dt.date(2023, 1, 10)),
                   ("cabozantinib", None, dt.date(2025, 1, 6))}  # 22:30 at -05:00, UTC day
    # Only the unitless cumulative activity is a quality problem in this record.
    assert [n.source for n in record.data_quality] == ["Observation/cum1"]


@pytest.mark.parametrize("unit,value,ok", [("cm", 3, 30.0), ("mm", 30, 30.0), ("in", 1, None),
                                           (None, 30, None)])
def test_lesion_sum_units(unit, value, ok):
    obs = {"resourceType": "Observation", "id": "l", "status": "final",
           "code": {"coding": [{"system": RAIR, "code": "target-lesion-sum"}]},
           "effectiveDateTime": "2024-01-01", "valueQuantity": _q(value, unit)}
    record = read_record([obs])
    assert [s.sum_mm for s in record.lesion_sums] == ([ok] if ok else [])
    assert bool(record.data_quality) is (ok is None)


@pytest.mark.parametrize("code,answer,pregnant", [("LA15173-0", "pregnant", True),
                                                  ("LA26683-5", "not", False)])
def test_pregnancy_status(code, answer, pregnant):
    obs = {"resourceType": "Observation", "id": answer, "status": "final",
           "code": {"coding": [{"system": LOINC, "code": "82810-3"}]},
           "valueCodeableConcept": {"coding": [{"system": LOINC, "code": code}]}}
    assert [p.pregnant for p in read_record([obs]).pregnancy] == [pregnant]


@pytest.mark.parametrize("condition,histology", [
    ({"code": {"coding": [{"system": SCT, "code": "363478007"}], "text": "Anaplastic thyroid"}},
     Histology.ATC),
    ({"code": {"coding": [{"system": SCT, "code": "255029007"}]}}, Histology.PTC),
    ({"code": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": "C73"}],
               "text": "Hurthle cell carcinoma"}}, Histology.OTC),
    ({"code": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": "C73"}],
               "text": "poorly differentiated carcinoma with papillary areas"}}, Histology.PDTC),
    ({"code": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": "C73"}]},
      "extension": [{"url": "http://hl7.org/fhir/us/mcode/StructureDefinition/"
                            "mcode-histology-morphology-behavior",
                     "valueCodeableConcept": {"coding": [{
                         "system": "http://terminology.hl7.org/CodeSystem/icd-o-3",
                         "code": "8510/3"}]}}]}, Histology.MTC),
    ({"code": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": "C73"}]}},
     None),
])
def test_histology_order(condition, histology):
    record = read_record([{"resourceType": "Condition", "id": "c",
                           "subject": {"reference": "Patient/p"}, **condition}])
    (dx,) = record.diagnoses
    assert dx.histology is histology
    assert [n.missing for n in record.data_quality] == ([] if histology else ["histology"])


def test_nested_bundles_and_parameters_are_flattened():
    obs = {"resourceType": "Observation", "id": "tg", "status": "final",
           "code": {"coding": [{"system": LOINC, "code": "3013-0"}]},
           "effectiveDateTime": "2024-01-01", "valueQuantity": _q(2.0, "ng/mL")}
    inner = {"resourceType": "Bundle", "type": "searchset", "entry": [{"resource": obs}]}
    params = {"resourceType": "Parameters", "parameter": [
        {"name": "x", "part": [{"name": "y", "resource": dict(obs, id="tg2")}]}]}
    outer = {"resourceType": "Bundle", "type": "transaction",
             "entry": [{"resource": inner}, {"resource": params}]}
    record = read_record([outer])
    assert sorted(t.source for t in record.thyroglobulin) == ["Observation/tg", "Observation/tg2"]


def test_malformed_resources_never_raise():
    record = read_record([
        {"resourceType": "Observation", "id": "bad", "status": "final",
         "code": {"coding": [{"system": LOINC, "code": "3013-0"}]}, "valueQuantity": "twelve"},
        {"resourceType": "MedicationAdministration", "id": "m", "dosage": [1, 2],
         "medicationCodeableConcept": I131},
        {"id": "no-type"}, "not a dict", {"resourceType": "Practitioner", "id": "dr"},
    ])
    sources = {n.source for n in record.data_quality}
    assert {"Observation/bad", "MedicationAdministration/m"} <= sources
    assert not any(n.source.startswith("Practitioner") for n in record.data_quality)


def test_partial_dates_are_unknown_and_noted():
    record = read_record([{"resourceType": "Patient", "id": "p", "birthDate": "1970"},
                          _rai("MedicationAdministration", _q(100, "mCi"), date="2019-05")])
    assert record.birth_date is None
    assert record.rai_administrations[0].date is None
    assert {n.missing for n in record.data_quality} >= {"birth date", "date"}


@pytest.mark.parametrize("a,b", [
    ("http://www.genenames.org/geneId", "https://genenames.org/geneid/"),
    ("http://loinc.org", "https://loinc.org/"),
    ("http://www.ncbi.nlm.nih.gov/nuccore/", "http://www.ncbi.nlm.nih.gov/nuccore"),
])
def test_system_normalisation(a, b):
    assert normalise_system(a) == normalise_system(b)


def test_site_codes_file_adds_local_codes(tmp_path):
    import yaml

    from plugin.package_data import data_dir

    data = yaml.safe_load((data_dir("rules") / "thyroid" / "codes.yaml").read_text("utf-8"))
    data["concepts"]["thyroglobulin"].append("http://hospital.example/lab#TG")
    path = tmp_path / "codes.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    obs = {"resourceType": "Observation", "id": "tg", "status": "final",
           "code": {"coding": [{"system": "http://hospital.example/lab", "code": "TG"}]},
           "valueQuantity": _q(3.0, "ng/mL")}
    assert read_record([obs]).thyroglobulin == []
    assert len(read_record([obs], codes=load_codes(path)).thyroglobulin) == 1
