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

from plugin.thyroid.assess import assess


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
    """§A4.8 + §A4.11 rule 1: latest BP >= 140 systolic or >= 90 diastolic blocks selpercatinib."""
    j = run(ret_fusion().bp(day(3), systolic, diastolic))
    assert ("selpercatinib" in blocked(j, "W-HTN")) is uncontrolled
    assert ("pralsetinib" in blocked(j, "W-HTN")) is uncontrolled
    if not uncontrolled:
        assert not any(w["code"] == "W-HTN" and w["blocking"] for w in j["warnings"])


def test_a_bp_older_than_the_safety_window_does_not_count() -> None:
    """§A4.8: safety values count when dated <= 90 days before the evaluation date."""
    assert "selpercatinib" in blocked(run(ret_fusion().bp(day(90), 150, 80)), "W-HTN")
    j = run(ret_fusion().bp(day(91), 150, 80))
    assert "selpercatinib" not in blocked(j, "W-HTN")


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
