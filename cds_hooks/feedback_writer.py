"""Issued-card records written off the request path, without loss (docs/FEEDBACK.md).

:class:`QueuedFeedbackStore` wraps a store: :meth:`~QueuedFeedbackStore.record_issued` puts the
cards on a bounded queue that one writer thread drains in batches (one transaction per batch, so
the per-call commit and fsync leave the request path). Feedback and reports go straight to the
store, after the queue is flushed, so feedback about a card this process just issued finds it.

When the queue is full (the database is slower than the traffic, or down), a call waits up to
``block_seconds`` for room and then writes its own cards inline: slower calls, never a silently
dropped record. A failed batch is retried with a growing pause while the thread runs; at
shutdown (:meth:`~QueuedFeedbackStore.close`, also run at interpreter exit) the queue is drained,
and only then is anything that still cannot be written reported in the log (a count, no ids).
The thread starts on first use and ends when idle, so a forked worker starts its own.
"""

from __future__ import annotations

import atexit
import logging
import queue
import threading
import weakref
from collections.abc import Iterable
from typing import Any

from cds_hooks.feedback import FeedbackItem
from cds_hooks.feedback_store import FeedbackStore, FullReport, IssuedCard, ReportRow

log = logging.getLogger("rair_cds.feedback")

_Batch = list[tuple[str, IssuedCard]]
_LIVE: weakref.WeakSet[QueuedFeedbackStore] = weakref.WeakSet()


