"""§A4.11 on the cards: a fixable block (W-HTN) is read after the non-fixable ones, and says
"control blood pressure before starting" only of drugs nothing else blocks."""

from __future__ import annotations

from pathlib import Path

import yaml
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


def _lenvatinib_first_line() -> B:
    return (B().birth("1960-01-01").histology("PTC").rai("2022-01-10", 5550)
            .scan("2022-01-15", uptake="none").sum("2025-01-01", 40).sum("2026-06-01", 50)
            .tested())


def _options_detail(b: B) -> str:
    options = next(rc.card for rc in _cards(b) if rc.kind == "therapy-options")
    assert "lenvatinib (preferred)" in options.summary
    return options.detail


def test_a_preferred_drug_never_stands_beside_an_unchecked_blood_pressure() -> None:
    """W-HTN blocks on an uncontrolled reading (§A4.11 rule 1); with no reading in 90 days the
    options card says so instead of leaving W-HTN under "not blocking" alone."""
    detail = _options_detail(_lenvatinib_first_line())
    section = detail.split("**Not on record, check before starting:**\n", 1)[1]
    assert section.startswith("- blood pressure within the last 90 days")

    controlled = _options_detail(_lenvatinib_first_line().bp("2026-11-01", 124, 78))
    assert "Not on record" not in controlled


def test_before_start_items_are_texts_the_rules_assert() -> None:
    rules = Path(__file__).resolve().parent.parent / "rules" / "thyroid"
    missing = [
        str(action["what"])
        for path in rules.glob("*.rules.yaml")
        for rule in (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).values()
        if isinstance(rule, dict)
        for action in _asserts(rule)
        if action.get("type") == "missing"
    ]
    starts = load_knowledge().templates["therapy"]["before_start"]
    assert starts and all(any(m.startswith(s) for m in missing) for s in starts)


def _asserts(rule: dict) -> list[dict]:
    found = (rule.get("do") or {}).get("assert") or []
    return [a for a in (found if isinstance(found, list) else [found]) if isinstance(a, dict)]


def _fusion_with_pd() -> B:
    return (B().birth("1960-01-01").histology("PTC").rai("2022-01-10", 5550)
            .scan("2022-01-15", uptake="none").sum("2025-01-01", 40).sum("2026-06-01", 50)
            .tested().bp("2026-11-01", 124, 78))


def _reason(b: B) -> str:
    options = next(rc.card for rc in _cards(b) if rc.kind == "therapy-options")
    return options.detail.split("\n", 1)[0]


def test_a_later_line_fusion_card_does_not_give_the_first_line_reason() -> None:
    """§A4.16: the reason's title applies to this patient; F2/F3 say "first line" only there."""
    ntrk = _fusion_with_pd().variant("NTRK1", "fusion", "fusion", partner="TPM3")
    assert _reason(ntrk) == "Why (F3): NTRK fusion: NTRK inhibitor first line (Rec 67)."

    resistant = (_fusion_with_pd().variant("NTRK1", "fusion", "fusion", partner="TPM3")
                 .variant("NTRK1", "G595R")
                 .therapy("larotrectinib", "2025-01-01", "2026-06-15", "progression"))
    reason = _reason(resistant)
    assert "resistance after an NTRK inhibitor: repotrectinib" in reason
    assert "first line" not in reason

    ret_later = (_fusion_with_pd().variant("RET", "fusion", "fusion")
                 .therapy("lenvatinib", "2024-06-01", "2026-06-15", "progression"))
    reason = _reason(ret_later)
    assert "RET inhibitor in any line" in reason and "first line" not in reason


def test_a_ret_point_mutation_card_cites_the_indication_not_a_drug_label() -> None:
    """W-RET-POINT is about the record's driver (E6, S9); it cited LENVIMA, the first drug it
    blocks."""
    cards = _cards(_fusion_with_pd().variant("RET", "M918T"))
    card = next(rc.card for rc in cards if rc.kind == "warning-W-RET-POINT")
    assert card.indicator == "critical"
    assert card.source.label.startswith("FDA/EMA label indications")
