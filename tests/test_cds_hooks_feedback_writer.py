"""The issued-card queue: written off the request path, in batches, never dropped.

A full queue makes the caller write its own records (after a short wait); a failing database
is retried; shutdown (``close`` or interpreter exit) drains the queue.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
import time

from conftest import REPO_DIR

from cds_hooks.feedback import FeedbackItem
from cds_hooks.feedback_sql import SqliteFeedbackStore
from cds_hooks.feedback_store import IssuedCard
from cds_hooks.feedback_writer import QueuedFeedbackStore

TS = "2024-01-01T00:00:00.000Z"
WRITER = "rair-cds-feedback-writer"


class RecordingStore:
    """Remembers each write with the name of the thread that made it; can be held or failed."""

    def __init__(self, failures: int = 0) -> None:
        self.writes: list[tuple[str, list[str]]] = []
        self.gate = threading.Event()
        self.gate.set()
        self.entered = threading.Event()
        self.failures = failures

    def record_issued_batch(self, batch):
        name = threading.current_thread().name
        if name == WRITER:
            self.entered.set()
            self.gate.wait(30)
        if self.failures:
            self.failures -= 1
            raise OSError("database unavailable")
        self.writes.append((name, [card.uuid for _, card in batch]))

    def written(self) -> list[str]:
        return sorted(uuid for _, uuids in self.writes for uuid in uuids)


def test_records_are_written_by_the_writer_thread_in_batches():
    inner = RecordingStore()
    queued = QueuedFeedbackStore(inner)
    inner.gate.clear()  # hold the writer in its first batch while more calls queue up
    queued.record_issued("svc", [IssuedCard("a")])
    assert inner.entered.wait(10)
    for name in ("b", "c", "d"):
        queued.record_issued("svc", [IssuedCard(name)])
    inner.gate.set()
    assert queued.flush()
    assert {thread for thread, _ in inner.writes} == {WRITER}
    assert inner.written() == ["a", "b", "c", "d"]
    assert [uuids for _, uuids in inner.writes] == [["a"], ["b", "c", "d"]]  # one transaction
    queued.close()


def test_calls_arriving_while_the_writer_lingers_share_one_transaction():
    inner = RecordingStore()
    queued = QueuedFeedbackStore(inner, linger_seconds=1.0)
    queued.record_issued("svc", [IssuedCard("a")])
    time.sleep(0.05)  # the writer has taken "a" and waits for more
    queued.record_issued("svc", [IssuedCard("b")])
    queued.record_issued("svc", [IssuedCard("c")])
    give_up = time.monotonic() + 30
    while not inner.writes and time.monotonic() < give_up:  # no flush: that cuts the wait
        time.sleep(0.01)
    assert [uuids for _, uuids in inner.writes] == [["a", "b", "c"]]
    queued.close()


def test_flush_and_close_do_not_wait_for_the_linger():
    inner = RecordingStore()
    queued = QueuedFeedbackStore(inner, linger_seconds=60.0)
    queued.record_issued("svc", [IssuedCard("a")])
    started = time.monotonic()
    assert queued.flush(timeout=30)
    queued.record_issued("svc", [IssuedCard("b")])
    queued.close()
    assert time.monotonic() - started < 20
    assert inner.written() == ["a", "b"]


def test_a_full_queue_writes_inline_and_loses_nothing():
    inner = RecordingStore()
    inner.gate.clear()
    queued = QueuedFeedbackStore(inner, max_queue=1, block_seconds=0.01)
    queued.record_issued("svc", [IssuedCard("taken")])  # the writer holds it
    assert inner.entered.wait(10)
    queued.record_issued("svc", [IssuedCard("queued")])  # fills the queue
    queued.record_issued("svc", [IssuedCard("inline")])  # no room: the caller writes it
    assert queued.inline_writes == 1
    assert inner.writes == [(threading.current_thread().name, ["inline"])]
    inner.gate.set()
    assert queued.flush()
    assert inner.written() == ["inline", "queued", "taken"]
    queued.close()


def test_a_failing_database_is_retried_until_the_batch_is_written():
    inner = RecordingStore(failures=2)
    queued = QueuedFeedbackStore(inner, retry_seconds=0.01)
    queued.record_issued("svc", [IssuedCard("a"), IssuedCard("b")])
    assert queued.flush()
    assert inner.written() == ["a", "b"] and inner.failures == 0
    queued.close()


def test_close_drains_the_queue_and_later_records_are_written_inline():
    inner = RecordingStore()
    queued = QueuedFeedbackStore(inner)
    for i in range(50):
        queued.record_issued("svc", [IssuedCard(f"c{i:02}")])
    queued.close()
    assert inner.written() == [f"c{i:02}" for i in range(50)]
    queued.record_issued("svc", [IssuedCard("late")])
    assert inner.writes[-1] == (threading.current_thread().name, ["late"])


def test_feedback_finds_a_card_still_in_the_queue(tmp_path):
    store = SqliteFeedbackStore(tmp_path / "fb.sqlite3")
    queued = QueuedFeedbackStore(store)
    queued.record_issued("svc", [IssuedCard("c1", "alpha", suggestions=("s1",))])
    assert queued.add("svc", [FeedbackItem("c1", "accepted", TS, ("s1",))]) == 1
    report = queued.full_report()
    assert report.marked == [] and [(r.kind, r.accepted) for r in report.kinds] == [("alpha", 1)]
    queued.close()


def test_records_queued_when_the_process_exits_are_written(tmp_path):
    db = tmp_path / "fb.sqlite3"
    script = textwrap.dedent(
        f"""
        from cds_hooks.feedback_sql import SqliteFeedbackStore
        from cds_hooks.feedback_store import IssuedCard
        from cds_hooks.feedback_writer import QueuedFeedbackStore
        queued = QueuedFeedbackStore(SqliteFeedbackStore({str(db)!r}), batch_size=7)
        for i in range(500):
            queued.record_issued("svc", [IssuedCard(f"c{{i}}")])
        # no close(): the interpreter's exit flushes the queue
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO_DIR, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    import sqlite3

    with sqlite3.connect(db) as conn:
        count = conn.execute("SELECT COUNT(*) FROM issued_cards").fetchone()[0]
    conn.close()
    assert count == 500
