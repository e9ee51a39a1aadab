"""The cyclic collector paused while a large hook body is handled (cds_hooks/collector.py).

The pause must end: the collector is back on when the last large call ends, even when a call
fails; a process that ran without the collector keeps running without it; overlapping large
calls cannot keep it off for longer than ``max_pause_seconds`` without a full collection.
"""

from __future__ import annotations

import gc
from contextlib import ExitStack

import pytest

import cds_hooks.endpoints as endpoints
from cds_hooks.collector import CollectorPause
from cds_hooks.errors import ConfigurationError


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(autouse=True)
def _collector_on():
    """Every test starts with the collector on and leaves it as it found it."""
    was = gc.isenabled()
    gc.enable()
    yield
    if was:
        gc.enable()
    else:
        gc.disable()


@pytest.fixture
def collections(monkeypatch):
    """Full collections run by the pause (gc.collect replaced by a counter)."""
    calls: list[tuple] = []
    monkeypatch.setattr(gc, "collect", lambda *args: calls.append(args) or 0)
    return calls


@pytest.mark.parametrize("body_bytes", [None, 0, 999])
def test_a_small_or_unknown_body_does_not_pause(body_bytes):
    pause = CollectorPause(1000)
    with pause.during(body_bytes):
        assert gc.isenabled() and pause.active == 0
    assert gc.isenabled()


def test_zero_min_bytes_never_pauses():
    with CollectorPause(0).during(10**9):
        assert gc.isenabled()


def test_a_large_body_pauses_until_the_call_ends():
    pause = CollectorPause(1000)
    with pause.during(1000):
        assert not gc.isenabled() and pause.active == 1
    assert gc.isenabled() and pause.active == 0


def test_the_collector_resumes_when_the_call_fails():
    pause = CollectorPause(1000)
    with pytest.raises(RuntimeError), pause.during(5000):
        raise RuntimeError("boom")
    assert gc.isenabled() and pause.active == 0


def test_overlapping_calls_resume_only_when_the_last_one_ends(collections):
    pause = CollectorPause(1000, clock=Clock())
    first, second = ExitStack(), ExitStack()
    first.enter_context(pause.during(2000))
    second.enter_context(pause.during(3000))
    assert pause.active == 2
    first.close()
    assert not gc.isenabled() and pause.active == 1  # the second call still runs
    second.close()
    assert gc.isenabled() and pause.active == 0
    assert collections == []  # no overdue pause: nothing collected by hand


def test_a_process_without_the_collector_stays_without_it():
    gc.disable()
    pause = CollectorPause(1000)
    with pause.during(5000):
        assert not gc.isenabled()
    assert not gc.isenabled()


def test_an_overdue_pause_collects_when_an_overlapping_call_ends(collections):
    clock = Clock()
    pause = CollectorPause(1000, max_pause_seconds=1.0, clock=clock)
    long_call = ExitStack()
    long_call.enter_context(pause.during(5000))
    with pause.during(5000):
        clock.now += 0.5
    assert collections == []  # half a second: not overdue yet
    with pause.during(5000):
        clock.now += 0.6  # 1.1 s since the pause began
    assert len(collections) == 1
    with pause.during(5000):
        clock.now += 0.5  # 0.5 s since that collection: the clock restarted there
    assert len(collections) == 1
    assert not gc.isenabled()  # still paused for the long call
    long_call.close()
    assert gc.isenabled() and len(collections) == 1  # the last one resumes, no extra collection


def test_no_overdue_collection_for_a_process_without_the_collector(collections):
    gc.disable()
    clock = Clock()
    pause = CollectorPause(1000, clock=clock)
    with pause.during(5000), pause.during(5000):
        clock.now += 5
    assert collections == [] and not gc.isenabled()


@pytest.mark.parametrize("kwargs", [{"min_bytes": -1}, {"min_bytes": 10, "max_pause_seconds": 0}])
def test_bad_arguments_are_refused(kwargs):
    with pytest.raises(ValueError):
        CollectorPause(**kwargs)


def test_a_hook_call_with_a_large_body_runs_paused(make_app, monkeypatch):
    seen: list[bool] = []
    audited = endpoints._audited

    def spy(*args, **kwargs):
        seen.append(gc.isenabled())
        return audited(*args, **kwargs)

    monkeypatch.setattr(endpoints, "_audited", spy)
    client = make_app(GC_PAUSE_MIN_BYTES=2000, TOY_SLEEP_SECONDS=0.01).test_client()
    small = {
        "hook": "patient-view",
        "hookInstance": "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea",
        "context": {"userId": "Practitioner/example", "patientId": "1288992"},
    }
    large = {**small, "extension": {"padding": "x" * 3000}}
    assert client.post("/cds-services/toy-sleeper", json=small).status_code == 200
    assert client.post("/cds-services/toy-sleeper", json=large).status_code == 200
    assert seen == [True, False]
    assert gc.isenabled()


@pytest.mark.parametrize("value", ["-5", "lots"])
def test_a_bad_gc_pause_setting_stops_start_up(make_app, value):
    with pytest.raises(ConfigurationError, match="GC_PAUSE_MIN_BYTES"):
        make_app(GC_PAUSE_MIN_BYTES=value)