class QueuedFeedbackStore:
    """A :class:`~cds_hooks.feedback_store.FeedbackStore` writing issued cards from a queue.

    ``max_queue`` bounds the calls waiting to be written; ``batch_size`` the calls per
    transaction; ``idle_seconds`` how long the thread waits for work before ending.
    """

    def __init__(
        self,
        store: FeedbackStore,
        *,
        max_queue: int = 10000,
        block_seconds: float = 0.05,
        batch_size: int = 256,
        idle_seconds: float = 2.0,
        retry_seconds: float = 0.5,
        linger_seconds: float = 0.1,
    ) -> None:
        if max_queue < 1:
            raise ValueError("max_queue must be at least 1")
        self.store = store
        self.block_seconds = block_seconds
        self.batch_size = batch_size
        self.idle_seconds = idle_seconds
        self.retry_seconds = retry_seconds
        self.linger_seconds = linger_seconds
        self._queue: queue.Queue[_Batch] = queue.Queue(maxsize=max_queue)
        self._pending = 0  # batches queued or being written
        self._done = threading.Condition()
        self._thread: threading.Thread | None = None
        self._closing = False
        self._flushing = 0  # callers waiting in flush(): the writer does not linger
        self._hurry = threading.Event()  # set while someone flushes
        self.inline_writes = 0  # calls written inline because the queue was full
        _LIVE.add(self)

    def __repr__(self) -> str:
        return f"QueuedFeedbackStore({self.store!r})"

    # -- the FeedbackStore interface ----------------------------------------------------------
    def record_issued(self, service_id: str, cards: Iterable[IssuedCard]) -> None:
        """Queue the cards; when the queue stays full, write them on the caller's thread."""
        batch = [(service_id, card) for card in cards]
        if not batch:
            return
        if not self._closing:
            with self._done:
                self._pending += 1
            try:
                self._queue.put(batch, timeout=self.block_seconds)
            except queue.Full:
                self._finished(1)
            else:
                self._start()
                return
        self.inline_writes += 1
        if self.inline_writes == 1 or self.inline_writes % 1000 == 0:  # not once per call
            log.warning(
                "issued-card queue full or closed: cards written on the request thread "
                "(%d call(s) so far)",
                self.inline_writes,
            )
        self._write_now(batch)  # a failure reaches the caller, which logs it

    def add(self, service_id: str, items: list[FeedbackItem]) -> int:
        """Flush the queue (the cards the feedback names may be in it), then store."""
        self.flush(timeout=5.0)  # a database that is down fails the store below (503)
        return self.store.add(service_id, items)

    def report(self) -> list[ReportRow]:
        """The store's report, after a flush."""
        self.flush()
        return self.store.report()

    def full_report(self) -> FullReport:
        """The store's full report, after a flush."""
        self.flush()
        return self.store.full_report()

    def ensure_schema(self) -> None:
        """Create or migrate the store's schema (start-up check)."""
        ensure = getattr(self.store, "ensure_schema", None)
        if callable(ensure):
            ensure()

    # -- flushing and shutdown ----------------------------------------------------------------
    def flush(self, timeout: float | None = 30.0) -> bool:
        """Wait until every queued record is written (or given up); ``False`` on timeout."""
        with self._done:
            if self._pending and (self._thread is None or not self._thread.is_alive()):
                self._start_locked()
            self._flushing += 1
            self._hurry.set()
            try:
                return self._done.wait_for(lambda: self._pending == 0, timeout)
            finally:
                self._flushing -= 1
                if not self._flushing:
                    self._hurry.clear()

    def close(self, timeout: float = 30.0) -> None:
        """Drain the queue and stop; later records are written inline."""
        self.flush(timeout)
        self._closing = True
        leftover = self._drain()
        if leftover:
            self._write_now([pair for batch in leftover for pair in batch])
        closer = getattr(self.store, "close", None)
        if callable(closer):
            closer()

    # -- the writer thread --------------------------------------------------------------------
    def _start(self) -> None:
        with self._done:
            self._start_locked()

    def _start_locked(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(
                target=self._run, name="rair-cds-feedback-writer", daemon=True
            )
            self._thread.start()

    def _run(self) -> None:
        while True:
            try:
                first = self._queue.get(timeout=self.idle_seconds)
            except queue.Empty:
                with self._done:
                    if self._queue.empty():  # no put can be waiting for this thread: end
                        self._thread = None
                        return
                continue
            batches = [first]
            # Wait a little for more calls before writing: one transaction, and one wake-up
            # of this thread (which competes with the requests for the GIL), per burst of
            # calls rather than per call. flush() and close() cut the wait short.
            if self.linger_seconds > 0 and self._queue.qsize() < self.batch_size:
                with self._done:
                    hurry = self._flushing > 0 or self._closing
                if not hurry:
                    self._hurry.wait(self.linger_seconds)
            while len(batches) < self.batch_size:
                try:
                    batches.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            self._write_with_retry([pair for batch in batches for pair in batch])
            self._finished(len(batches))

    def _write_with_retry(self, pairs: _Batch) -> None:
        pause = self.retry_seconds
        while True:
            try:
                self._write_now(pairs)
                return
            except Exception as exc:
                if self._closing:
                    log.error(
                        "could not record %d issued card(s) at shutdown: %s",
                        len(pairs),
                        type(exc).__name__,
                    )
                    return
                log.warning(
                    "could not record %d issued card(s) (%s); retrying in %.1f s",
                    len(pairs),
                    type(exc).__name__,
                    pause,
                )
                threading.Event().wait(pause)
                pause = min(pause * 2, 10.0)

    def _write_now(self, pairs: _Batch) -> None:
        batch_writer = getattr(self.store, "record_issued_batch", None)
        if callable(batch_writer):
            batch_writer(pairs)
            return
        for service_id, card in pairs:  # a store without batches: one call per card
            self.store.record_issued(service_id, [card])

    def _drain(self) -> list[_Batch]:
        out: list[_Batch] = []
        while True:
            try:
                out.append(self._queue.get_nowait())
            except queue.Empty:
                break
        self._finished(len(out))
        return out

    def _finished(self, count: int) -> None:
        if not count:
            return
        with self._done:
            self._pending -= count
            self._done.notify_all()


def close_all() -> None:
    """Flush and close every live queued store (registered with :mod:`atexit`)."""
    for store in list(_LIVE):
        try:
            store.close(timeout=10.0)
        except Exception as exc:  # at exit: report, never raise
            log.error("could not flush the issued-card queue: %s", type(exc).__name__)


def unwrap(store: Any) -> Any:  # noqa: ANN401 - any FeedbackStore
    """The underlying store of a queued one (itself otherwise)."""
    return store.store if isinstance(store, QueuedFeedbackStore) else store


atexit.register(close_all)
