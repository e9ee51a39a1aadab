"""Tests that pin the clinical numbers, flags and codes of ``rules/thyroid`` (issue 13).

Each test fails when one plausible knowledge bug is made: a DESIGN threshold moved by one step,
a ``blocking`` flag flipped, a drug age limit changed, a ``preferred`` conclusion dropped, a
safety-relevant code removed from ``codes.yaml``. ``scripts/mutate_knowledge.py`` makes those
bugs one at a time in a copy of the knowledge and runs these tests (and the other knowledge
tests) against it; README "Development" gives the latest kill rate.

The expected values are DOMAIN.md's, as quoted in ``rules/README.md`` and ``thresholds.yaml``:
uncontrolled BP is the latest reading >= 140 systolic or >= 90 diastolic (§A4.8); a scan without
a coded kind is post-therapy 2-14 days after a therapeutic dose (§A3); and so on per test.
"""

from __future__ import annotations

import datetime as dt

import pytest
from test_thyroid_rules_builder import AS_OF, B, rair_pd
from test_thyroid_rules_table import ROWS

from plugin.thyroid.assessment.builder import assess


def run(b: B) -> dict:
    return assess(b.build(), AS_OF).to_json()


def day(days_before: int) -> str:
    return (AS_OF - dt.timedelta(days=days_before)).isoformat()


def after(start: str, days: int) -> str:
    return (dt.date.fromisoformat(start) + dt.timedelta(days=days)).isoformat()


def blocked(j: dict, code: str) -> set[str]:
    return {d for w in j["warnings"] if w["code"] == code and w["blocking"]
            for d in w.get("drugs", [])}


def cautioned(j: dict, code: str) -> set[str]:
    return {d for w in j["warnings"] if w["code"] == code and not w["blocking"]
            for d in w.get("drugs", [])}


def has_warning(j: dict, code: str, blocking: bool) -> bool:
    return any(w["code"] == code and w["blocking"] is blocking for w in j["warnings"])


def lists_of(j: dict, drug: str) -> set[str]:
    return {name for name, entries in j["therapies"].items() for t in entries
            if t["drug"] == drug}


def preferred(j: dict) -> set[str]:
    return {t["drug"] for entries in j["therapies"].values() for t in entries
            if t.get("preferred")}


def ret_fusion(**kw) -> B:
    return rair_pd(**kw).variant("RET", "fusion", "fusion", partner="CCDC6")


# --------------------------------------------------------------- §A4.8 blood pressure


@pytest.mark.parametrize(("systolic", "diastolic", "uncontrolled"), [
    (150, 80, True),   # issue 13: systolic alone (threshold 140 -> 160 survived)
    (140, 80, True),   # >= 140: the boundary itself
    (139, 80, False),
    (130, 95, True),   # issue 13: diastolic alone (threshold 90 -> 100 survived)
    (130, 90, True),   # >= 90: the boundary itself
    (130, 89, False),
    (139, 89, False),
])
def test_uncontrolled_bp_blocks_selpercatinib_from_140_systolic_or_90_diastolic(
        systolic: float, diastolic: float, uncontrolled: bool) -> None:
    """§A4.8 + §A4.11 rule 1: the latest BP >= 140 systolic or >= 90 diastolic is uncontrolled
    and blocks selpercatinib (label: do not initiate in uncontrolled hypertension)."""
    j = run(ret_fusion().bp(day(3), systolic, diastolic))
    assert ("selpercatinib" in blocked(j, "W-HTN")) is uncontrolled
    if not uncontrolled:
        assert not any(w["code"] == "W-HTN" and w["blocking"] for w in j["warnings"])


