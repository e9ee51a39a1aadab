"""The feedback store on both backends (SQLite file, real PostgreSQL): one versioned schema,
forward migrations, idempotence, all-or-nothing requests, marks and the per-rule report.

PostgreSQL runs from tests/pg_server.py (skipped with a reason where it is not installed).
"""

from __future__ import annotations

import sqlite3
import threading

import pytest

from cds_hooks.errors import ConfigurationError
from cds_hooks.feedback import FeedbackItem
from cds_hooks.feedback_postgres import PostgresFeedbackStore, redact_url
from cds_hooks.feedback_report import format_report
from cds_hooks.feedback_sql import MIGRATIONS, SCHEMA_VERSION, SqliteFeedbackStore
from cds_hooks.feedback_store import IssuedCard, Marks, judge, open_store

TS = "2024-01-01T00:00:00.000Z"
SYSTEM = "https://example.org/reasons"
CARD = IssuedCard(
    "c1",
    "alpha",
    rules=("R1", "R2"),
    suggestions=("s1", "s2"),
    override_reasons=((SYSTEM, "not-now"), (SYSTEM, "trial")),
)


# store_location, store: tests/feedback_store_helpers.py (via conftest.py)


def columns(store) -> dict[str, list[str]]:
    """Table -> column names, from the database's own catalogue."""
    if isinstance(store, SqliteFeedbackStore):
        with sqlite3.connect(store.path) as conn:
            found = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            tables = [t for (t,) in found]
            out = {t: [r[1] for r in conn.execute(f"PRAGMA table_info({t})")] for t in tables}
        conn.close()
        return out
    import psycopg

    with psycopg.connect(store.url) as conn:
        rows = conn.execute(
            "SELECT table_name, column_name FROM information_schema.columns "
            "WHERE table_schema = current_schema() ORDER BY table_name, ordinal_position"
        ).fetchall()
    out: dict[str, list[str]] = {}
    for table, column in rows:
        out.setdefault(table, []).append(column)
    return out


