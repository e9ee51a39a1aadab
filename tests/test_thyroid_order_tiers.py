"""The order cards' precedence (precedence.yaml ``order_check``, DECISIONS §D4.10, §D4.17), pinned
as the contract rules/README.md states: per target, which candidate's card wins.

Most neighbouring order tiers never meet on a real record today (their rules need different
statuses), so the record-based order tests cannot notice a swap; this test does, so that a tier
edit is a deliberate one (scripts/mutate_knowledge.py swaps each neighbouring pair)."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from plugin.thyroid.knowledge.loader import load_knowledge
from plugin.thyroid.orders.cards import order_checks

# rules/README.md "Order rules": per target, best first
I131 = ["i131_blocked", "i131_refractory", "i131_rai_ineligible", "i131_not_established",
        "i131_not_applicable", "i131_cumulative"]
DRUG = ["drug_blocked", "drug_driver_missing", "drug_not_eligible", "drug_trial_only",
        "drug_not_indicated", "drug_intolerance", "drug_preferred"]
PREGNANCY = ["pregnancy_covered", "pregnancy_caution"]
TARGETS = {"I-131": I131, "lenvatinib": DRUG, "pregnancy": PREGNANCY}


@dataclass
class _Result:
    derived: list[dict] = field(default_factory=list)


class _Engine:
    """Stands in for the order engine: returns the given candidates as its conclusions."""

    def __init__(self, derived: list[dict]) -> None:
        self.derived = derived

    def evaluate(self, _facts: object) -> _Result:
        return _Result(list(self.derived))


def _pairs() -> list[tuple[str, str, str]]:
    return [(target, tiers[i], tiers[i + 1])
            for target, tiers in TARGETS.items() for i in range(len(tiers) - 1)]


@pytest.mark.parametrize(("target", "better", "worse"), _pairs())
def test_per_target_the_better_tier_wins_whatever_the_rules_order(target, better, worse) -> None:
    precedence = load_knowledge().precedence
    kinds = {t.name: t.values[0] for t in precedence["order_check"].tiers}
    for order in ((better, worse), (worse, better)):
        derived = [{"type": "order_check", "target": target, "tier": t, "kind": kinds[t]}
                   for t in order]
        checks = order_checks(_Engine(derived), [], precedence)  # type: ignore[arg-type]
        assert [c["tier"] for c in checks[target]] == [better, worse], order


def test_the_file_lists_every_target_tier_in_the_stated_order() -> None:
    names = [t.name for t in load_knowledge().precedence["order_check"].tiers]
    for tiers in TARGETS.values():
        assert [n for n in names if n in tiers] == tiers