@pytest.mark.parametrize(("days_old", "counts"), [(90, True), (91, False)])
def test_a_bp_counts_up_to_90_days_old(days_old: int, counts: bool) -> None:
    """§A4.8: safety values count when dated <= 90 days before the evaluation date; an older
    uncontrolled reading does not block, and BP is asked for again."""
    b = (B().histology("PTC").rai("2024-01-10", 5550).scan("2024-01-15").sum("2025-01-01", 40)
         .sum("2026-06-01", 50).tested().variant("RET", "fusion", "fusion", partner="CCDC6")
         .bp(day(days_old), 150, 80))
    j = run(b)
    assert ("selpercatinib" in blocked(j, "W-HTN")) is counts
    assert any(m.startswith("blood pressure") for m in j["missingData"]) is not counts


# --------------------------------------------------------------- §A3 post-therapy scan window


@pytest.mark.parametrize(("gap", "post_therapy"), [
    (1, False), (2, True), (14, True), (15, False),
    (22, False),  # issue 13: the window 14 -> 30 days turned this NOT_ESTABLISHED into YES
])
def test_a_scan_of_unknown_kind_is_post_therapy_only_2_to_14_days_after_the_dose(
        gap: int, post_therapy: bool) -> None:
    """§A3 scan row: without a coded kind, a scan is post-therapy when 2-14 days after a
    therapeutic administration (DESIGN); otherwise its kind is missing: no JS-ii."""
    b = (B().histology("PTC").rai("2024-01-10", 5550)
         .scan(after("2024-01-10", gap), kind="unknown", uptake="none")
         .sum("2025-01-01", 40).sum("2026-06-01", 50).tested().bp(day(20), 120, 80))
    j = run(b)
    if post_therapy:
        assert (j["rairStatus"], j["rairCriteria"]) == ("YES", ["JS-ii"])
    else:
        assert (j["rairStatus"], j["rairCriteria"]) == ("NOT_ESTABLISHED", [])
        assert any("kind (diagnostic or post-therapy)" in m for m in j["missingData"])


# --------------------------------------------------------------- other DESIGN thresholds


@pytest.mark.parametrize(("pd_day", "progression"), [
    ("2025-09-27", "RECENT_PD"),      # exactly 14 calendar months before 2026-11-27
    ("2025-09-26", "PD_NOT_RECENT"),
])
def test_pd_is_recent_up_to_14_calendar_months(pd_day: str, progression: str) -> None:
    """C2/C3: PD counts as recent when dated <= 14 calendar months before the evaluation."""
    b = (B().histology("PTC").rai("2024-01-10", 5550).scan("2024-01-15")
         .sum("2025-01-01", 40).sum(pd_day, 50).tested().bp(day(20), 120, 80))
    assert run(b)["progression"] == progression


@pytest.mark.parametrize(("contrast_days_before", "invalid"), [(56, True), (57, False)])
def test_iodinated_contrast_within_8_weeks_invalidates_the_negative_scan(
        contrast_days_before: int, invalid: bool) -> None:
    """A3: contrast <= 8 weeks (56 days, inclusive) before the dose invalidates the scan."""
    j = run(rair_pd().contrast(after("2024-01-10", -contrast_days_before)))
    assert has_warning(j, "W-IODINE", True) is invalid
    assert (j["rairStatus"] == "YES") is not invalid


@pytest.mark.parametrize(("tsh", "low"), [(30.0, True), (31.0, False)])
def test_a_negative_scan_needs_tsh_above_30(tsh: float, low: bool) -> None:
    """A3: adequate stimulation is TSH > 30 mIU/L; TSH <= 30 makes the negative scan invalid."""
    b = (B().histology("PTC").rai("2024-01-10", 5550).scan("2024-01-15", tsh=tsh)
         .sum("2025-01-01", 40).sum("2026-06-01", 50).tested().bp(day(20), 120, 80))
    j = run(b)
    assert has_warning(j, "W-TSH", True) is low
    assert (j["rairStatus"] == "YES") is not low


