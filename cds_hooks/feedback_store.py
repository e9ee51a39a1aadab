"""Durable storage of card feedback and of the cards we issued (to know each card's kind).

:class:`FeedbackStore` is the interface; :class:`SqliteFeedbackStore` the implementation (a
PostgreSQL one can be added behind the same Protocol). Feedback is idempotent on
``(card, outcome, outcome_timestamp)`` and each request is stored in one transaction.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from cds_hooks.feedback import ACCEPTED, OVERRIDDEN, FeedbackItem

UNKNOWN_KIND = "unknown"


@dataclass(frozen=True)
class ReportRow:
    """Feedback counts for one (service, card kind)."""

    service_id: str
    kind: str
    accepted: int
    overridden: int

    @property
    def total(self) -> int:
        """All feedback entries counted in this row."""
        return self.accepted + self.overridden

    @property
    def accept_rate(self) -> float:
        """Share of entries that were accepted (0.0 when there are none)."""
        return self.accepted / self.total if self.total else 0.0

    @property
    def override_rate(self) -> float:
        """Share of entries that were overridden (0.0 when there are none)."""
        return self.overridden / self.total if self.total else 0.0


class FeedbackStore(Protocol):
    """Where feedback and issued cards are kept."""

    def record_issued(self, service_id: str, cards: Iterable[tuple[str, str | None]]) -> None:
        """Remember ``(card uuid, kind)`` pairs just sent by ``service_id``."""
        ...

    def add(self, service_id: str, items: list[FeedbackItem]) -> int:
        """Store every item in one transaction; return how many were new."""
        ...

    def report(self) -> list[ReportRow]:
        """Accept/override counts per service and card kind."""
        ...


_SCHEMA = """
CREATE TABLE IF NOT EXISTS issued_cards (
    uuid TEXT PRIMARY KEY,
    service_id TEXT NOT NULL,
    kind TEXT,
    issued_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS feedback (
    id INTEGER PRIMARY KEY,
    service_id TEXT NOT NULL,
    card TEXT NOT NULL,
    outcome TEXT NOT NULL CHECK (outcome IN ('accepted', 'overridden')),
    outcome_timestamp TEXT NOT NULL,
    kind TEXT,
    accepted_suggestions TEXT,
    override_system TEXT,
    override_code TEXT,
    override_display TEXT,
    user_comment TEXT,
    received_at TEXT NOT NULL,
    UNIQUE (card, outcome, outcome_timestamp)
);
"""


class SqliteFeedbackStore:
    """:class:`FeedbackStore` in one SQLite file; a connection per operation (thread-safe)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._ready = False
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"SqliteFeedbackStore({str(self.path)!r})"

    def ensure_schema(self) -> None:
        """Create the directory, the file and the tables if needed (idempotent)."""
        with self._lock:
            if self._ready:
                return
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with closing(sqlite3.connect(self.path, timeout=10)) as conn:
                conn.executescript(_SCHEMA)
            self._ready = True

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        self.ensure_schema()
        with closing(sqlite3.connect(self.path, timeout=10)) as conn, conn:
            yield conn

    def record_issued(self, service_id: str, cards: Iterable[tuple[str, str | None]]) -> None:
        now = _now()
        rows = [(uuid, service_id, kind, now) for uuid, kind in cards]
        if not rows:
            return
        with self._transaction() as conn:
            conn.executemany("INSERT OR IGNORE INTO issued_cards VALUES (?, ?, ?, ?)", rows)

    def add(self, service_id: str, items: list[FeedbackItem]) -> int:
        now = _now()
        added = 0
        with self._transaction() as conn:
            for item in items:
                cursor = conn.execute(
                    """INSERT OR IGNORE INTO feedback (service_id, card, outcome, outcome_timestamp,
                           kind, accepted_suggestions, override_system, override_code,
                           override_display, user_comment, received_at)
                       VALUES (?, ?, ?, ?, (SELECT kind FROM issued_cards WHERE uuid = ?),
                               ?, ?, ?, ?, ?, ?)""",
                    (
                        service_id,
                        item.card,
                        item.outcome,
                        item.outcome_timestamp,
                        item.card,
                        json.dumps(list(item.accepted_suggestions))
                        if item.accepted_suggestions
                        else None,
                        item.override_system,
                        item.override_code,
                        item.override_display,
                        item.user_comment,
                        now,
                    ),
                )
                added += cursor.rowcount
        return added

    def report(self) -> list[ReportRow]:
        with self._transaction() as conn:
            rows = conn.execute(
                """SELECT f.service_id, COALESCE(f.kind, i.kind, ?) AS k,
                          SUM(f.outcome = ?), SUM(f.outcome = ?)
                   FROM feedback f LEFT JOIN issued_cards i ON i.uuid = f.card
                   GROUP BY f.service_id, k ORDER BY f.service_id, k""",
                (UNKNOWN_KIND, ACCEPTED, OVERRIDDEN),
            ).fetchall()
        return [ReportRow(service_id=s, kind=k, accepted=a, overridden=o) for s, k, a, o in rows]


def format_report(rows: list[ReportRow]) -> str:
    """A plain-text table of accept/override rates per service and card kind."""
    if not rows:
        return "no feedback recorded"
    header = ("service", "kind", "total", "accepted", "overridden", "accept%", "override%")
    lines = [header] + [
        (
            r.service_id,
            r.kind,
            str(r.total),
            str(r.accepted),
            str(r.overridden),
            f"{100 * r.accept_rate:.1f}",
            f"{100 * r.override_rate:.1f}",
        )
        for r in rows
    ]
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip()
        for line in lines
    )


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
