"""Durable storage of card feedback and of the cards we issued (docs/FEEDBACK.md).

:class:`FeedbackStore` is the interface; :func:`open_store` picks the implementation from the
``FEEDBACK_DB`` setting: a ``postgresql://`` URL (PostgreSQL through psycopg 3) or a SQLite file
path (:mod:`cds_hooks.feedback_sql` holds both, with one versioned schema).
:mod:`cds_hooks.feedback_writer` writes the issued cards off the request path.

Feedback is idempotent on ``(card, outcome, outcome_timestamp)`` and each request is stored in
one transaction. An item is stored but *marked* (:class:`Marks`) when it names a card this
service never issued, a suggestion the card never had, or an override reason the card never
offered; the report counts marked items apart.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from cds_hooks.feedback import ACCEPTED, OVERRIDDEN, FeedbackItem

UNKNOWN_KIND = "unknown"
POSTGRES_SCHEMES = ("postgresql://", "postgres://")


@dataclass(frozen=True)
class IssuedCard:
    """What is kept of one card sent to a client: enough to judge and report its feedback.

    ``rules`` are the knowledge rules behind the card (the plugin's ``HookResult.card_rules``);
    ``suggestions`` the suggestion uuids; ``override_reasons`` the ``(system, code)`` pairs offered.
    """

    uuid: str
    kind: str | None = None
    rules: tuple[str, ...] = ()
    suggestions: tuple[str, ...] = ()
    override_reasons: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Marks:
    """Why a feedback item does not match what was issued (all false: it matches)."""

    unknown_card: bool = False
    unknown_suggestion: bool = False
    unknown_reason: bool = False

    @property
    def any(self) -> bool:
        """Whether the item is marked at all."""
        return self.unknown_card or self.unknown_suggestion or self.unknown_reason


def judge(item: FeedbackItem, issued: IssuedCard | None) -> Marks:
    """The marks of ``item`` against the card it names (``None``: never issued by this service).

    An override reason matches an offered one by code, and by system when the item gives one.
    """
    if issued is None:
        return Marks(unknown_card=True)
    unknown_suggestion = any(s not in issued.suggestions for s in item.accepted_suggestions)
    unknown_reason = False
    if item.override_code is not None:
        unknown_reason = not any(
            code == item.override_code and item.override_system in (None, system)
            for system, code in issued.override_reasons
        )
    return Marks(unknown_suggestion=unknown_suggestion, unknown_reason=unknown_reason)


@dataclass(frozen=True)
class Rates:
    """Accept/override counts of one report row (unmarked feedback only)."""

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


@dataclass(frozen=True)
class ReportRow(Rates):
    """Feedback counts for one (service, card kind)."""

    service_id: str = ""
    kind: str = UNKNOWN_KIND


@dataclass(frozen=True)
class RuleRow(Rates):
    """Feedback counts for one (service, knowledge rule) over the cards that rule was behind."""

    service_id: str = ""
    rule: str = ""


@dataclass(frozen=True)
class MarkedRow:
    """Marked feedback of one service, counted per mark (an item may carry two marks)."""

    service_id: str
    unknown_card: int
    unknown_suggestion: int
    unknown_reason: int


@dataclass(frozen=True)
class FullReport:
    """Everything ``rair-cds feedback-report`` prints."""

    kinds: list[ReportRow] = field(default_factory=list)
    rules: list[RuleRow] = field(default_factory=list)
    marked: list[MarkedRow] = field(default_factory=list)


class FeedbackStore(Protocol):
    """Where feedback and issued cards are kept."""

    def record_issued(self, service_id: str, cards: Iterable[IssuedCard]) -> None:
        """Remember the cards just sent by ``service_id``."""
        ...

    def add(self, service_id: str, items: list[FeedbackItem]) -> int:
        """Store every item (marked where it does not match) in one transaction; return how
        many were new."""
        ...

    def report(self) -> list[ReportRow]:
        """Accept/override counts per service and card kind, of unmarked feedback."""
        ...

    def full_report(self) -> FullReport:
        """Per kind, per rule and the marked counts."""
        ...


def is_postgres_url(value: str | os.PathLike[str]) -> bool:
    """Whether a ``FEEDBACK_DB`` value names a PostgreSQL database rather than a SQLite file."""
    return str(value).startswith(POSTGRES_SCHEMES)


def open_store(
    value: str | os.PathLike[str], *, issued_retention_days: int | None = None
) -> FeedbackStore:
    """The store a ``FEEDBACK_DB`` value names; relative SQLite paths are under the working
    directory. Nothing is opened until first use (or ``ensure_schema``).

    ``issued_retention_days``: see :class:`~cds_hooks.feedback_sql.SqlFeedbackStore` (default
    ``DEFAULT_ISSUED_RETENTION_DAYS``).
    """
    from cds_hooks.feedback_postgres import PostgresFeedbackStore
    from cds_hooks.feedback_sql import DEFAULT_ISSUED_RETENTION_DAYS, SqliteFeedbackStore

    days = DEFAULT_ISSUED_RETENTION_DAYS if issued_retention_days is None else issued_retention_days
    if is_postgres_url(value):
        return PostgresFeedbackStore(str(value), issued_retention_days=days)
    path = Path(value)
    return SqliteFeedbackStore(path if path.is_absolute() else Path.cwd() / path,
                               issued_retention_days=days)


__all__ = [
    "ACCEPTED",
    "OVERRIDDEN",
    "FeedbackStore",
    "FullReport",
    "IssuedCard",
    "MarkedRow",
    "Marks",
    "ReportRow",
    "RuleRow",
    "is_postgres_url",
    "judge",
    "open_store",
]


def __getattr__(name: str) -> object:
    """``SqliteFeedbackStore`` (:mod:`cds_hooks.feedback_sql`) and ``PostgresFeedbackStore``
    (:mod:`cds_hooks.feedback_postgres`), importable from here too (lazily: they import this)."""
    if name == "SqliteFeedbackStore":
        from cds_hooks.feedback_sql import SqliteFeedbackStore

        return SqliteFeedbackStore
    if name == "PostgresFeedbackStore":
        from cds_hooks.feedback_postgres import PostgresFeedbackStore

        return PostgresFeedbackStore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
