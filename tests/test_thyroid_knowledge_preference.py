"""Where ``preferred`` and the non-fixable blocks go after a first line (DOMAIN.md §2.7 G2-G3,
§A4.11 rules 2-3, §A4.12), pinned so that ``scripts/mutate_knowledge.py`` notices a dropped
``preferred`` fact or a flipped block flag in the later-line and management rules (issue 13)."""

from __future__ import annotations

from test_thyroid_rules_builder import AS_OF, B, rair_pd

from plugin.thyroid.assessment.builder import assess


def preferred(b: B) -> set[str]:
    j = assess(b.build(), AS_OF).to_json()
    return {t["drug"] for entries in j["therapies"].values() for t in entries
            if t.get("preferred")}


def test_g2_symptomatic_after_an_mki_stopped_for_intolerance_prefers_cabozantinib() -> None:
    """G2 (ATA 2025 Rec 66: "progressed on or did not tolerate"): systemic therapy indicated
    (symptomatic), no PD, lenvatinib stopped for intolerance: cabozantinib guideline-supported
    off label, preferred, with a non-blocking W-OFF-LABEL."""
    b = (B().histology("PTC").rai("2024-01-10", 5550).scan("2024-01-15")
         .sum("2025-01-01", 40).sum("2026-06-01", 41).tested().bp("2026-11-01", 120, 80)
         .flag("symptomatic", "2026-10-01")
         .therapy("lenvatinib", "2024-06-01", "2024-09-01", "intolerance"))
    j = assess(b.build(), AS_OF).to_json()
    assert [t for t in j["therapies"]["guidelineSupportedOffLabel"]
            if t["drug"] == "cabozantinib"] == [{"drug": "cabozantinib", "preferred": True}]
    assert {"code": "W-OFF-LABEL", "blocking": False, "drugs": ["cabozantinib"]} in j["warnings"]


def test_g3_cabozantinib_is_preferred_when_dabrafenib_trametinib_was_not_tolerated() -> None:
    """§A4.12: BRAF V600E after PD on an MKI prefers dabrafenib+trametinib, but a drug stopped
    for intolerance is never preferred; preference passes to cabozantinib (same tier)."""
    base = rair_pd().variant("BRAF", "V600E").therapy(
        "lenvatinib", "2024-06-01", "2026-06-15", "progression")
    assert preferred(base) >= {"dabrafenib+trametinib"}
    after = base.therapy("dabrafenib+trametinib", "2026-07-01", "2026-08-01", "intolerance")
    got = preferred(after)
    assert "cabozantinib" in got and "dabrafenib+trametinib" not in got


def test_airway_invasion_holds_every_systemic_drug_so_none_is_preferred() -> None:
    """§A4.11 rule 2: airway or major-vessel invasion is a non-fixable block of all systemic
    drugs; a blocked drug is never preferred, and the action is MDT review (D4)."""
    ret = rair_pd().variant("RET", "fusion", "fusion", partner="CCDC6")
    assert "selpercatinib" in preferred(ret)
    invaded = ret.flag("airway_invasion", "2026-10-01")
    j = assess(invaded.build(), AS_OF).to_json()
    assert j["action"] == "MDT_REVIEW_REQUIRED"
    assert preferred(invaded) == set()
