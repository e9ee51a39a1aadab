"""A card that states the JS-v threshold reads it from the knowledge, not from its own text
(one fact, one computation: thresholds.yaml ``cumulative_threshold_mbq``)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from test_thyroid_rules_builder import AS_OF, B

from plugin.thyroid.assessment.builder import assess
from plugin.thyroid.cards.render import render
from plugin.thyroid.facts.derivation import derive
from plugin.thyroid.knowledge.loader import load_knowledge

KNOWLEDGE = Path(__file__).resolve().parents[1] / "rules" / "thyroid"


def _exactly_at(total: int) -> B:
    return (B().histology("PTC").rai("2020-01-10", total - 11100).rai("2021-01-10", 11100)
            .scan("2021-01-15", uptake="all").sum("2025-01-01", 40).sum("2026-06-01", 50)
            .tested().bp("2026-11-01", 120, 80))


def _cards_text(total: int, folder: Path | None = None) -> str:
    knowledge = load_knowledge(folder)
    record = _exactly_at(total).build()
    derivation = derive(record, AS_OF, knowledge.thresholds, knowledge.therapies)
    assessment = assess(record, AS_OF, knowledge=knowledge, derivation=derivation)
    assert any(w.code == "W-THRESHOLD-EQUAL" for w in assessment.warnings)
    rendered = render(assessment, record, templates=knowledge.templates, derivation=derivation)
    return "\n".join(f"{rc.card.summary}\n{rc.card.detail}" for rc in rendered)


def test_the_default_threshold_is_stated_as_the_rules_compared_it() -> None:
    text = _cards_text(22200)
    assert "Cumulative 22,200 MBq (600 mCi) is not above the JS-v threshold" in text


@pytest.mark.parametrize("mbq,shown", [(18500, "18,500 MBq (500 mCi)")])
def test_a_sites_threshold_is_the_one_the_card_states(tmp_path: Path, mbq: int, shown: str) -> None:
    folder = tmp_path / "site"
    shutil.copytree(KNOWLEDGE, folder)
    path = folder / "thresholds.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(re.sub(r"cumulative_threshold_mbq: \d+", f"cumulative_threshold_mbq: {mbq}",
                           text), encoding="utf-8")

    cards = _cards_text(mbq, folder)

    assert f"Cumulative {shown} is not above the JS-v threshold" in cards
    assert "22,200" not in cards
