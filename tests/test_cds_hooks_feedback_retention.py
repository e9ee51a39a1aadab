"""Issue 11: issued-card records are not kept for ever (FEEDBACK_ISSUED_RETENTION_DAYS, default
365 days, 0 = for ever); records that feedback names stay, since the reports read them. On both
backends (SQLite file, real PostgreSQL; skipped with a reason where PostgreSQL is missing)."""

from __future__ import annotations

import datetime as dt

import pytest

from cds_hooks.errors import ConfigurationError
from cds_hooks.feedback import FeedbackItem
from cds_hooks.feedback_sql import SqliteFeedbackStore
from cds_hooks.feedback_store import IssuedCard, open_store

TS = "2024-01-01T00:00:00.000Z"
CARD = IssuedCard("c1", "alpha", rules=("R1", "R2"), suggestions=("s1", "s2"))


# store_location, store: tests/feedback_store_helpers.py (via conftest.py)



def _issued_uuids(store) -> list[str]:
    with store._transaction() as conn:
        cards = [u for (u,) in store._run(conn, "SELECT uuid FROM issued_cards ORDER BY 1")]
        rules = {c for (c,) in store._run(conn, "SELECT card FROM issued_card_rules")}
    assert rules <= set(cards)  # no rule row outlives its card
    return cards


def test_issued_cards_past_their_retention_are_pruned_unless_feedback_names_them(store):
    store.record_issued("svc", [CARD, IssuedCard("c2", "beta", rules=("R3",)),
                                IssuedCard("c3", "gamma", rules=("R1",))])
    store.add("svc", [FeedbackItem("c1", "accepted", TS, ("s1",))])
    now = dt.datetime.now(dt.UTC)

    assert store.prune_issued(now) == 0  # fresh records stay
    assert store.prune_issued(now + dt.timedelta(days=364)) == 0
    assert store.prune_issued(now + dt.timedelta(days=366)) == 2  # the 365-day default

    assert _issued_uuids(store) == ["c1"]  # c1 has feedback: kept with its rules
    report = store.full_report()
    assert [(r.kind, r.accepted) for r in report.kinds] == [("alpha", 1)]
    assert sorted(r.rule for r in report.rules) == ["R1", "R2"]


def test_writing_issued_cards_prunes_old_records_and_zero_days_keeps_them(store_location):
    old = (dt.datetime.now(dt.UTC) - dt.timedelta(days=40)).isoformat(timespec="seconds")
    old = old.replace("+00:00", "Z")
    stores = [open_store(store_location, issued_retention_days=days) for days in (0, 30)]
    keep, prune = stores
    try:
        keep.record_issued("svc", [IssuedCard("fresh-a", "alpha")])
        with keep._transaction() as conn:  # a record written 40 days ago
            keep._run(conn, "INSERT INTO issued_cards (uuid, service_id, kind, issued_at) "
                            "VALUES ('old', 'svc', 'alpha', ?)", (old,))
            keep._run(conn, "INSERT INTO issued_card_rules (card, rule) VALUES ('old', 'R1')")
        keep.record_issued("svc", [IssuedCard("fresh-b", "alpha")])
        assert keep.prune_issued() == 0 and "old" in _issued_uuids(keep)  # 0: kept for ever

        prune.record_issued("svc", [IssuedCard("fresh-c", "alpha")])  # its first write prunes

        assert _issued_uuids(prune) == ["fresh-a", "fresh-b", "fresh-c"]
    finally:
        for made in stores:
            closer = getattr(made, "close", None)
            if closer:
                closer()


def test_a_negative_retention_is_refused(make_app, tmp_path):
    with pytest.raises(ValueError, match="issued_retention_days"):
        SqliteFeedbackStore(tmp_path / "fb.sqlite3", issued_retention_days=-1)
    with pytest.raises(ConfigurationError, match="FEEDBACK_ISSUED_RETENTION_DAYS"):
        make_app(FEEDBACK_ISSUED_RETENTION_DAYS=-5)
