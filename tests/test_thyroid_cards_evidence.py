"""§A4.16 on the status card: the evidence shown is the evidence that decided it. A card that says
"no PD" after an older progression shows the newer imaging that outweighs it (a clinical read
found only "Disease status worsened" under a "no PD" card)."""

from __future__ import annotations

from test_thyroid_block_cards import _cards
from test_thyroid_rules_builder import B


def _status(b: B):
    return next(rc.card for rc in _cards(b) if rc.kind == "rai-status")


def _rair() -> B:
    return (B().birth("1960-01-01").histology("PTC").rai("2022-01-10", 5550)
            .scan("2022-01-15", uptake="none"))


def test_no_pd_after_an_older_progression_names_the_newer_imaging() -> None:
    card = _status(_rair().status("2025-01-05", "worsened")
                   .sum("2025-08-01", 28).sum("2026-07-15", 28))
    assert "no PD" in card.summary
    line = "Disease status worsened 2025-01-05; no PD on newer imaging 2026-07-15 (C1)"
    assert line in card.detail


def test_recent_progression_says_nothing_of_newer_imaging() -> None:
    card = _status(_rair().sum("2025-08-01", 28).sum("2026-07-15", 40))
    assert "recent PD" in card.summary
    assert "newer imaging" not in card.detail