@pytest.mark.parametrize(("mbq", "conflict"), [(1109, False), (1110, True)])
def test_a_coded_diagnostic_dose_from_1110_mbq_has_an_unknown_intent(
        mbq: int, conflict: bool) -> None:
    """B0.3/A6: below 1,110 MBq a dose is diagnostic; a coded "diagnostic" dose of at least
    1,110 MBq contradicts its code (unknown intent, W-DATA-CONFLICT)."""
    j = run(rair_pd().rai("2023-06-01", mbq, "diagnostic"))
    assert has_warning(j, "W-DATA-CONFLICT", False) is conflict


@pytest.mark.parametrize(("total", "js_v", "equal"), [
    (22200, False, True), (22201, True, False), (22199, False, False)])
def test_js_v_needs_strictly_more_than_22200_mbq(total: int, js_v: bool, equal: bool) -> None:
    """B5/§5: JS-v needs cumulative therapeutic activity > 22,200 MBq (whole MBq); exactly
    22,200 gives W-THRESHOLD-EQUAL."""
    b = (B().histology("PTC").rai("2020-01-10", total - 11100).rai("2021-01-10", 11100)
         .scan("2021-01-15", uptake="all").sum("2025-01-01", 40).sum("2026-06-01", 50)
         .tested().bp(day(20), 120, 80))
    j = run(b)
    assert ("JS-v" in j["rairCriteria"]) is js_v
    assert has_warning(j, "W-THRESHOLD-EQUAL", False) is equal


@pytest.mark.parametrize(("pd_day", "late"), [("2026-06-01", False), ("2026-06-02", True)])
def test_w_late_pd_needs_pd_more_than_12_months_after_the_avid_dose(
        pd_day: str, late: bool) -> None:
    """B4: W-LATE-PD when the first PD comes more than 12 months after the avid dose."""
    b = (B().histology("PTC").rai("2025-06-01", 5550).scan("2025-06-05", uptake="all")
         .sum("2025-07-01", 40).sum(pd_day, 50).tested().bp(day(20), 120, 80))
    j = run(b)
    assert "JS-iv" in j["rairCriteria"]
    assert has_warning(j, "W-LATE-PD", False) is late


@pytest.mark.parametrize(("before", "after_mm", "pd"), [
    (40.0, 48.0, True),    # +20 % and +8 mm
    (40.0, 47.6, False),   # +19 %
    (20.0, 25.0, True),    # +25 % and +5 mm
    (20.0, 24.5, False),   # +4.5 mm
])
def test_recist_pd_is_20_percent_and_5_mm_over_the_nadir(
        before: float, after_mm: float, pd: bool) -> None:
    """C1 (RECIST 1.1): PD = +20 % AND +5 mm over the nadir."""
    b = (B().histology("PTC").rai("2024-01-10", 5550).scan("2024-01-15")
         .sum("2025-01-01", before).sum("2026-06-01", after_mm).tested().bp(day(20), 120, 80))
    assert (run(b)["progression"] == "RECENT_PD") is pd


@pytest.mark.parametrize(("qtc", "potassium", "risk"), [
    (470, 4.0, False), (471, 4.0, True), (440, 3.5, False), (440, 3.4, True)])
def test_qt_risk_is_qtc_above_470_or_potassium_below_3_5(
        qtc: float, potassium: float, risk: bool) -> None:
    """W-QT: baseline QTc > 470 ms, or hypokalaemia K < 3.5 mmol/L (§A4.8)."""
    j = run(rair_pd().qtc(day(10), qtc).potassium(day(10), potassium))
    assert ("lenvatinib" in cautioned(j, "W-QT")) is risk


@pytest.mark.parametrize(("hemorrhage", "recent"), [("2026-08-27", True), ("2026-08-26", False)])
def test_hemorrhage_is_recent_up_to_3_months(hemorrhage: str, recent: bool) -> None:
    """§A4.8: recent hemorrhage = dated <= 3 months before the evaluation date; it blocks
    cabozantinib (label: do not administer after recent hemorrhage)."""
    b = (rair_pd().therapy("lenvatinib", "2024-06-01", "2026-06-15", "progression")
         .flag("hemorrhage", hemorrhage))
    assert ("cabozantinib" in blocked(run(b), "W-BLEED")) is recent


