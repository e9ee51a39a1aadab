"""The demo page's record summary (plugin/thyroid/record_summary.py), from records built here."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from plugin.thyroid.clinical_model import (
    CancerDiagnosis,
    DiseaseStatus,
    DiseaseStatusAssessment,
    Histology,
    LesionSum,
    NewLesion,
    PatientRecord,
    RadioiodineAdministration,
    RadioiodineScan,
    RaiIntent,
    ScanKind,
    StopReason,
    TherapyExposure,
    Uptake,
    Variant,
    VariantKind,
)
from plugin.thyroid.record_summary import meets_recist_pd, summarize, variant_label

D = dt.date
AS_OF = D(2026, 11, 27)


def _rai(source, day, mbq, intent=RaiIntent.THERAPEUTIC):
    return RadioiodineAdministration(source=source, date=day, activity_mbq=mbq, intent=intent)


def _sum(source, day, mm):
    return LesionSum(source=source, date=day, sum_mm=mm)


@pytest.mark.parametrize(
    ("nadir", "value", "pd"),
    [
        (20.0, 24.0, False),  # C1a: +20 % but only +4 mm
        (30.0, 35.7, False),  # +19 %
        (30.0, 36.0, True),  # +20 % and +6 mm
        (25.0, 30.0, True),  # exactly +20 % and exactly +5 mm
        (100.0, 104.9, False),
    ],
)
def test_recist_pd_needs_twenty_percent_and_five_mm(nadir, value, pd):
    assert meets_recist_pd(nadir, value) is pd


def test_cumulative_activity_counts_therapeutic_administrations_in_date_order():
    record = PatientRecord(
        rai_administrations=[
            _rai("MedicationAdministration/b", D(2021, 6, 1), 5550),
            _rai("MedicationAdministration/a", D(2020, 1, 1), 3700),
            _rai("MedicationAdministration/d", D(2020, 12, 1), 185, RaiIntent.DIAGNOSTIC),
            _rai("MedicationAdministration/c", D(2022, 1, 1), None),
        ]
    )
    rai = summarize(record, AS_OF)["rai"]
    assert [a["source"][-1] for a in rai["administrations"]] == ["a", "d", "b", "c"]
    assert [a["cumulativeTherapeuticMBq"] for a in rai["administrations"]] == [
        3700, 3700, 9250, 9250
    ]
    assert rai["administrations"][0]["activityMCi"] == 100.0
    assert rai["cumulativeTherapeuticMBq"] == 9250
    assert rai["totalAdministeredMBq"] == 9435
    assert rai["unknownActivity"] == 1
    assert rai["thresholdMBq"] == 22200
    assert rai["aboveThreshold"] is False


def test_exactly_600_mci_is_not_above_the_threshold():
    record = PatientRecord(
        rai_administrations=[_rai(f"MedicationAdministration/{i}", D(2018 + i, 1, 1), 5550)
                             for i in range(4)]
    )
    rai = summarize(record, AS_OF)["rai"]
    assert rai["cumulativeTherapeuticMBq"] == 22200
    assert rai["cumulativeTherapeuticMCi"] == 600.0
    assert rai["aboveThreshold"] is False


def test_pd_point_is_marked_against_the_nadir_of_the_episode():
    record = PatientRecord(
        rai_administrations=[_rai("MedicationAdministration/rai", D(2023, 1, 10), 5550)],
        lesion_sums=[
            _sum("Observation/s0", D(2022, 10, 1), 20.0),  # before the episode: not a comparator
            _sum("Observation/s1", D(2023, 6, 1), 40.0),
            _sum("Observation/s2", D(2024, 1, 1), 30.0),  # nadir
            _sum("Observation/s3", D(2024, 7, 1), 34.0),  # +13 %
            _sum("Observation/s4", D(2025, 3, 1), 36.5),  # +21.7 %, +6.5 mm: PD
            _sum("Observation/s5", D(2025, 9, 1), 44.0),  # still PD, not marked again
        ],
    )
    events = summarize(record, AS_OF)["progression"]["events"]
    computed = [e for e in events if e["kind"] == "recist-computed"]
    assert len(computed) == 1
    pd = computed[0]
    assert pd["source"] == "Observation/s4"
    assert pd["nadirSource"] == "Observation/s2"
    assert pd["nadirMm"] == 30.0
    assert pd["increasePercent"] == 21.7


def test_nadir_restarts_when_a_systemic_therapy_starts():
    # C1b: on treatment, PD can occur while the sum is still below the pre-treatment baseline
    record = PatientRecord(
        lesion_sums=[
            _sum("Observation/a", D(2023, 1, 1), 60.0),
            _sum("Observation/b", D(2023, 8, 1), 30.0),
            _sum("Observation/c", D(2024, 2, 1), 40.0),
        ],
        therapies=[TherapyExposure(source="MedicationStatement/len", drug="lenvatinib",
                                   start=D(2023, 3, 1))],
    )
    summary = summarize(record, AS_OF)
    computed = [e for e in summary["progression"]["events"] if e["kind"] == "recist-computed"]
    assert [e["source"] for e in computed] == ["Observation/c"]
    assert summary["progression"]["latestPdDate"] == "2024-02-01"


def test_coded_progression_and_new_lesions_are_pd_evidence():
    record = PatientRecord(
        new_lesions=[NewLesion(source="Observation/nl", date=D(2026, 2, 1))],
        disease_statuses=[
            DiseaseStatusAssessment(source="Observation/ds1", date=D(2026, 5, 1),
                                    status=DiseaseStatus.WORSENED),
            DiseaseStatusAssessment(source="Observation/ds0", date=D(2025, 5, 1),
                                    status=DiseaseStatus.STABLE),
        ],
    )
    progression = summarize(record, AS_OF)["progression"]
    assert [e["kind"] for e in progression["events"]] == ["status", "new-lesion", "status-worsened"]
    assert progression["latestPdDate"] == "2026-05-01"


def test_summary_is_json_with_labels_for_display():
    record = PatientRecord(
        patient_source="Patient/p1",
        birth_date=D(1960, 12, 1),
        sex="female",
        diagnoses=[CancerDiagnosis(source="Condition/c", histology=Histology.PTC,
                                   onset=D(2015, 3, 1), histology_evidence="ICD-O-3 8260/3")],
        scans=[RadioiodineScan(source="Observation/wbs", date=D(2023, 1, 17),
                               kind=ScanKind.POST_THERAPY, uptake=Uptake.NO_LESIONS,
                               tsh_miu_per_l=85.0)],
        variants=[
            Variant(source="Observation/v0", gene="NRAS", present=False, kind=VariantKind.OTHER),
            Variant(source="Observation/v1", gene="RET", present=True, kind=VariantKind.FUSION,
                    alteration="fusion", partner="CCDC6"),
        ],
        therapies=[TherapyExposure(source="MedicationStatement/x", drug="lenvatinib",
                                   start=D(2024, 1, 1), end=D(2025, 1, 1),
                                   stop_reason=StopReason.PROGRESSION, status="stopped")],
    )
    summary = summarize(record, AS_OF)
    json.dumps(summary)  # JSON-safe
    assert summary["patient"]["age"] == 65
    assert summary["diagnoses"][0]["label"] == "Papillary thyroid carcinoma"
    assert summary["scans"][0] == {
        "source": "Observation/wbs", "date": "2023-01-17", "kind": "post-therapy",
        "kindInferred": False, "uptake": "none", "tsh": 85.0,
    }
    assert [f["label"] for f in summary["molecular"]["findings"]] == [
        "CCDC6::RET fusion", "NRAS: not detected"
    ]
    assert summary["therapies"][0]["stopReason"] == "progression"


@pytest.mark.parametrize(
    ("args", "label"),
    [
        (("BRAF", "V600E", None, True, False), "BRAF V600E"),
        (("NTRK3", "fusion", None, True, False), "NTRK3 fusion"),
        (("RET", None, None, False, True), "RET fusion: not detected"),
        (("TERT", "C228T", None, True, False), "TERT C228T"),
    ],
)
def test_variant_labels(args, label):
    assert variant_label(*args) == label