def test_open_store_picks_the_backend_from_the_setting(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert isinstance(open_store("postgresql://u:p@127.0.0.1:1/db"), PostgresFeedbackStore)
    assert isinstance(open_store("postgres://u@127.0.0.1/db"), PostgresFeedbackStore)
    relative = open_store("var/fb.sqlite3")
    assert isinstance(relative, SqliteFeedbackStore)
    assert relative.path == tmp_path / "var" / "fb.sqlite3"


def test_the_password_never_shows(tmp_path):
    url = "postgresql://rair:s3cret-pw@127.0.0.1:1/db"
    assert "s3cret" not in repr(open_store(url))
    assert redact_url(url) == "postgresql://rair:***@127.0.0.1:1/db"
    with pytest.raises(ConnectionError) as caught:  # nothing listens on port 1
        PostgresFeedbackStore(url, connect_timeout=2).ensure_schema()
    assert "s3cret" not in str(caught.value) and caught.value.__cause__ is None


def test_both_backends_hold_the_same_versioned_schema(postgres_url, tmp_path):
    lite, pg = SqliteFeedbackStore(tmp_path / "fb.sqlite3"), PostgresFeedbackStore(postgres_url)
    for s in (lite, pg):
        s.ensure_schema()
        s.ensure_schema()  # idempotent
        assert s.schema_version() == SCHEMA_VERSION == MIGRATIONS[-1][0]
    try:
        assert columns(lite) == columns(pg)
        assert set(columns(lite)) == {
            "schema_version", "issued_cards", "issued_card_rules", "feedback"
        }
    finally:
        pg.close()


def test_sqlite_runs_in_wal_mode(tmp_path):
    store = SqliteFeedbackStore(tmp_path / "fb.sqlite3")
    store.ensure_schema()
    assert store.journal_mode() == "wal"


V1_SQLITE = """
CREATE TABLE issued_cards (uuid TEXT PRIMARY KEY, service_id TEXT NOT NULL, kind TEXT,
    issued_at TEXT NOT NULL);
CREATE TABLE feedback (id INTEGER PRIMARY KEY, service_id TEXT NOT NULL, card TEXT NOT NULL,
    outcome TEXT NOT NULL CHECK (outcome IN ('accepted', 'overridden')),
    outcome_timestamp TEXT NOT NULL, kind TEXT, accepted_suggestions TEXT, override_system TEXT,
    override_code TEXT, override_display TEXT, user_comment TEXT, received_at TEXT NOT NULL,
    UNIQUE (card, outcome, outcome_timestamp));
INSERT INTO issued_cards VALUES ('old', 'svc', 'alpha', '2024-01-01T00:00:00Z');
INSERT INTO feedback (service_id, card, outcome, outcome_timestamp, kind, received_at)
    VALUES ('svc', 'old', 'overridden', '2024-01-01T00:00:00.000Z', 'alpha',
            '2024-01-01T00:00:00Z');
"""


def test_a_file_from_before_versioning_is_migrated_forward_keeping_its_feedback(tmp_path):
    path = tmp_path / "old.sqlite3"
    with sqlite3.connect(path) as conn:
        conn.executescript(V1_SQLITE)
    conn.close()
    store = SqliteFeedbackStore(path)
    assert store.schema_version() == 1
    store.ensure_schema()
    assert store.schema_version() == SCHEMA_VERSION
    with sqlite3.connect(path) as conn:
        versions = [v for (v,) in conn.execute("SELECT version FROM schema_version ORDER BY 1")]
    conn.close()
    assert versions == [v for v, _ in MIGRATIONS]
    assert [(r.kind, r.overridden) for r in store.report()] == [("alpha", 1)]
    # the old card's feedback is still idempotent after the migration
    assert store.add("svc", [FeedbackItem("old", "overridden", TS)]) == 0


def test_a_database_newer_than_the_code_is_refused(store):
    store.ensure_schema()
    with store._transaction() as conn:  # noqa: SLF001 - simulate a later release's migration
        store._run(conn, "INSERT INTO schema_version VALUES (?, ?)", (SCHEMA_VERSION + 1, TS))
    fresh = open_store(store.url if isinstance(store, PostgresFeedbackStore) else store.path)
    with pytest.raises(ConfigurationError, match="newer|knows up to"):
        fresh.ensure_schema()
    getattr(fresh, "close", lambda: None)()


def test_feedback_is_idempotent_and_marked_on_both_backends(store):
    store.record_issued("svc", [CARD, IssuedCard("c2", "beta", rules=("R2",))])
    items = [
        FeedbackItem("c1", "accepted", TS, ("s1",)),
        FeedbackItem("c2", "overridden", TS, override_system=SYSTEM, override_code="other"),
        FeedbackItem("nope", "overridden", TS),
        FeedbackItem("c1", "overridden", TS, override_system=SYSTEM, override_code="trial"),
    ]
    assert store.add("svc", items) == 4
    assert store.add("svc", items) == 0
    assert store.add("other-svc", [FeedbackItem("c1", "accepted", "2024-02-01T00:00:00.000Z",
                                                ("s1",))]) == 1
    report = store.full_report()
    assert [(r.kind, r.accepted, r.overridden) for r in report.kinds] == [("alpha", 1, 1)]
    assert {(m.service_id, m.unknown_card, m.unknown_suggestion, m.unknown_reason)
            for m in report.marked} == {("svc", 1, 0, 1), ("other-svc", 1, 0, 0)}
    assert [(r.rule, r.accepted, r.overridden) for r in report.rules] == [
        ("R1", 1, 1), ("R2", 1, 1)]


def test_a_request_is_stored_whole_or_not_at_all(store):
    store.ensure_schema()
    bad = FeedbackItem("c2", "ignored", TS)  # the CHECK constraint refuses it, mid-request
    with pytest.raises(Exception):  # noqa: B017 - each driver has its own IntegrityError
        store.add("svc", [FeedbackItem("c1", "overridden", TS), bad])
    assert store.full_report().marked == [] and store.report() == []
    assert store.add("svc", [FeedbackItem("c1", "overridden", TS)]) == 1


def test_concurrent_duplicates_land_once(store):
    store.ensure_schema()
    items = [FeedbackItem(f"c{i}", "overridden", TS) for i in range(40)]
    added: list[int] = []

    def send() -> None:
        added.append(store.add("svc", items))

    threads = [threading.Thread(target=send) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(added) == 40
    assert store.full_report().marked[0].unknown_card == 40


def test_the_report_ranks_rules_by_override_rate_and_counts_marks_apart(tmp_path):
    store = SqliteFeedbackStore(tmp_path / "fb.sqlite3")
    cards = [IssuedCard(f"k{i}", "alpha", rules=("KEEP",)) for i in range(4)]
    cards += [IssuedCard(f"o{i}", "beta", rules=("OFTEN-OVERRIDDEN",)) for i in range(4)]
    store.record_issued("svc", cards)
    items = [FeedbackItem(f"k{i}", "overridden" if i == 0 else "accepted", TS, () if i == 0
                          else ("x",)) for i in range(4)]
    items += [FeedbackItem(f"o{i}", "overridden", TS) for i in range(3)]
    store.add("svc", items)
    report = store.full_report()
    assert [r.rule for r in report.rules] == ["OFTEN-OVERRIDDEN", "KEEP"]
    # the accepted k1..k3 named suggestion "x", which those cards never had: marked
    assert report.marked[0].unknown_suggestion == 3
    text = format_report(report)
    assert "Per rule" in text and "Marked feedback" in text
    rule_lines = [line.split() for line in text.splitlines() if line.startswith("svc")]
    assert ["svc", "OFTEN-OVERRIDDEN", "3", "0", "3", "0.0", "100.0"] in rule_lines
    assert ["svc", "KEEP", "1", "0", "1", "0.0", "100.0"] in rule_lines
    assert ["svc", "0", "3", "0"] in rule_lines


@pytest.mark.parametrize(
    ("item", "marks"),
    [
        (FeedbackItem("c1", "accepted", TS, ("s2",)), Marks()),
        (FeedbackItem("c1", "accepted", TS, ("s1", "zz")), Marks(unknown_suggestion=True)),
        (FeedbackItem("c1", "overridden", TS), Marks()),
        (FeedbackItem("c1", "overridden", TS, user_comment="no reason coded"), Marks()),
        (FeedbackItem("c1", "overridden", TS, override_system=SYSTEM, override_code="trial"),
         Marks()),
        (FeedbackItem("c1", "overridden", TS, override_code="trial"), Marks()),
        (FeedbackItem("c1", "overridden", TS, override_system="https://x", override_code="trial"),
         Marks(unknown_reason=True)),
        (FeedbackItem("c1", "overridden", TS, override_system=SYSTEM, override_code="made-up"),
         Marks(unknown_reason=True)),
    ],
)
def test_judge_compares_feedback_with_what_the_card_offered(item, marks):
    assert judge(item, CARD) == marks
    assert judge(item, None) == Marks(unknown_card=True)


def test_a_version_1_database_is_migrated_forward_on_both_backends(
    store_location, monkeypatch
):
    from cds_hooks import feedback_sql

    with monkeypatch.context() as patched:  # a rair-cds that knew version 1 only
        patched.setattr(feedback_sql, "MIGRATIONS", MIGRATIONS[:1])
        patched.setattr(feedback_sql, "SCHEMA_VERSION", 1)
        old = open_store(store_location)
        old.ensure_schema()
        with old._transaction() as conn:  # noqa: SLF001 - version-1 rows, as 1 wrote them
            old._run(conn, "INSERT INTO issued_cards VALUES ('c1', 'svc', 'alpha', ?)", (TS,))
            old._run(
                conn,
                "INSERT INTO feedback (service_id, card, outcome, outcome_timestamp, kind, "
                "received_at) VALUES ('svc', 'c1', 'overridden', ?, 'alpha', ?)",
                (TS, TS),
            )
        assert old.schema_version() == 1
        getattr(old, "close", lambda: None)()
    new = open_store(store_location)
    new.ensure_schema()
    assert new.schema_version() == SCHEMA_VERSION
    assert [(r.kind, r.overridden) for r in new.report()] == [("alpha", 1)]
    assert new.add("svc", [FeedbackItem("c1", "overridden", TS)]) == 0  # still idempotent
    getattr(new, "close", lambda: None)()


def test_instances_starting_together_migrate_once(store_location):
    stores = [open_store(store_location) for _ in range(4)]
    errors: list[BaseException] = []

    def start(s) -> None:
        try:
            s.ensure_schema()
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=start, args=(s,)) for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with stores[0]._transaction() as conn:  # noqa: SLF001
        versions = stores[0]._run(conn, "SELECT version FROM schema_version ORDER BY 1")
        assert [v for (v,) in versions.fetchall()] == [v for v, _ in MIGRATIONS]
    for s in stores:
        getattr(s, "close", lambda: None)()


def test_the_report_command_reads_a_postgresql_url(postgres_url, capsys):
    from cds_hooks.cli import main

    store = PostgresFeedbackStore(postgres_url)
    store.record_issued("svc", [CARD])
    store.add("svc", [FeedbackItem("c1", "overridden", TS, override_code="made-up")])
    store.close()
    assert main(["feedback-report", "--db", postgres_url]) == 0
    out = capsys.readouterr().out
    assert "Marked feedback" in out and out.splitlines()[-1].split() == ["svc", "0", "0", "1"]
    assert main(["feedback-report", "--db", "postgresql://rair:pw-x@127.0.0.1:1/none"]) == 2
    err = capsys.readouterr().err
    assert "cannot read the feedback database" in err and "pw-x" not in err


def test_nul_characters_are_stored_on_both_backends_and_stay_idempotent(store):
    item = FeedbackItem("a\x00b", "overridden", TS, user_comment="x\x00y")
    assert store.add("svc", [item]) == 1
    assert store.add("svc", [item]) == 0
    assert store.full_report().marked[0].unknown_card == 1


def test_serve_refuses_an_unusable_database_in_one_line_without_the_password(make_app):
    from cds_hooks.server import create_server

    app = make_app(FEEDBACK_DB="postgresql://rair:pw-start@127.0.0.1:1/none")
    with pytest.raises(ConfigurationError) as caught:
        create_server(app, host="127.0.0.1", port=0)
    assert "cannot be used" in caught.value.message and "pw-start" not in caught.value.message


def test_sqlite_instances_starting_together_never_see_database_is_locked(tmp_path):
    """Switching a new file to WAL needs it to itself, and SQLite can answer "database is
    locked" at once, without its busy timeout, while another instance is starting: measured
    6 failures in 150 rounds of four starting instances before the retry. 60 rounds here."""
    errors: list[str] = []

    def start(store: SqliteFeedbackStore) -> None:
        try:
            store.ensure_schema()
        except sqlite3.OperationalError as exc:
            errors.append(str(exc))

    for round_no in range(60):
        stores = [SqliteFeedbackStore(tmp_path / f"f{round_no}.sqlite3") for _ in range(4)]
        threads = [threading.Thread(target=start, args=(s,)) for s in stores]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for s in stores:
            getattr(s, "close", lambda: None)()
    assert errors == []

