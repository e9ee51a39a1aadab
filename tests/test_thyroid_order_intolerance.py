"""Re-ordering a drug the record shows stopped for intolerance (DECISIONS §D4.12, rule O7):
never the preferred option, and a re-challenge at a lower dose is an MDT decision, so the order
gets a warning card rather than passing silently."""

from __future__ import annotations

from orders_helpers import order_for
from test_thyroid_rules_builder import AS_OF, B

from plugin.thyroid.assessment.builder import assess
from plugin.thyroid.facts.derivation import derive
from plugin.thyroid.knowledge.loader import load_knowledge
from plugin.thyroid.orders.cards import cards_for_order


def _after_lenvatinib(stop: str, end: str | None = "2026-03-01") -> B:
    return (B().birth("1960-01-01").histology("PTC").rai("2022-01-10", 5550)
            .scan("2022-01-15", uptake="none").sum("2025-01-01", 40).sum("2026-06-01", 50)
            .tested().bp("2026-11-01", 120, 80)
            .therapy("lenvatinib", "2025-02-01", end, stop=stop))


def _cards(b: B, drug: str) -> list:
    k = load_knowledge()
    record = b.build()
    derivation = derive(record, AS_OF, k.thresholds, k.therapies)
    assessment = assess(record, AS_OF, knowledge=k, derivation=derivation)
    return cards_for_order(order_for(drug), assessment, record, "p1", derivation=derivation,
                           templates=k.templates, engine=k.order_engine,
                           precedence=k.precedence)


def test_reordering_a_drug_stopped_for_intolerance_is_a_warning_naming_the_mdt() -> None:
    (card,) = _cards(_after_lenvatinib("intolerance"), "lenvatinib")

    assert (card.kind, card.card.indicator) == ("order-intolerance", "warning")
    assert "stopped for intolerance (2026-03-01)" in card.card.summary
    assert "MDT decision" in card.card.summary
    assert "lower dose" in card.card.detail


def test_a_drug_stopped_for_progression_gets_its_own_card_not_this_one() -> None:
    kinds = [c.kind for c in _cards(_after_lenvatinib("progression"), "lenvatinib")]
    assert "order-intolerance" not in kinds


def test_another_drug_after_intolerance_gets_no_intolerance_card() -> None:
    kinds = [c.kind for c in _cards(_after_lenvatinib("intolerance"), "sorafenib")]
    assert "order-intolerance" not in kinds
