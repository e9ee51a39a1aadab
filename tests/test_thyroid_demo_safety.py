"""The demo record summary's safety data (issue 9 item 8): the readings the drug warnings
depend on, chosen as the rules choose them (plugin/thyroid/demo/summary.py ``safety``)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from plugin.thyroid.clinical_model import (
    BloodPressure,
    ClinicalFlag,
    LabResult,
    PatientRecord,
    PregnancyStatus,
)
from plugin.thyroid.demo.summary import summarize
from plugin.thyroid.facts.builder import to_facts
from plugin.thyroid.reading.record import read_record
from plugin.thyroid.samples import evaluation_date, sample_index

D = dt.date
AS_OF = D(2026, 11, 27)


def test_safety_shows_the_latest_reading_the_rules_use_and_none_on_file():
    record = PatientRecord(
        patient_source="Patient/p1", birth_date=D(1990, 1, 1), sex="female",
        blood_pressures=[BloodPressure("Observation/bp-old", D(2026, 9, 1), 150, 95),
                         BloodPressure("Observation/bp-new", D(2026, 11, 10), 128, 82),
                         # after the evaluation date and undated: never "latest"
                         BloodPressure("Observation/bp-future", D(2026, 12, 20), 190, 110),
                         BloodPressure("Observation/bp-undated", None, 200, 120)],
        pregnancy=[PregnancyStatus("Observation/preg-1", D(2026, 11, 1), False)],
        lactation=[ClinicalFlag("Observation/lact-1", D(2026, 10, 1), True)],
        qtc_ms=[LabResult("Observation/qtc-1", D(2026, 11, 2), 482.0, "ms")],
    )
    safety = summarize(record, AS_OF)["safety"]
    assert safety["bloodPressure"] == {"source": "Observation/bp-new", "date": "2026-11-10",
                                       "systolic": 128, "diastolic": 82}
    assert safety["pregnancy"] == {"source": "Observation/preg-1", "date": "2026-11-01",
                                   "pregnant": False}
    assert safety["lactation"]["lactating"] is True and safety["lactation"]["date"] == "2026-10-01"
    assert safety["qtc"] == {"source": "Observation/qtc-1", "date": "2026-11-02", "valueMs": 482.0}
    assert safety["potassium"] is None  # the page says "none on file"
    # the same reading the rules' W-HTN / W-QT facts name (one choice of "latest")
    (fact,) = [f for f in to_facts(record, AS_OF) if f["type"] == "safety"]
    assert fact["bp_label"] == "Blood pressure 128/82 mmHg on 2026-11-10"
    assert fact["qt_label"].startswith("QTc 482 ms on 2026-11-02")


def test_every_sample_summary_has_the_safety_section():
    for sample in sample_index():
        bundle = json.loads(Path(sample["bundle"]).read_text(encoding="utf-8"))
        record = read_record([e["resource"] for e in bundle["entry"]])
        safety = summarize(record, D.fromisoformat(evaluation_date()))["safety"]
        assert set(safety) == {"bloodPressure", "pregnancy", "lactation", "qtc", "potassium"}