@pytest.mark.parametrize(("age", "adult"), [(17, False), (18, True)])
def test_the_adult_guideline_applies_from_18(age: int, adult: bool) -> None:
    """H1 / §A4.7: ATA 2025 is adult-only (a child gets the pediatric-MDT note, H1); in a BRAF
    V600E adult before any VEGFR MKI, lenvatinib/sorafenib are the satisfactory alternative, so
    dabrafenib+trametinib is not on label; in a child it is (no label-eligible alternative)."""
    j = run(rair_pd(age=age).variant("BRAF", "V600E"))
    assert ("H1" in j["rulesFired"]) is not adult
    assert ("onLabel" in lists_of(j, "dabrafenib+trametinib")) is not adult


@pytest.mark.parametrize(("age", "prompt"), [(11, False), (12, True), (55, True), (56, False)])
def test_pregnancy_status_is_asked_from_12_to_55(age: int, prompt: bool) -> None:
    """H4 (DESIGN 12-55): a female patient without a recent pregnancy status is asked for one
    before a TKI; outside those ages, not."""
    j = run(rair_pd(age=age, sex="female"))
    assert any("pregnancy status" in m for m in j["missingData"]) is prompt


# --------------------------------------------------------------- drug label ages (therapies.yaml)


def _born(b: B, birth: str) -> B:
    b.r.birth_date = dt.date.fromisoformat(birth)
    return b


def _after_lenvatinib_pd(**kw) -> B:
    return rair_pd(**kw).therapy("lenvatinib", "2024-06-01", "2026-06-15", "progression")


def _ntrk(**kw) -> B:
    return rair_pd(**kw).variant("NTRK1", "fusion", "fusion", partner="TPM3")


AGE_LIMITS = [
    # (drug, patient, youngest eligible age, the age just below) - §3 regulatory matrix, H1
    ("lenvatinib", lambda age: rair_pd(age=age), 18, 17),
    ("sorafenib", lambda age: rair_pd(age=age), 18, 17),
    ("cabozantinib", lambda age: _after_lenvatinib_pd(age=age), 12, 11),
    ("selpercatinib", lambda age: ret_fusion(age=age), 2, 1),
    ("pralsetinib", lambda age: ret_fusion(age=age), 12, 11),
    ("repotrectinib", lambda age: _ntrk(age=age), 12, 11),
    ("dabrafenib+trametinib", lambda age: rair_pd(age=age).variant("BRAF", "V600E"), 1, 0),
]


@pytest.mark.parametrize(("drug", "patient", "youngest", "below"), AGE_LIMITS,
                         ids=[a[0] for a in AGE_LIMITS])
def test_each_drug_is_proposed_from_its_label_age_and_not_below(
        drug: str, patient, youngest: int, below: int) -> None:
    """H1 + §3: below the US label minimum age the drug is notEligible with W-PEDS-AGE
    (blocking); at that age it is on label."""
    at = run(patient(youngest))
    assert "onLabel" in lists_of(at, drug)
    assert drug not in blocked(at, "W-PEDS-AGE")
    under = run(patient(below))
    assert lists_of(under, drug) == {"notEligible"}
    assert drug in blocked(under, "W-PEDS-AGE")


@pytest.mark.parametrize(("birth", "eligible"), [("2026-10-27", False), ("2026-10-26", True)])
def test_entrectinib_needs_an_age_above_one_month(birth: str, eligible: bool) -> None:
    """§3: entrectinib's US label is for patients OLDER than 1 month (20 Oct 2023)."""
    j = run(_born(_ntrk(age=None), birth))
    assert ("onLabel" in lists_of(j, "entrectinib")) is eligible


