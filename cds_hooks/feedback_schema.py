"""The feedback store's schema, one list of forward migrations for both backends (SQLite and
PostgreSQL, :mod:`cds_hooks.feedback_sql`); docs/FEEDBACK.md lists what each version changed."""

from __future__ import annotations

__all__ = ["MIGRATIONS", "MIGRATION_LOCK", "SCHEMA_VERSION"]

#: Forward migrations, in order: (version, statements). ``{id}`` is the backend's
#: auto-increment primary key. Never edit a released step; add one.
MIGRATIONS: list[tuple[int, list[str]]] = [
    (
        1,
        [
            """CREATE TABLE IF NOT EXISTS issued_cards (
                uuid TEXT PRIMARY KEY,
                service_id TEXT NOT NULL,
                kind TEXT,
                issued_at TEXT NOT NULL)""",
            """CREATE TABLE IF NOT EXISTS feedback (
                id {id},
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
                UNIQUE (card, outcome, outcome_timestamp))""",
        ],
    ),
    (
        2,
        [
            # what the card offered (JSON lists), to mark feedback that does not match it
            "ALTER TABLE issued_cards ADD COLUMN suggestions TEXT",
            "ALTER TABLE issued_cards ADD COLUMN override_reasons TEXT",
            """CREATE TABLE issued_card_rules (
                card TEXT NOT NULL,
                rule TEXT NOT NULL,
                PRIMARY KEY (card, rule))""",
            "CREATE INDEX issued_card_rules_rule ON issued_card_rules (rule)",
            "ALTER TABLE feedback ADD COLUMN unknown_card INTEGER NOT NULL DEFAULT 0",
            "ALTER TABLE feedback ADD COLUMN unknown_suggestion INTEGER NOT NULL DEFAULT 0",
            "ALTER TABLE feedback ADD COLUMN unknown_reason INTEGER NOT NULL DEFAULT 0",
        ],
    ),
    (
        3,
        [
            # the retention of issued-card records (FEEDBACK_ISSUED_RETENTION_DAYS) deletes by age
            "CREATE INDEX issued_cards_issued_at ON issued_cards (issued_at)",
        ],
    ),
]
SCHEMA_VERSION = MIGRATIONS[-1][0]

MIGRATION_LOCK = 0x72616972  # "rair": the PostgreSQL advisory lock key of migrations
