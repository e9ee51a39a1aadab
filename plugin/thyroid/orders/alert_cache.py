"""Memory of the order cards already shown, so order-sign does not repeat order-select.

A card shown at ``order-select`` for a draft order is remembered under the key
``(patient, order reference, order fingerprint)``; at ``order-sign`` the same card for the same
order content is not shown again. The fingerprint hashes the order resource without its volatile
members (``meta``, narrative ``text``, ``status``, ``authoredOn``, ``identifier``), so an EHR that
stamps a new version or an order number at signing does not defeat the memory, while any change a
clinician makes (another drug, another dose) makes a new key and the card shows again.

The memory is bounded in size (least recently used entries go first) and in age (entries older
than the TTL are forgotten), and is safe to share between the server's threads. In-process it
serves one process; with ``RAIR_CDS_REDIS_URL`` (``shared``, see ``cds_hooks/shared_state.py``)
every worker and instance shares it, so a card shown at order-select by one is not repeated at
order-sign by another. If Redis fails, a repeat is possible but never a missed first card.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Protocol, TypeVar

T = TypeVar("T")

#: Top-level members that an EHR may change between order-select and order-sign.
VOLATILE_MEMBERS = frozenset({"meta", "text", "status", "authoredOn", "identifier"})

DEFAULT_MAX_ENTRIES = 10_000
_Key = tuple[str, str, str]  # (patient id, order reference, order fingerprint)
DEFAULT_TTL_SECONDS = 4 * 60 * 60.0


def order_fingerprint(resource: Mapping[str, Any]) -> str:
    """A stable hash of a draft order's clinical content (volatile members removed).

    Contained resources (e.g. a contained ``Medication``) lose their ``meta`` and ``text`` too.
    """
    content = {k: v for k, v in resource.items() if k not in VOLATILE_MEMBERS}
    contained = content.get("contained")
    if isinstance(contained, list):
        content["contained"] = [
            {k: v for k, v in item.items() if k not in ("meta", "text")}
            if isinstance(item, dict)
            else item
            for item in contained
        ]
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def card_signature(kind: str, indicator: str, summary: str) -> str:
    """What makes two cards "the same card" for the memory: kind, urgency and summary.

    The summary carries the figures (e.g. the cumulative activity), so a card whose facts changed
    between select and sign is shown again.
    """
    return hashlib.sha256(f"{kind}\x1f{indicator}\x1f{summary}".encode()).hexdigest()[:32]


class SharedAlertMemory(Protocol):
    """The memory shared by workers (``cds_hooks.shared_state.RedisAlertMemory``)."""

    def remember(self, key: tuple[str, ...], signatures: Iterable[str]) -> None: ...

    def shown(self, key: tuple[str, ...]) -> frozenset[str]: ...


class AlertCache:
    """A thread-safe LRU + TTL map from ``(patient, order, fingerprint)`` to shown card signatures.

    :param max_entries: orders remembered at most; the least recently used goes first.
    :param ttl_seconds: how long a shown card is remembered.
    :param clock: seconds as a float (monotonic); injectable for tests.
    """

    def __init__(
        self,
        max_entries: int = DEFAULT_MAX_ENTRIES,
        ttl_seconds: float = DEFAULT_TTL_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        shared: SharedAlertMemory | None = None,
    ) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        if ttl_seconds <= 0:
            raise ValueError("ttl_seconds must be positive")
        self.max_entries = max_entries
        self.ttl_seconds = ttl_seconds
        self.shared = shared
        self._clock = clock
        self._lock = threading.Lock()
        # key -> (time stored, signatures)
        self._entries: OrderedDict[_Key, tuple[float, frozenset[str]]] = OrderedDict()

    @staticmethod
    def key(patient: str, order_ref: str, resource: Mapping[str, Any]) -> _Key:
        """The memory key of one draft order for one patient."""
        return (patient, order_ref, order_fingerprint(resource))

    def remember(self, key: _Key, signatures: Iterable[str]) -> None:
        """Record that these cards were shown for this order now (adds to what is remembered)."""
        new = frozenset(signatures)
        if not new:
            return
        if self.shared is not None:
            self.shared.remember(key, sorted(new))
            return
        now = self._clock()
        with self._lock:
            old = self._live(key, now)
            self._entries[key] = (now, (old or frozenset()) | new)
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def shown(self, key: _Key) -> frozenset[str]:
        """The signatures of the cards shown for this order within the TTL (empty if none)."""
        if self.shared is not None:
            return self.shared.shown(key)
        with self._lock:
            found = self._live(key, self._clock())
            if found is None:
                return frozenset()
            self._entries.move_to_end(key)
            return found

    def screen(
        self,
        key: _Key,
        cards: Sequence[T],
        *,
        signature: Callable[[T], str],
        always_show: Callable[[T], bool] = lambda _card: False,
    ) -> tuple[list[T], list[T]]:
        """Order-sign's filter: ``(kept, repeats)``, where a repeat is a card whose signature was
        shown for this order within the TTL, unless ``always_show`` says it must be shown again
        (a critical card with ``ORDER_REPEAT_CRITICAL_AT_SIGN``)."""
        already = self.shown(key)
        kept: list[T] = []
        repeats: list[T] = []
        for card in cards:
            if signature(card) in already and not always_show(card):
                repeats.append(card)
            else:
                kept.append(card)
        return kept, repeats

    def __len__(self) -> int:
        with self._lock:
            now = self._clock()
            for key in [k for k, (t, _) in self._entries.items() if now - t > self.ttl_seconds]:
                del self._entries[key]
            return len(self._entries)

    def clear(self) -> None:
        """Forget everything."""
        with self._lock:
            self._entries.clear()

    def _live(self, key: _Key, now: float) -> frozenset[str] | None:
        # caller holds the lock
        entry = self._entries.get(key)
        if entry is None:
            return None
        stored, signatures = entry
        if now - stored > self.ttl_seconds:
            del self._entries[key]
            return None
        return signatures
