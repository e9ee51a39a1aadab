"""Order hooks, unit level: the alert cache (fingerprints, TTL, LRU bound, per patient, threads)."""

from __future__ import annotations

import threading

import pytest
from orders_helpers import i131_request

from plugin.thyroid.orders.alert_cache import AlertCache, order_fingerprint

# -- the alert cache ---------------------------------------------------------------------------


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def test_the_fingerprint_ignores_volatile_members_but_not_the_dose():
    order = i131_request()
    stamped = dict(order, meta={"versionId": "2"}, status="active", authoredOn="2026-11-27",
                   identifier=[{"value": "ORD-1"}], text={"status": "generated", "div": "<div/>"})
    assert order_fingerprint(order) == order_fingerprint(stamped)
    assert order_fingerprint(order) != order_fingerprint(i131_request(value=200))


def test_the_cache_remembers_within_the_ttl_and_forgets_after_it():
    clock = Clock()
    cache = AlertCache(max_entries=10, ttl_seconds=60, clock=clock)
    key = cache.key("p1", "MedicationRequest/i131", i131_request())
    cache.remember(key, ["sig-a"])
    clock.now += 59
    assert cache.shown(key) == {"sig-a"}
    clock.now += 61
    assert cache.shown(key) == frozenset()
    assert len(cache) == 0


def test_the_cache_is_bounded_and_drops_the_least_recently_used():
    cache = AlertCache(max_entries=2, ttl_seconds=60, clock=Clock())
    keys = [("p1", f"MedicationRequest/{i}", "h") for i in range(3)]
    cache.remember(keys[0], ["a"])
    cache.remember(keys[1], ["b"])
    cache.shown(keys[0])  # touch: keys[1] is now the oldest
    cache.remember(keys[2], ["c"])
    assert cache.shown(keys[0]) == {"a"}
    assert cache.shown(keys[1]) == frozenset()
    assert len(cache) == 2


def test_the_cache_is_keyed_by_patient():
    cache = AlertCache(clock=Clock())
    cache.remember(cache.key("p1", "MedicationRequest/x", {"a": 1}), ["s"])
    assert cache.shown(cache.key("p2", "MedicationRequest/x", {"a": 1})) == frozenset()


def test_the_cache_is_safe_under_concurrent_use():
    cache = AlertCache(max_entries=50, ttl_seconds=60)

    def work(n):
        for i in range(300):
            key = ("p", f"o{(n * 7 + i) % 80}", "h")
            cache.remember(key, [f"s{i}"])
            cache.shown(key)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(cache) <= 50


def test_the_cache_refuses_nonsense_bounds():
    with pytest.raises(ValueError):
        AlertCache(max_entries=0)
    with pytest.raises(ValueError):
        AlertCache(ttl_seconds=0)