def test_larotrectinib_has_no_lower_age_limit() -> None:
    """§3: larotrectinib is approved for adults and children, without a lower age limit."""
    j = run(_born(_ntrk(age=None), "2026-11-20"))  # one week old
    assert "onLabel" in lists_of(j, "larotrectinib")


def test_crizotinib_off_label_for_alk_has_no_age_limit_of_its_own() -> None:
    """F4 / §3: crizotinib (ALK fusion) is guideline-supported off-label; no thyroid label, so
    no label age applies (a child keeps the placement)."""
    j = run(rair_pd(age=5).variant("ALK", "fusion", "fusion", partner="EML4"))
    assert lists_of(j, "crizotinib") == {"guidelineSupportedOffLabel"}


# --------------------------------------------------------------- preferred conclusions


PREFERRED = [
    # (scenario, patient, drugs that must be preferred) - §2.6/§2.7 and ATA 2025 Recs 62-70
    ("F1 no driver: lenvatinib (Recs 62, 64A)", lambda: rair_pd(), {"lenvatinib"}),
    ("F2 RET fusion (Rec 68)", lambda: ret_fusion(), {"selpercatinib", "pralsetinib"}),
    ("F3 NTRK fusion (Rec 67)", lambda: _ntrk(),
     {"larotrectinib", "entrectinib", "repotrectinib"}),
    ("F4 ALK fusion (Rec 69)",
     lambda: rair_pd().variant("ALK", "fusion", "fusion", partner="EML4"), {"crizotinib"}),
    ("G1 PD on a VEGFR TKI: cabozantinib (Rec 66)", lambda: _after_lenvatinib_pd(),
     {"cabozantinib"}),
    ("G2 VEGFR TKI stopped for intolerance: cabozantinib (Rec 66)",
     lambda: rair_pd().therapy("lenvatinib", "2024-06-01", "2024-09-01", "intolerance"),
     {"cabozantinib"}),
    ("F3 NTRK + BRAF V600E, no NTRK inhibitor yet (off-target is read after one, §A4.14)",
     lambda: _ntrk().variant("BRAF", "V600E"), {"repotrectinib", "larotrectinib"}),
    ("H2 ATC with BRAF V600E: dabrafenib+trametinib",
     lambda: B().histology("ATC").variant("BRAF", "V600E").tested(), {"dabrafenib+trametinib"}),
]


@pytest.mark.parametrize(("name", "patient", "drugs"), PREFERRED, ids=[p[0] for p in PREFERRED])
def test_the_guideline_preferred_drugs_are_marked_preferred(name: str, patient, drugs) -> None:
    assert drugs <= preferred(run(patient()))


def test_after_an_ntrk_inhibitor_with_a_resistance_mutation_repotrectinib_is_preferred() -> None:
    """G4: acquired NTRK resistance after an NTRK inhibitor: larotrectinib and entrectinib not
    eligible, repotrectinib stays and is preferred."""
    b = (_ntrk().variant("NTRK1", "G595R")
         .therapy("larotrectinib", "2024-06-01", "2026-06-15", "progression"))
    j = run(b)
    assert "repotrectinib" in preferred(j)
    assert lists_of(j, "larotrectinib") == {"notEligible"}


# --------------------------------------------------------------- blocking flags (§2.9)

# DOMAIN.md §2.9, column "Blocking?", for the codes whose answer does not depend on the drug.
NEVER_BLOCKING = {"W-BRAF-NONV600E", "W-DATA-CONFLICT", "W-FRAMEWORK-DISCORDANCE", "W-TG-ONLY",
                  "W-LATE-PD", "W-ACCEL", "W-INFECTION", "W-OFF-LABEL", "W-LABEL-REGION",
                  "W-WOUND", "W-THRESHOLD-EQUAL", "W-HISTOLOGY-PDTC", "W-QT"}
