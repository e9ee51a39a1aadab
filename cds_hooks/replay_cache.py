"""The ``jti`` replay cache for CDS Client JWTs (spec: "jti ... used to protect against replay").

Each ``(issuer, jti)`` is remembered until its token expires (plus leeway), then forgotten, so
memory is bounded by the tokens alive at once and by ``max_entries``.
"""

from __future__ import annotations

import heapq
import threading
import time
from collections.abc import Callable


class ReplayCache:
    """Remember ``(issuer, jti)`` pairs until their token expires. Thread-safe and bounded.

    When full of unexpired entries, :meth:`add` refuses new tokens (returns ``False``) rather than
    evicting one, because evicting an unexpired jti would re-open it to replay.
    """

    def __init__(self, max_entries: int = 100_000, clock: Callable[[], float] = time.time) -> None:
        self._max = max_entries
        self._clock = clock
        self._seen: dict[tuple[str, str], float] = {}
        self._expiry: list[tuple[float, tuple[str, str]]] = []
        self._lock = threading.Lock()

    def add(self, issuer: str, jti: str, forget_at: float) -> bool:
        """Record a jti; ``False`` if it was already seen (a replay) or the cache is full."""
        key = (issuer, jti)
        with self._lock:
            self._purge(self._clock())
            if key in self._seen:
                return False
            if len(self._seen) >= self._max:
                return False
            self._seen[key] = forget_at
            heapq.heappush(self._expiry, (forget_at, key))
            return True

    def __len__(self) -> int:
        with self._lock:
            return len(self._seen)

    def _purge(self, now: float) -> None:
        while self._expiry and self._expiry[0][0] <= now:
            _, key = heapq.heappop(self._expiry)
            self._seen.pop(key, None)
