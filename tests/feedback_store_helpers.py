"""Fixtures shared by the feedback-store tests: one store per backend (SQLite file, real
PostgreSQL from ``pg_server``), imported into conftest.py."""

from __future__ import annotations

import pytest

from cds_hooks.feedback_store import open_store


@pytest.fixture(params=["sqlite", "postgres"])
def store_location(request, tmp_path):
    """A FEEDBACK_DB value for each backend."""
    if request.param == "sqlite":
        return str(tmp_path / "fb.sqlite3")
    return request.getfixturevalue("postgres_url")


@pytest.fixture
def store(store_location):
    made = open_store(store_location)
    yield made
    closer = getattr(made, "close", None)
    if closer:
        closer()