ALWAYS_BLOCKING = {"W-PEDS-AGE", "W-RET-POINT", "W-IODINE", "W-TSH"}


@pytest.mark.parametrize("row", ROWS, ids=[f"{r.ids[0]}: {r.name[:40]}" for r in ROWS])
def test_every_warning_of_the_rule_table_blocks_as_section_2_9_says(row) -> None:
    """§2.9 "Blocking?": never for the informational codes, always for W-PEDS-AGE, W-RET-POINT,
    W-IODINE and W-TSH; W-DATA-MISSING blocks exactly when the status is NOT_ESTABLISHED. The
    rule table has a patient for every rule ID, so every rule that asserts a warning is seen."""
    j = assess(row.build().build(), AS_OF, region=row.region).to_json()
    for w in j["warnings"]:
        if w["code"] in NEVER_BLOCKING:
            assert not w["blocking"], (row.name, w)
        elif w["code"] in ALWAYS_BLOCKING:
            assert w["blocking"], (row.name, w)
        elif w["code"] == "W-DATA-MISSING":
            assert w["blocking"] is (j["rairStatus"] == "NOT_ESTABLISHED"), (row.name, w)


def test_controlled_bp_gives_a_caution_never_a_block() -> None:
    """§2.9 W-HTN is conditional: with controlled BP the VEGFR/RET TKIs get a non-blocking
    caution (monitor BP), and nothing is blocked."""
    for j in (run(rair_pd()), run(ret_fusion())):
        assert not blocked(j, "W-HTN")
        assert {"lenvatinib", "sorafenib"} <= cautioned(j, "W-HTN")


@pytest.mark.parametrize(("pregnant", "days_old", "blocking"), [
    (True, 10, True),     # H4: confirmed, recent pregnancy blocks
    (True, 200, False),   # an old "pregnant" status: potential pregnancy, not blocking
    (False, 10, None),    # not pregnant: no W-PREG
])
def test_w_preg_blocks_only_a_recent_confirmed_pregnancy(
        pregnant: bool, days_old: int, blocking: bool | None) -> None:
    """§2.9: W-PREG "Yes if pregnant"; a stale "pregnant" status (potential pregnancy) is not
    blocking. (Lactation: §A4.11 rule 4 makes it blocking; not pinned here, see rules/README.)"""
    j = run(rair_pd(age=30, sex="female").pregnancy(day(days_old), pregnant))
    codes = {(w["code"], w["blocking"]) for w in j["warnings"] if w["code"] == "W-PREG"}
    assert codes == (set() if blocking is None else {("W-PREG", blocking)})


def test_airway_invasion_blocks_lenvatinib_and_sorafenib() -> None:
    """§2.9 W-BLEED / §A4.11 rule 5: airway or major-vessel invasion blocks the VEGFR MKIs
    pending MDT review."""
    j = run(rair_pd().flag("airway_invasion", day(30)))
    assert {"lenvatinib", "sorafenib"} <= blocked(j, "W-BLEED")


def test_undecidable_js_iv_is_informational_when_another_criterion_is_met() -> None:
    """§2.9 W-DATA-MISSING: blocking only when the status is NOT_ESTABLISHED. Uptake in all
    lesions on a diagnostic scan with PD leaves JS-iv undecidable (A5), but > 22,200 MBq meets
    JS-v, so the status is YES and the warning only informs."""
    b = (B().histology("PTC").rai("2019-03-01", 11100).rai("2021-03-01", 11101)
         .scan("2022-01-01", "diagnostic", "all").sum("2025-01-01", 40).sum("2026-06-01", 50)
         .tested().bp(day(20), 120, 80))
    j = run(b)
    assert (j["rairStatus"], j["rairCriteria"]) == ("YES", ["JS-v"])
    assert has_warning(j, "W-DATA-MISSING", False) and not has_warning(j, "W-DATA-MISSING", True)
    assert any("(JS-iv)" in m for m in j["missingData"])
