"""§A4.11 on the cards: a fixable block (W-HTN) is read after the non-fixable ones, and says
"control blood pressure before starting" only of drugs nothing else blocks."""

from __future__ import annotations

from test_thyroid_rules_builder import AS_OF, B

from plugin.thyroid.assessment.builder import assess
from plugin.thyroid.cards.render import render
from plugin.thyroid.facts.derivation import derive
from plugin.thyroid.knowledge.loader import load_knowledge


def _ret_fusion_with_pd() -> B:
    return (B().birth("1990-01-01").histology("PTC").rai("2022-01-10", 5550)
            .scan("2022-01-15", uptake="none").sum("2025-01-01", 40).sum("2026-06-01", 50)
            .tested().variant("RET", "fusion").bp("2026-11-01", 162, 98))


def _cards(b: B) -> list:
    k = load_knowledge()
    record = b.build()
    derivation = derive(record, AS_OF, k.thresholds, k.therapies)
    assessment = assess(record, AS_OF, knowledge=k, derivation=derivation)
    return render(assessment, record, templates=k.templates, derivation=derivation)


def test_pregnancy_is_read_first_and_blood_pressure_does_not_say_start() -> None:
    cards = _cards(_ret_fusion_with_pd().pregnancy("2026-11-01", True))
    kinds = [rc.kind for rc in cards]
    htn = next(rc.card for rc in cards if rc.kind == "warning-W-HTN")

    assert kinds.index("warning-W-PREG") < kinds.index("warning-W-HTN")
    assert "before starting" not in htn.summary
    assert "not to start now (W-PREG)" in htn.summary
    assert htn.indicator == "critical"


def test_blood_pressure_names_only_the_drugs_nothing_else_blocks() -> None:
    cards = _cards(_ret_fusion_with_pd().flag("hemorrhage", "2026-10-15"))
    htn = next(rc.card for rc in cards if rc.kind == "warning-W-HTN")

    assert htn.summary.startswith("Control blood pressure before starting")
    assert "selpercatinib" in htn.summary and "lenvatinib" not in htn.summary


def test_without_another_block_the_fix_first_text_names_every_blocked_drug() -> None:
    cards = _cards(_ret_fusion_with_pd())
    htn = next(rc.card for rc in cards if rc.kind == "warning-W-HTN")

    assert htn.summary.startswith("Control blood pressure before starting")
    assert "lenvatinib" in htn.summary and "selpercatinib" in htn.summary


def test_no_prior_rai_in_pregnancy_never_reads_as_give_rai() -> None:
    """§A4.11 rule 4: pregnancy defers RAI, so the no-prior-RAI card names the MDT review and
    drops ATA Rec 59A's "should receive ... RAI" (a clinical review found it there)."""
    no_rai = B().birth("1990-01-01").histology("PTC").sum("2026-06-01", 30)
    pregnant = _cards(no_rai.pregnancy("2026-11-01", True))
    status = next(rc.card for rc in pregnant if rc.kind == "rai-status")

    assert status.summary.startswith("RAIR status not assessable (no prior therapeutic RAI): ")
    assert "tumour board review required (pregnancy or lactation)" in status.summary
    assert "should receive" not in status.detail and "Rec 59A (GPS)" not in status.detail
    assert "warning-W-PREG" in [rc.kind for rc in pregnant]

    not_pregnant = _cards(B().birth("1990-01-01").histology("PTC").sum("2026-06-01", 30))
    status = next(rc.card for rc in not_pregnant if rc.kind == "rai-status")
    assert status.summary == "RAIR status not assessable: no prior therapeutic RAI on record"
    assert "should receive an ablative or treatment administration of RAI" in status.detail
