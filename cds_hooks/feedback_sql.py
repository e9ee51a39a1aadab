"""The SQL feedback store, with one versioned schema; SQLite here, PostgreSQL in
:mod:`cds_hooks.feedback_postgres`.

Both backends hold the same logical schema (:data:`MIGRATIONS`): ``schema_version`` records each
migration applied; :meth:`SqlFeedbackStore.ensure_schema` applies the missing ones, forward only,
in one transaction under a lock (``BEGIN IMMEDIATE`` on SQLite, an advisory lock on PostgreSQL),
so instances starting together migrate once. A database newer than this code is refused.
A SQLite file written before versioning (the version-1 tables, no ``schema_version``) is taken
as version 1. SQLite runs in WAL mode. Statements are written with ``?`` placeholders;
PostgreSQL gets ``%s``.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any

from cds_hooks.errors import ConfigurationError
from cds_hooks.feedback import ACCEPTED, OVERRIDDEN, FeedbackItem
from cds_hooks.feedback_schema import MIGRATIONS, SCHEMA_VERSION
from cds_hooks.feedback_store import (
    UNKNOWN_KIND,
    FullReport,
    IssuedCard,
    MarkedRow,
    ReportRow,
    RuleRow,
    judge,
)

#: Days an issued-card record is kept when no feedback names it (FEEDBACK_ISSUED_RETENTION_DAYS).
DEFAULT_ISSUED_RETENTION_DAYS = 365
#: Seconds between two prunings by one store (the first write after start-up prunes).
PRUNE_INTERVAL_SECONDS = 3600.0


class SqlFeedbackStore:
    """The :class:`~cds_hooks.feedback_store.FeedbackStore` over a DB-API connection.

    ``issued_retention_days``: issued-card records (``issued_cards``, ``issued_card_rules``)
    older than this that no feedback names are deleted, at most once an hour, by the writes of
    issued cards (``0``: kept for ever). Records that feedback names are kept: the report by
    kind and by rule reads them.
    """

    placeholder = "?"
    id_column = "INTEGER PRIMARY KEY"

    def __init__(self, *, issued_retention_days: int = DEFAULT_ISSUED_RETENTION_DAYS) -> None:
        if isinstance(issued_retention_days, bool) or not isinstance(issued_retention_days, int) \
                or issued_retention_days < 0:
            raise ValueError("issued_retention_days must be a whole number of days, 0 or more")
        self.issued_retention_days = issued_retention_days
        self._ready = False
        self._lock = threading.Lock()
        self._next_prune = 0.0  # time.monotonic() of the next pruning

    # -- backend hooks ----------------------------------------------------------------------
    def _connect(self) -> Any:  # noqa: ANN401 - a DB-API connection
        raise NotImplementedError

    def _release(self, conn: Any, *, broken: bool) -> None:  # noqa: ANN401
        conn.close()

    def _begin(self, conn: Any, *, migrating: bool = False) -> None:  # noqa: ANN401
        """Start a transaction (and, when migrating, take the migration lock)."""

    def _tables(self, conn: Any) -> set[str]:  # noqa: ANN401
        raise NotImplementedError

    # -- transactions -----------------------------------------------------------------------
    @contextmanager
    def _transaction(self, *, migrating: bool = False) -> Iterator[Any]:
        if not migrating:
            self.ensure_schema()
        conn = self._connect()
        broken = False
        try:
            self._begin(conn, migrating=migrating)
            yield conn
            conn.commit()
        except BaseException:
            broken = True
            try:
                conn.rollback()
            except Exception:  # noqa: S110 - the original error is what matters
                pass
            raise
        finally:
            self._release(conn, broken=broken)

    def _sql(self, statement: str) -> str:
        return statement if self.placeholder == "?" else statement.replace("?", self.placeholder)

    def _run(self, conn: Any, statement: str, params: Iterable[Any] = ()) -> Any:  # noqa: ANN401
        # PostgreSQL text cannot hold NUL: both backends store U+FFFD for it, so that the same
        # feedback is the same row (idempotence) whichever backend keeps it
        values = tuple(p.replace("\x00", "\ufffd") if isinstance(p, str) else p for p in params)
        cursor = conn.cursor()
        cursor.execute(self._sql(statement), values)
        return cursor

    # -- schema -----------------------------------------------------------------------------
    def ensure_schema(self) -> None:
        """Apply the missing migrations (idempotent; safe with several instances at once).

        :raises ConfigurationError: when the database is newer than this code.
        """
        with self._lock:
            if self._ready:
                return
            self._prepare()
            with self._transaction(migrating=True) as conn:
                self._migrate(conn)
            self._ready = True

    def _prepare(self) -> None:
        """Anything needed before the first connection (a directory, a journal mode)."""

    def schema_version(self) -> int:
        """The version recorded in the database (0: an empty database)."""
        with self._transaction(migrating=True) as conn:
            return self._version(conn)

    def _version(self, conn: Any) -> int:  # noqa: ANN401
        tables = self._tables(conn)
        if "schema_version" not in tables:
            return 1 if "feedback" in tables else 0
        row = self._run(conn, "SELECT MAX(version) FROM schema_version").fetchone()
        return int(row[0] or 0)

    def _migrate(self, conn: Any) -> None:  # noqa: ANN401
        current = self._version(conn)
        if current > SCHEMA_VERSION:
            raise ConfigurationError(
                f"the feedback database has schema version {current}; this rair-cds knows "
                f"up to {SCHEMA_VERSION} (upgrade rair-cds, do not downgrade a database)"
            )
        self._run(
            conn,
            "CREATE TABLE IF NOT EXISTS schema_version ("
            "version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)",
        )
        if current == 1 and not self._run(conn, "SELECT 1 FROM schema_version").fetchone():
            self._run(conn, "INSERT INTO schema_version VALUES (1, ?)", (_now(),))  # legacy file
        for version, statements in MIGRATIONS:
            if version <= current:
                continue
            for statement in statements:
                self._run(conn, statement.replace("{id}", self.id_column))
            self._run(conn, "INSERT INTO schema_version VALUES (?, ?)", (version, _now()))

    # -- writes -----------------------------------------------------------------------------
    def record_issued(self, service_id: str, cards: Iterable[IssuedCard]) -> None:
        """Remember the cards just sent by ``service_id`` (one transaction)."""
        self.record_issued_batch([(service_id, card) for card in cards])

    def record_issued_batch(self, batch: list[tuple[str, IssuedCard]]) -> None:
        """Remember ``(service id, card)`` pairs from many calls in one transaction (and, at
        most once an hour, delete the records past their retention first)."""
        if not batch:
            return
        if self.issued_retention_days and time.monotonic() >= self._next_prune:
            self._next_prune = time.monotonic() + PRUNE_INTERVAL_SECONDS
            self.prune_issued()
        now = _now()
        with self._transaction() as conn:
            for service_id, card in batch:
                self._run(
                    conn,
                    """INSERT INTO issued_cards
                           (uuid, service_id, kind, issued_at, suggestions, override_reasons)
                       VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (uuid) DO NOTHING""",
                    (
                        card.uuid,
                        service_id,
                        card.kind,
                        now,
                        json.dumps(list(card.suggestions)),
                        json.dumps([list(pair) for pair in card.override_reasons]),
                    ),
                )
                for rule in dict.fromkeys(card.rules):
                    self._run(
                        conn,
                        "INSERT INTO issued_card_rules (card, rule) VALUES (?, ?) "
                        "ON CONFLICT (card, rule) DO NOTHING",
                        (card.uuid, rule),
                    )

    def prune_issued(self, now: dt.datetime | None = None) -> int:
        """Delete the issued-card records older than the retention that no feedback names;
        return how many cards were deleted (0 when the retention is 0: kept for ever)."""
        if not self.issued_retention_days:
            return 0
        moment = (now or dt.datetime.now(dt.UTC)) - dt.timedelta(days=self.issued_retention_days)
        cutoff = moment.astimezone(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
        stale = """SELECT i.uuid FROM issued_cards i
                   WHERE i.issued_at < ?
                     AND NOT EXISTS (SELECT 1 FROM feedback f WHERE f.card = i.uuid)"""
        with self._transaction() as conn:
            self._run(conn, f"DELETE FROM issued_card_rules WHERE card IN ({stale})", (cutoff,))
            cursor = self._run(conn, f"DELETE FROM issued_cards WHERE uuid IN ({stale})",
                               (cutoff,))
            return max(cursor.rowcount, 0)

    def _issued(self, conn: Any, service_id: str, uuid: str) -> IssuedCard | None:  # noqa: ANN401
        row = self._run(
            conn,
            "SELECT kind, suggestions, override_reasons FROM issued_cards "
            "WHERE uuid = ? AND service_id = ?",
            (uuid, service_id),
        ).fetchone()
        if row is None:
            return None
        kind, suggestions, reasons = row
        return IssuedCard(
            uuid=uuid,
            kind=kind,
            suggestions=tuple(json.loads(suggestions or "[]")),
            override_reasons=tuple((s, c) for s, c in json.loads(reasons or "[]")),
        )

    def add(self, service_id: str, items: list[FeedbackItem]) -> int:
        """Store every item in one transaction, marked where it does not match the card."""
        now = _now()
        added = 0
        with self._transaction() as conn:
            for item in items:
                issued = self._issued(conn, service_id, item.card)
                marks = judge(item, issued)
                cursor = self._run(
                    conn,
                    """INSERT INTO feedback (service_id, card, outcome, outcome_timestamp, kind,
                           accepted_suggestions, override_system, override_code,
                           override_display, user_comment, received_at,
                           unknown_card, unknown_suggestion, unknown_reason)
                       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                       ON CONFLICT (card, outcome, outcome_timestamp) DO NOTHING""",
                    (
                        service_id,
                        item.card,
                        item.outcome,
                        item.outcome_timestamp,
                        issued.kind if issued else None,
                        json.dumps(list(item.accepted_suggestions))
                        if item.accepted_suggestions
                        else None,
                        item.override_system,
                        item.override_code,
                        item.override_display,
                        item.user_comment,
                        now,
                        int(marks.unknown_card),
                        int(marks.unknown_suggestion),
                        int(marks.unknown_reason),
                    ),
                )
                added += max(cursor.rowcount, 0)
        return added

    # -- reports ----------------------------------------------------------------------------
    _COUNTS = (
        "SUM(CASE WHEN f.outcome = ? THEN 1 ELSE 0 END), "
        "SUM(CASE WHEN f.outcome = ? THEN 1 ELSE 0 END)"
    )
    _CLEAN = "f.unknown_card = 0 AND f.unknown_suggestion = 0 AND f.unknown_reason = 0"

    def report(self) -> list[ReportRow]:
        """Accept/override counts per service and card kind, of unmarked feedback."""
        with self._transaction() as conn:
            return self._kinds(conn)

    def _kinds(self, conn: Any) -> list[ReportRow]:  # noqa: ANN401
        rows = self._run(
            conn,
            f"""SELECT f.service_id, COALESCE(f.kind, i.kind, ?), {self._COUNTS}
                FROM feedback f LEFT JOIN issued_cards i ON i.uuid = f.card
                WHERE {self._CLEAN}
                GROUP BY 1, 2 ORDER BY 1, 2""",
            (UNKNOWN_KIND, ACCEPTED, OVERRIDDEN),
        ).fetchall()
        return [
            ReportRow(service_id=s, kind=k, accepted=int(a), overridden=int(o))
            for s, k, a, o in rows
        ]

    def full_report(self) -> FullReport:
        """Per kind, per rule (most overridden first) and the marked counts, in one snapshot."""
        with self._transaction() as conn:
            kinds = self._kinds(conn)
            rules = self._run(
                conn,
                f"""SELECT f.service_id, r.rule, {self._COUNTS}
                    FROM feedback f JOIN issued_card_rules r ON r.card = f.card
                    WHERE {self._CLEAN}
                    GROUP BY f.service_id, r.rule""",
                (ACCEPTED, OVERRIDDEN),
            ).fetchall()
            marked = self._run(
                conn,
                """SELECT service_id, SUM(unknown_card), SUM(unknown_suggestion),
                          SUM(unknown_reason)
                   FROM feedback
                   WHERE unknown_card = 1 OR unknown_suggestion = 1 OR unknown_reason = 1
                   GROUP BY service_id ORDER BY service_id""",
            ).fetchall()
        rule_rows = [
            RuleRow(service_id=s, rule=r, accepted=int(a), overridden=int(o))
            for s, r, a, o in rules
        ]
        rule_rows.sort(key=lambda r: (r.service_id, -r.override_rate, -r.total, r.rule))
        return FullReport(
            kinds=kinds,
            rules=rule_rows,
            marked=[MarkedRow(s, int(c), int(g), int(r)) for s, c, g, r in marked],
        )


class SqliteFeedbackStore(SqlFeedbackStore):
    """The store in one SQLite file (WAL mode); a connection per operation (thread-safe)."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        issued_retention_days: int = DEFAULT_ISSUED_RETENTION_DAYS,
    ) -> None:
        super().__init__(issued_retention_days=issued_retention_days)
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"SqliteFeedbackStore({str(self.path)!r})"

    def _prepare(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # WAL is persistent: readers never block the writer. Switching needs the file to itself,
        # and SQLite may answer "database is locked" at once (without its busy timeout) while
        # another instance is starting or migrating: wait and retry, within the same 10 s.
        deadline = time.monotonic() + 10
        with closing(sqlite3.connect(self.path, timeout=10)) as conn:
            while True:
                try:
                    mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
                    if str(mode).lower() != "wal":
                        conn.execute("PRAGMA journal_mode=WAL")
                    return
                except sqlite3.OperationalError as exc:
                    if "locked" not in str(exc) or time.monotonic() > deadline:
                        raise
                    time.sleep(0.05)

    def _connect(self) -> sqlite3.Connection:
        # autocommit mode, transactions begun explicitly (DDL included) in _begin
        return sqlite3.connect(self.path, timeout=10, isolation_level=None)

    def _begin(self, conn: Any, *, migrating: bool = False) -> None:  # noqa: ANN401
        conn.execute("BEGIN IMMEDIATE")  # take the write lock now: no upgrade deadlock later

    def _tables(self, conn: Any) -> set[str]:  # noqa: ANN401
        rows = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
        return {name for (name,) in rows}

    def journal_mode(self) -> str:
        """The file's journal mode (``wal`` once the schema is ensured)."""
        with closing(sqlite3.connect(self.path, timeout=10)) as conn:
            return str(conn.execute("PRAGMA journal_mode").fetchone()[0])


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
