"""Issue 3, independent clinical review: regression tests for the defects found and the readings
settled (rules/README.md, "Readings where DOMAIN.md is silent or contradictory").

Every test names, in its docstring, the DOMAIN.md clause it enforces. The theme: contradictory,
undated, duplicated or out-of-episode data must give NOT_ESTABLISHED (or a safer drug list) with
a specific missingData item, never a confident wrong answer.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
import yaml
from test_thyroid_rules_builder import AS_OF, B, rair_pd, stable_avid

from plugin.thyroid import clinical_model as cm
from plugin.thyroid.assessment.builder import assess, base_id
from plugin.thyroid.cli import evaluate_file

ROOT = Path(__file__).resolve().parents[1]
BUNDLES = sorted((ROOT / "fhir_samples" / "thyroid" / "bundles").glob("*.json"))


def run(b: B) -> dict:
    return assess(b.build(), AS_OF).to_json()


def placed(j: dict, drug: str) -> list[tuple[str, dict]]:
    return [(name, t) for name, lst in j["therapies"].items() for t in lst if t["drug"] == drug]


def warning(j: dict, code: str, blocking: bool) -> dict | None:
    return next((w for w in j["warnings"] if (w["code"], w["blocking"]) == (code, blocking)), None)


def has_missing(j: dict, phrase: str) -> bool:
    return any(phrase in m for m in j["missingData"])


# ------------------------------------------------------------------- undated / contradictory


@pytest.mark.parametrize("kind", ["worsened", "new_lesion", "recist_pd"])
def test_undated_pd_evidence_never_allows_no(kind: str) -> None:
    """§A4.5 ("NO_PD needs ... with no PD evidence") and A5 ("NOT_ESTABLISHED, never NO"): PD
    evidence without a date cannot be placed in the episode, so avid stable disease with an
    undated progression report is not rairStatus NO."""
    b = stable_avid()
    if kind == "worsened":
        b.r.disease_statuses.append(
            cm.DiseaseStatusAssessment("Observation/u", None, cm.DiseaseStatus.WORSENED)
        )
    elif kind == "new_lesion":
        b.r.new_lesions.append(cm.NewLesion("Observation/u", None))
    else:
        b.r.recist_responses.append(
            cm.RecistAssessment("Observation/u", None, cm.RecistResponse.PD)
        )
    j = run(b)
    assert j["rairStatus"] == "NOT_ESTABLISHED"
    assert j["progression"] == "UNKNOWN"
    assert j["action"] == "COMPLETE_DATA"
    assert has_missing(j, "date of Observation/u")
    assert "B6" not in j["rulesFired"]


def test_undated_scan_that_disagrees_blocks_no() -> None:
    """A5 and §A3 ("never silently dropped"): an undated negative scan next to an avid dated one
    may be the newer scan, so no scan criterion (and no B6 NO) is read; missingData asks for
    its date."""
    b = stable_avid()
    b.r.scans.append(
        cm.RadioiodineScan("Observation/s9", None, cm.ScanKind.POST_THERAPY, cm.Uptake.NO_LESIONS)
    )
    j = run(b)
    assert j["rairStatus"] == "NOT_ESTABLISHED"
    assert has_missing(j, "date of radioiodine scan Observation/s9")
    assert sum("Observation/s9" in m for m in j["missingData"]) == 1


def test_same_day_contradictory_scans_decide_nothing() -> None:
    """A5 / B1-B4: two reports of the same day with different uptake (none vs all) neither give
    JS-ii nor JS-iv; the status is NOT_ESTABLISHED and missingData asks to reconcile them."""
    j = run(rair_pd().scan("2024-01-15", "post-therapy", "all"))
    assert j["rairStatus"] == "NOT_ESTABLISHED"
    assert j["rairCriteria"] == []
    assert j["action"] == "COMPLETE_DATA"
    assert has_missing(j, "reconcile the radioiodine scan reports of 2024-01-15")


def test_undated_contrast_invalidates_negative_scan() -> None:
    """A3 (stable-iodine contamination within 8 weeks): contrast of unknown date cannot be shown
    to be outside the window, so the negative scan cannot support JS-ii (W-IODINE, COMPLETE_DATA)
    until the contrast is dated."""
    b = rair_pd()
    b.r.iodine_exposures.append(cm.StableIodineExposure("Procedure/c1", None))
    j = run(b)
    assert j["rairStatus"] == "NOT_ESTABLISHED"
    assert warning(j, "W-IODINE", True)
    assert has_missing(j, "date of iodinated contrast Procedure/c1")


def test_undated_airway_invasion_counts() -> None:
    """§A4.1 step 4 / §A4.2 (airway or major-vessel invasion is a patient-level block) and §2.9
    W-BLEED (MDT review for lenvatinib/sorafenib with invasion): an undated invasion finding is
    not ignored."""
    j = run(rair_pd().flag("airway_invasion", None))
    assert j["action"] == "MDT_REVIEW_REQUIRED"
    w = warning(j, "W-BLEED", True)
    assert w and set(w["drugs"]) == {"lenvatinib", "sorafenib"}
    assert has_missing(j, "major-vessel invasion")


def test_undated_hemorrhage_blocks_cabozantinib() -> None:
    """§2.9 W-BLEED ("do not administer" cabozantinib with recent hemorrhage) and §A4.8 (recent =
    <= 3 months or active): a hemorrhage of unknown date counts as recent until dated."""
    b = rair_pd().therapy("lenvatinib", "2024-03-01", "2025-03-01", stop="progression")
    j = run(b.flag("hemorrhage", None))
    # §A4.11 rule 5 (issue 9): sorafenib is held too (DESIGN), so every on-label option is
    # blocked and the action is MDT review (rule 3)
    assert warning(j, "W-BLEED", True)["drugs"] == ["cabozantinib", "sorafenib"]
    assert j["action"] == "MDT_REVIEW_REQUIRED"
    assert has_missing(j, "date of hemorrhage")


def test_undated_pregnancy_is_a_potential_pregnancy() -> None:
    """H4 / §2.9 W-PREG ("potential or confirmed pregnancy"): an undated "pregnant" status gives
    W-PREG (not blocking: it cannot be shown to be current) and asks for a current status."""
    b = rair_pd(sex="female", age=30)
    b.r.pregnancy.append(cm.PregnancyStatus("Observation/pg", None, True))
    j = run(b)
    assert warning(j, "W-PREG", False)
    assert has_missing(j, "undated 'pregnant' status")


def test_future_dated_records_are_ignored_and_reported() -> None:
    """§A2 (evaluate as of the evaluation date, reproducibly) and §A3 (nothing dropped
    silently): progression evidence dated after the evaluation date does not count, and is
    listed."""
    j = run(stable_avid().status("2027-01-01", "worsened").new_lesion("2027-02-01"))
    assert j["rairStatus"] == "NO"
    assert sum("after the evaluation date" in m for m in j["missingData"]) == 2


# ------------------------------------------------------------------------- radioiodine records


def _four_doses(extra: B | None = None) -> B:
    b = B().histology("PTC").tested().bp("2026-11-01", 120, 80)
    for year in range(2019, 2023):
        b.rai(f"{year}-01-01", 5550)
    return b.sum("2024-01-01", 40).sum("2026-06-01", 50)


def test_same_day_duplicate_dose_does_not_fake_js_v() -> None:
    """§5.1 / B5 (JS-v needs cumulative activity > 22,200 MBq) and B0.3/A6 (itemized sum,
    conflicts raise W-DATA-CONFLICT): the same 150 mCi dose recorded twice on one day counts
    once, so 4 x 150 mCi stays at 22,200 MBq (not met, W-THRESHOLD-EQUAL)."""
    j = run(_four_doses().rai("2022-01-01", 5550))
    assert "JS-v" not in j["rairCriteria"]
    assert j["rairStatus"] == "NOT_ESTABLISHED"
    assert warning(j, "W-DATA-CONFLICT", False)
    assert warning(j, "W-THRESHOLD-EQUAL", False)


def test_same_day_records_with_different_activities_leave_a_lower_bound() -> None:
    """B0.3 (never guess) and §5.1 (W-THRESHOLD-EQUAL only for exactly 22,200 MBq): two records
    of one day with different activities count the smaller, and the total is a lower bound."""
    j = run(_four_doses().rai("2022-01-01", 7400))
    assert "JS-v" not in j["rairCriteria"]
    assert not warning(j, "W-THRESHOLD-EQUAL", False)
    assert warning(j, "W-DATA-CONFLICT", False)


def test_unknown_intent_dose_makes_cumulative_a_lower_bound() -> None:
    """§5.1 and A5: an administration of unknown intent and activity may be therapeutic, so
    22,200 MBq of known doses is not "exactly 600 mCi" (no W-THRESHOLD-EQUAL)."""
    b = _four_doses().rai("2023-01-01", None, "unknown", coded=False)
    j = run(b.scan("2019-01-06", uptake="all"))
    assert not warning(j, "W-THRESHOLD-EQUAL", False)
    assert has_missing(j, "intent and activity of the 2023-01-01 RAI")


def test_coded_diagnostic_with_therapeutic_activity_is_not_rai_naive() -> None:
    """A2 (RAI_EVALUATION only without prior therapeutic RAI), A5 and A6: a dose coded
    "diagnostic" but of 150 mCi is contradictory; the patient is not sent for RAI evaluation as
    if RAI-naive: intent unknown, COMPLETE_DATA, W-DATA-CONFLICT."""
    b = (
        B()
        .histology("PTC")
        .rai("2024-01-10", 5550, "diagnostic")
        .scan("2024-01-15", "diagnostic", "none")
        .sum("2025-01-01", 40)
        .sum("2026-06-01", 50)
    )
    j = run(b)
    assert j["action"] == "COMPLETE_DATA"
    assert warning(j, "W-DATA-CONFLICT", False)
    assert has_missing(j, "coded diagnostic but 5550 MBq")


def test_diagnostic_tracer_only_goes_to_rai_evaluation() -> None:
    """A2 and §A4.1 step 2: a diagnostic tracer dose (coded, 5 mCi) is not a therapeutic RAI."""
    b = B().histology("PTC").rai("2024-01-10", 185, "diagnostic")
    j = run(b.scan("2024-01-12", "diagnostic", "none").sum("2025-01-01", 40).sum("2026-06-01", 50))
    assert (j["rairStatus"], j["action"]) == ("NOT_ESTABLISHED", "RAI_EVALUATION")


def test_later_rai_without_its_scan_supersedes_an_older_negative_scan() -> None:
    """B1-B3 with A5: JS-i/ii/iii are read from a scan after the LAST therapeutic RAI; a later
    dose whose post-therapy scan is missing leaves the status NOT_ESTABLISHED (COMPLETE_DATA),
    never YES from the superseded scan."""
    j = run(rair_pd().rai("2024-09-01", 5550))
    assert j["rairStatus"] == "NOT_ESTABLISHED"
    assert j["rairCriteria"] == []
    assert has_missing(j, "post-therapy whole-body scan after the last therapeutic RAI")


def test_js_iv_met_does_not_ask_for_the_scan_it_was_decided_on() -> None:
    """B4 and §2.9 W-DATA-MISSING: when JS-iv is met (PD after an avid post-therapy scan), A5's
    "post-therapy scan before the progression" must not fire (no W-DATA-MISSING, no
    missingData item, A5 not in rulesFired)."""
    b = B().histology("PTC").tested().bp("2026-11-01", 120, 80).rai("2025-01-10", 5550)
    j = run(b.scan("2025-01-15", uptake="all").sum("2025-03-01", 40).sum("2026-06-01", 50))
    assert j["rairCriteria"] == ["JS-iv"]
    assert not any(w["code"] == "W-DATA-MISSING" for w in j["warnings"])
    assert j["missingData"] == []
    assert "A5" not in j["rulesFired"]


# ------------------------------------------------------------------------------ history, PD


def test_pd_on_a_drug_before_the_episode_still_counts() -> None:
    """G1 ("PD on or after a VEGFR TKI") and §A4.5 (episodes limit comparators, not history):
    PD on lenvatinib before a later local therapy keeps lenvatinib out of the proposals
    ("progressed on this drug") and makes cabozantinib on label."""
    b = rair_pd().therapy("lenvatinib", "2024-03-01", "2025-03-01").status("2025-02-01", "worsened")
    b.local("2025-06-01")
    b.r.lesion_sums.clear()
    j = run(b.sum("2025-07-01", 40).sum("2026-06-01", 50))
    assert placed(j, "lenvatinib")[0][0] == "notEligible"
    assert "progressed on this drug" in placed(j, "lenvatinib")[0][1]["reason"]
    assert placed(j, "cabozantinib")[0][0] == "onLabel"


def test_recist_pd_on_a_drug_before_the_episode_counts() -> None:
    """C1/C1b (nadir on the current treatment) for the history: RECIST PD computed within the
    lenvatinib window (40 -> 50 mm, +25 % and +10 mm) counts even though a later RAI started a
    new monitoring episode."""
    b = (
        B()
        .histology("PTC")
        .tested()
        .bp("2026-11-01", 120, 80)
        .rai("2020-01-10", 5550)
        .therapy("lenvatinib", "2022-01-01", "2023-06-01")
        .sum("2022-02-01", 40)
        .sum("2023-05-01", 50)
        .rai("2024-01-10", 5550)
        .scan("2024-01-15")
        .sum("2025-01-01", 40)
        .sum("2026-06-01", 50)
    )
    j = run(b)
    assert placed(j, "lenvatinib")[0][0] == "notEligible"
    assert placed(j, "cabozantinib")[0][0] == "onLabel"


def test_histology_conflict_is_reported() -> None:
    """§A3 histology row and A1b: PTC and MTC diagnoses together: the more aggressive class
    decides (NOT_APPLICABLE, MDT) and missingData asks to reconcile the histology."""
    j = run(rair_pd().histology("MTC"))
    assert (j["rairStatus"], j["action"]) == ("NOT_APPLICABLE", "MDT_REVIEW_REQUIRED")
    assert has_missing(j, "reconcile conflicting thyroid cancer histology (MTC vs PTC)")


# ----------------------------------------------------------------------- 2a: D+T first line


def test_dt_first_line_adult_is_not_eligible_with_a_trial_pointer() -> None:
    """§A4.7 (D+T on label only with no satisfactory alternative; otherwise off-label for poor
    lenvatinib candidates or notEligible with that reason) and the §A1 example (D+T trialOnly
    NCT03244956): the adult first-line BRAF V600E patient gets D+T in notEligible with the
    §A4.7 reason AND the redifferentiation-trial pointer in trialOnly; never proposed."""
    j = run(rair_pd().variant("BRAF", "V600E"))
    lists = dict(placed(j, "dabrafenib+trametinib"))
    assert set(lists) == {"notEligible", "trialOnly"}
    assert "lenvatinib/sorafenib are satisfactory alternatives" in lists["notEligible"]["reason"]
    assert "Rec 70A" in lists["notEligible"]["reason"]
    assert lists["trialOnly"]["trial"] == "NCT03244956"
    assert "F5" in j["rulesFired"] and "F9" in j["rulesFired"]


def test_dt_on_label_has_no_trial_pointer() -> None:
    """§A4.7 (on label when lenvatinib and sorafenib are not label-eligible, e.g. a child; or
    after PD on a VEGFR MKI, G3): D+T is listed once, in onLabel."""
    child = run(rair_pd(age=10).variant("BRAF", "V600E"))
    after_mki = run(
        rair_pd()
        .variant("BRAF", "V600E")
        .therapy("lenvatinib", "2025-01-01", "2026-05-01", stop="progression")
    )
    for j in (child, after_mki):
        assert [n for n, _ in placed(j, "dabrafenib+trametinib")] == ["onLabel"]


# ----------------------------------------------------------------------- 2b: rulesFired


@pytest.mark.parametrize("bundle", BUNDLES, ids=[p.stem for p in BUNDLES])
def test_every_conclusion_names_a_fired_rule(bundle: Path) -> None:
    """§A1 ("Every conclusion names the rule"; rulesFired) and §A4.2 (one warning entry per code
    per blocking state): the rule of every therapy entry and warning is in rulesFired."""
    a = assess_bundle(bundle)
    fired = set(a.rules_fired)
    for option in a.on_label + a.guideline_supported_off_label + a.trial_only + a.not_eligible:
        assert option.rule in fired, (option, a.rules_fired)
    for w in a.warnings:
        assert w.rule in fired, (w, a.rules_fired)
    keys = [(w.code, w.blocking) for w in a.warnings]
    assert len(keys) == len(set(keys))
    assert set(a.evidence) <= fired


def assess_bundle(path: Path):  # noqa: ANN201
    from plugin.thyroid.pipeline import flatten_prefetch
    from plugin.thyroid.reading.record import read_record

    resources, _ = flatten_prefetch({"file": json.loads(path.read_text(encoding="utf-8"))})
    return assess(read_record(resources), AS_OF)


def test_rules_whose_candidates_all_lost_are_not_reported() -> None:
    """§A1 rulesFired (readings: fired AND contributed): in the child with a RET fusion,
    pralsetinib is not eligible (age), so the accelerated-approval warning rule (F3:w-accel)
    contributed nothing and F3 is not reported; in JS-iv, A5 is silent."""
    j = run(rair_pd(age=10).variant("RET", "fusion", "fusion", partner="CCDC6"))
    assert "F3" not in j["rulesFired"]
    assert "H1" in j["rulesFired"] and "F2" in j["rulesFired"]


# -------------------------------------------------------------- 2c: pregnancy-prompt ages


def test_pregnancy_prompt_ages_are_a_marked_design_threshold() -> None:
    """H4 ("check pregnancy status ... before any TKI"; no age range in DOMAIN.md): the 12-55
    range is a DESIGN threshold, marked as not from DOMAIN.md; it prompts, never blocks."""
    text = (ROOT / "rules" / "thyroid" / "thresholds.yaml").read_text(encoding="utf-8")
    data = yaml.safe_load(text)["thresholds"]
    assert (data["childbearing_age_min_years"], data["childbearing_age_max_years"]) == (12, 55)
    assert "NOT FROM DOMAIN.md" in text
    woman = run(rair_pd(sex="female", age=30))
    assert has_missing(woman, "pregnancy status")
    assert not any(w["code"] == "W-PREG" for w in woman["warnings"])
    assert woman["action"] == "SYSTEMIC_FIRST_LINE"
    assert not has_missing(run(rair_pd(sex="female", age=60)), "pregnancy status")


# ------------------------------------------------------- 2d: testing complete by a driver


def test_driver_found_on_fusion_assay_gives_not_detected_reasons() -> None:
    """§A4.3 (testing is complete when a fusion-capable assay reports an actionable driver): in
    a RET-fusion patient the NTRK drugs and D+T read "not detected", not "status unknown"."""
    b = rair_pd()
    b.r.genes_tested.clear()
    j = run(b.variant("RET", "fusion", "fusion", partner="CCDC6"))
    reasons = {t["drug"]: t["reason"] for t in j["therapies"]["notEligible"]}
    for drug in ("larotrectinib", "entrectinib", "repotrectinib"):
        assert reasons[drug] == "no NTRK fusion detected"
    assert reasons["dabrafenib+trametinib"] == "no BRAF V600E detected"
    assert not any("unknown" in r for r in reasons.values())
    assert j["suggestMolecularTesting"] is False


def test_dna_only_panel_still_leaves_fusions_unknown() -> None:
    """E4 / §A4.3 (a DNA-only assay leaves fusion status unknown): a DNA-only BRAF V600E result
    does not complete testing, so the fusion drugs stay "status unknown" and E1 fires."""
    b = rair_pd()
    b.r.genes_tested.clear()
    j = run(b.variant("BRAF", "V600E", fusion_capable=False))
    reasons = {t["drug"]: t["reason"] for t in j["therapies"]["notEligible"]}
    assert "status unknown" in reasons["selpercatinib"]
    assert j["suggestMolecularTesting"] is True


def test_cli_sample_matches_expected_d_t_placement() -> None:
    """§A4.7 and §A1 on the shipped sample (fhir_samples/README.md): braf-v600e-first-line has
    D+T in notEligible and trialOnly, never proposed."""
    path = ROOT / "fhir_samples" / "thyroid" / "bundles" / "braf-v600e-first-line.json"
    a = evaluate_file(path, dt.date(2026, 11, 27))["assessment"]
    names = {
        n for n, lst in a["therapies"].items() for t in lst if t["drug"] == "dabrafenib+trametinib"
    }
    assert names == {"notEligible", "trialOnly"}
    assert {base_id(r) for r in a["rulesFired"]} >= {"F5", "F9"}
