"""The demo page's record summary (plugin/thyroid/demo/summary.py), from records built here."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

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
from plugin.thyroid.demo.summary import summarize, variant_label
from plugin.thyroid.facts.builder import to_facts
from plugin.thyroid.facts.progression import meets_recist_pd
from plugin.thyroid.reading.record import read_record
from plugin.thyroid.samples import evaluation_date, sample_index

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
            _sum("Observation/s5", D(2025, 9, 1), 44.0),  # still PD over the same nadir
        ],
    )
    progression = summarize(record, AS_OF)["progression"]
    computed = [e for e in progression["events"] if e["kind"] == "recist-computed"]
    # the rules count every sum that is PD over the nadir (s5 too: it decides how recent the
    # PD is, C2), so the summary marks both
    assert [e["source"] for e in computed] == ["Observation/s4", "Observation/s5"]
    pd = computed[0]
    assert pd["nadirSource"] == "Observation/s2"
    assert pd["nadirMm"] == 30.0
    assert pd["increasePercent"] == 21.7
    assert computed[1]["nadirSource"] == "Observation/s2"
    assert progression["latestPdDate"] == "2025-09-01"
    # ... as the rules do: 2025-09-01 is within 14 months of 2026-10-01, so the PD is recent
    (prog,) = [f for f in to_facts(record, D(2026, 10, 1)) if f["type"] == "progression"]
    assert prog["value"] == "RECENT_PD"
    assert prog["last_pd_days_ago"] == (D(2026, 10, 1) - D(2025, 9, 1)).days


def test_pd_before_the_current_episode_is_not_marked():
    # §A4.5: a later therapeutic RAI starts a new episode; the rules compare no sum across it,
    # and a PD between two RAIs with no systemic therapy is no progression evidence for them
    record = PatientRecord(
        rai_administrations=[
            _rai("MedicationAdministration/r1", D(2020, 1, 10), 3700),
            _rai("MedicationAdministration/r2", D(2022, 1, 10), 5550),
        ],
        lesion_sums=[
            _sum("Observation/a", D(2020, 6, 1), 30.0),
            _sum("Observation/b", D(2021, 6, 1), 40.0),  # PD in the earlier episode
            _sum("Observation/c", D(2022, 6, 1), 40.0),
            _sum("Observation/d", D(2023, 6, 1), 42.0),  # +5 %: not PD
        ],
    )
    summary = summarize(record, AS_OF)
    assert [e for e in summary["progression"]["events"] if e["kind"] == "recist-computed"] == []
    assert summary["progression"]["latestPdDate"] is None
    (prog,) = [f for f in to_facts(record, AS_OF) if f["type"] == "progression"]
    assert prog["pd"] is False and prog["value"] == "NO_PD"


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


_PD_KINDS = {"recist-computed", "new-lesion", "recist-coded", "status-worsened"}


@pytest.mark.parametrize("sample", sample_index(), ids=lambda s: s["name"])
def test_sample_pd_points_agree_with_the_assessment(sample):
    # C1, §A4.5: the demo timeline marks PD exactly where the rules see it
    bundle = json.loads(Path(sample["bundle"]).read_text(encoding="utf-8"))
    record = read_record([e["resource"] for e in bundle.get("entry", []) if "resource" in e])
    as_of = D.fromisoformat(evaluation_date())
    progression = summarize(record, as_of)["progression"]
    facts = to_facts(record, as_of)
    (prog,) = [f for f in facts if f["type"] == "progression"]
    shown = {e["source"]: e for e in progression["events"] if e["kind"] in _PD_KINDS}
    computed = {s: e for s, e in shown.items() if e["kind"] == "recist-computed"}
    sums = {s.source for s in record.lesion_sums}
    episode_pd = set(prog["ref"]) if prog["pd"] else set()
    # every RECIST PD of the current episode is marked, and every PD the rules use is shown
    assert {s for s in episode_pd if s in sums} <= set(computed)
    assert episode_pd <= set(shown)
    if prog["pd"]:
        last = as_of - dt.timedelta(days=prog["last_pd_days_ago"])
        assert max(shown[s]["date"] for s in episode_pd) == last.isoformat()
        assert progression["latestPdDate"] >= last.isoformat()
    # a marked point outside the episode is PD on a therapy the rules say was progressed on
    progressed = {f["drug"] for f in facts if f["type"] == "drug" and f["progressed_on"]}
    for source, e in computed.items():
        if source in episode_pd:
            continue
        day = D.fromisoformat(e["date"])
        assert any(
            t.drug in progressed and t.start and t.start <= day and (t.end is None or day <= t.end)
            for t in record.therapies
        ), source
    if not shown:
        assert progression["latestPdDate"] is None
        assert prog["value"] != "RECENT_PD"


# --- RAI history: the rules' own count (to_facts_rai.rai_activity: B0.3, A5, A6, B5, §5)


def _rai_fact(record, as_of=AS_OF):
    (rai,) = [f for f in to_facts(record, as_of) if f["type"] == "rai"]
    return rai


def test_same_day_duplicate_is_counted_once():
    # one 200 mCi dose recorded as a MedicationAdministration and as a Procedure: counting both
    # (29,600 MBq) would fake "above 600 mCi" (JS-v)
    record = PatientRecord(
        rai_administrations=[
            _rai("MedicationAdministration/a", D(2021, 3, 1), 7400),
            _rai("Procedure/a", D(2021, 3, 1), 7400),
            _rai("MedicationAdministration/b", D(2023, 3, 1), 7400),
        ]
    )
    rai = summarize(record, AS_OF)["rai"]
    assert rai["cumulativeTherapeuticMBq"] == 14800
    assert rai["therapeuticCount"] == 2
    assert rai["cumulativeComplete"] is True
    assert rai["aboveThreshold"] is False
    rows = {r["source"]: r for r in rai["administrations"]}
    assert rows["MedicationAdministration/a"]["counted"] is True
    assert rows["Procedure/a"]["counted"] is False
    assert rows["Procedure/a"]["sameDayAs"] == "MedicationAdministration/a"
    assert [r["cumulativeTherapeuticMBq"] for r in rai["administrations"]] == [7400, 7400, 14800]
    fact = _rai_fact(record)
    assert (fact["cumulative_mbq"], fact["therapeutic_count"]) == (14800, 2)


def test_diagnostic_coded_dose_of_therapeutic_size_is_not_counted_as_therapeutic():
    # A6: coded diagnostic but 3,700 MBq (>= the 1,110 MBq cut): the intent is unknown, so it is
    # not added, and the total is only a lower bound (the dose might have been therapeutic)
    record = PatientRecord(
        rai_administrations=[
            _rai("MedicationAdministration/t", D(2020, 1, 1), 5550),
            RadioiodineAdministration("MedicationAdministration/x", D(2021, 1, 1), 3700,
                                      RaiIntent.DIAGNOSTIC, intent_coded=True),
        ]
    )
    rai = summarize(record, AS_OF)["rai"]
    assert rai["cumulativeTherapeuticMBq"] == 5550
    assert rai["cumulativeComplete"] is False
    assert rai["unknownIntent"] == 1
    row = rai["administrations"][1]
    assert (row["intent"], row["recordedIntent"], row["intentConflict"]) == (
        "unknown", "diagnostic", True
    )
    assert row["counted"] is False and row["cumulativeTherapeuticMBq"] == 5550
    fact = _rai_fact(record)
    assert fact["cumulative_mbq"] == 5550 and fact["activity_complete"] is False


def test_intent_is_inferred_from_the_activity_when_missing():
    # B0.3: no intent recorded -> below 1,110 MBq diagnostic, otherwise therapeutic
    record = PatientRecord(
        rai_administrations=[
            _rai("MedicationAdministration/d", D(2020, 1, 1), 1100, RaiIntent.UNKNOWN),
            _rai("MedicationAdministration/t", D(2021, 1, 1), 1110, RaiIntent.UNKNOWN),
        ]
    )
    rai = summarize(record, AS_OF)["rai"]
    assert [r["intent"] for r in rai["administrations"]] == ["diagnostic", "therapeutic"]
    assert rai["cumulativeTherapeuticMBq"] == 1110 == _rai_fact(record)["cumulative_mbq"]


def test_unknown_activity_makes_the_cumulative_a_lower_bound():
    # 600 mCi known plus a therapeutic dose of unknown activity: at least 22,200 MBq, so neither
    # "exactly at" (W-THRESHOLD-EQUAL) nor "above" can be claimed
    record = PatientRecord(
        rai_administrations=[
            *(_rai(f"MedicationAdministration/{i}", D(2018 + i, 1, 1), 5550) for i in range(4)),
            _rai("MedicationAdministration/u", D(2023, 1, 1), None),
        ]
    )
    rai = summarize(record, AS_OF)["rai"]
    assert rai["cumulativeTherapeuticMBq"] == 22200
    assert rai["cumulativeComplete"] is False
    assert rai["aboveThreshold"] is False and rai["atThreshold"] is False
    assert rai["unknownActivity"] == 1
    fact = _rai_fact(record)
    assert fact["activity_complete"] is False
    assert fact["cumulative_equal"] is False and fact["cumulative_over"] is False


def test_administration_after_the_evaluation_date_is_listed_but_not_counted():
    record = PatientRecord(
        rai_administrations=[
            _rai("MedicationAdministration/a", D(2020, 1, 1), 5550),
            _rai("MedicationAdministration/later", D(2027, 1, 1), 20000),
        ]
    )
    rai = summarize(record, AS_OF)["rai"]
    assert rai["cumulativeTherapeuticMBq"] == 5550 == _rai_fact(record)["cumulative_mbq"]
    assert rai["administrations"][1]["afterEvaluationDate"] is True
    assert rai["administrations"][1]["counted"] is False


_BUNDLES = sorted((Path(__file__).resolve().parents[1] / "fhir_samples" / "thyroid" / "bundles")
                  .glob("*.json"))


@pytest.mark.parametrize("path", _BUNDLES, ids=lambda p: p.stem)
def test_sample_cumulative_activity_agrees_with_the_assessment(path):
    # B5, §5: the demo's cumulative line is the cumulative evidence of the assessment
    bundle = json.loads(path.read_text(encoding="utf-8"))
    record = read_record([e["resource"] for e in bundle.get("entry", []) if "resource" in e])
    rai = summarize(record, AS_OF)["rai"]
    fact = _rai_fact(record)
    assert rai["cumulativeTherapeuticMBq"] == fact["cumulative_mbq"]
    assert rai["cumulativeComplete"] is fact["activity_complete"]
    assert rai["aboveThreshold"] is fact["cumulative_over"]
    assert rai["atThreshold"] is fact["cumulative_equal"]
    assert rai["therapeuticCount"] == fact["therapeutic_count"]
    counted = [r for r in rai["administrations"] if r["counted"]]
    assert sorted(r["source"] for r in counted) == sorted(fact["ref"])
    dated = [r for r in rai["administrations"] if r["date"]]
    if dated and all(r["date"] for r in counted):
        assert dated[-1]["cumulativeTherapeuticMBq"] == fact["cumulative_mbq"]


def test_sample_bundles_are_found():
    assert len(_BUNDLES) >= 30

