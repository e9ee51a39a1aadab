"""plugin.engine, crash and leak safety (docs/ENGINE.md §E2, §E3.1-§E3.3): the sentinel, state
isolation and quarantine, colliding ids, threads, and the FNV-1a-32 hash checks."""

import os
import platform
import random
import subprocess
import sys
import threading

import pytest
from engine_helpers import FULL_CHAIN, REPO, RULE_FILES, types

from plugin.engine import (
    EngineResult,
    RuleEngine,
    RuleEngineError,
    check_distinct_hashes,
    fnv1a_32,
)

# ----------------------------------------------------------------- crash and leak safety


COLD_SCRIPT = """
import sys
from plugin.engine import RuleEngine
eng = RuleEngine(sys.argv[1:], name="cold")
first = eng.evaluate([{"type": "tsh", "value": 1.5}])
second = eng.evaluate([])
third = eng.evaluate([{"type": "patient"}])
print(first.fired, second.fired, third.fired)
eng.close()
"""


# The same first request with the sentinel type disabled (the ruleset is already built).
_CONTROL_SCRIPT = COLD_SCRIPT.replace(
    "from plugin.engine import RuleEngine",
    "import plugin.engine.facts\nfrom plugin.engine import RuleEngine",
).replace("first = ", 'plugin.engine.facts.SENTINEL_TYPE = "_disabled"\nfirst = ')


def _cold_env() -> dict[str, str]:
    """The child's environment: glibc fills every fresh allocation with a fixed non-zero byte.

    The crash (docs/ENGINE.md §E3.1) is a ``free`` of two never-initialised pointers. Whether they
    are garbage depends on where malloc finds the memory: memory fresh from the kernel (mmap, a
    grown heap) is zero, so ``free(NULL)`` does nothing and the process lives. Which one a child
    gets depends on the inherited environment and allocator state, so the control test passed
    alone and failed (exit 0) in full-suite runs. ``MALLOC_PERTURB_`` makes glibc fill every
    allocation with ``~165 & 0xff``, whatever its origin, so the unset pointers are never NULL.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    env["MALLOC_PERTURB_"] = "165"
    return env


needs_glibc = pytest.mark.skipif(
    platform.libc_ver()[0] != "glibc", reason="MALLOC_PERTURB_ is a glibc setting"
)


@needs_glibc
@pytest.mark.parametrize("attempt", range(4))
def test_first_evaluation_that_fires_nothing_does_not_crash_a_cold_process(attempt):
    # Without the sentinel this crashed 20/20 fresh processes (docs/ENGINE.md §E3.1).
    proc = subprocess.run(
        [sys.executable, "-c", COLD_SCRIPT, *map(str, RULE_FILES)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        env=_cold_env(),
    )

    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[] [] ['T6']"


@needs_glibc
def test_control_without_the_sentinel_the_cold_process_crashes():
    # Proves the test above can fail: same first request, sentinel type disabled.
    script = _CONTROL_SCRIPT
    proc = subprocess.run(
        [sys.executable, "-c", script, *map(str, RULE_FILES)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        env=_cold_env(),
    )

    assert proc.returncode < 0, (proc.returncode, proc.stdout, proc.stderr)  # SIGSEGV/SIGABRT


def test_action_error_raises_and_the_next_evaluation_still_works(engine):
    with pytest.raises(RuleEngineError, match=r"broken_copy.*T8.*missing"):
        engine.evaluate([{"type": "boom"}, *FULL_CHAIN])

    assert engine.evaluate(FULL_CHAIN) == engine.evaluate(FULL_CHAIN)
    assert engine.evaluate([{"type": "boom", "missing": 7}]).derived == [
        {"type": "boomed", "value": 7, "rule": "T8"}
    ]


def test_no_state_leaks_between_evaluations(engine):
    engine.evaluate(FULL_CHAIN)

    # Had A's rai_refractory survived, U1 would fire on this progression alone.
    result = engine.evaluate([{"type": "progression", "day": 5}])

    assert result == EngineResult(derived=[], fired=[])


def test_no_state_leaks_after_a_failed_evaluation(engine):
    with pytest.raises(RuleEngineError):
        engine.evaluate([*FULL_CHAIN, {"type": "boom"}])

    assert engine.evaluate([{"type": "progression", "day": 5}]).fired == []


def test_state_whose_delete_failed_is_never_reused(monkeypatch):
    import durable_rules_engine

    real_delete = durable_rules_engine.delete_state
    with RuleEngine(RULE_FILES, name="quarantine", state_pool_size=2) as eng:
        monkeypatch.setattr(durable_rules_engine, "delete_state", _failing_delete)
        with pytest.raises(RuleEngineError, match="quarantined"):
            eng.evaluate(FULL_CHAIN)
        monkeypatch.setattr(durable_rules_engine, "delete_state", real_delete)

        # Only the other sid is used from now on, so the left-over state never joins in.
        for _ in range(3):
            assert eng.evaluate([{"type": "progression", "day": 5}]).fired == []
        monkeypatch.setattr(durable_rules_engine, "delete_state", _failing_delete)
        with pytest.raises(RuleEngineError, match="quarantined"):
            eng.evaluate([])
        monkeypatch.setattr(durable_rules_engine, "delete_state", real_delete)
        with pytest.raises(RuleEngineError, match="no usable state"):
            eng.evaluate([])


def _failing_delete(handle, sid):
    raise RuntimeError("Could not delete state, error code: 309")


def test_facts_with_colliding_fhir_ids_are_both_kept(engine):
    # These ids share FNV-1a-32 hash 0xfcfce2cb; as durable ids one would be dropped.
    facts = [
        {"type": "scan", "uptake": "none", "valid": True, "id": "Observation/tg-70628"},
        {"type": "scan", "uptake": "none", "valid": True, "id": "Observation/tg-665282"},
    ]

    result = engine.evaluate(facts)

    scans = [f["scan"] for f in result.derived if f["type"] == "criterion"]
    assert sorted(scans) == ["Observation/tg-665282", "Observation/tg-70628"]


def test_identical_input_facts_are_each_matched(engine):
    # Positional ids make identical content distinct facts (§E3.4: without ids, once).
    facts = [{"type": "rai_treatment", "day": 0}] * 3 + [{"type": "progression", "day": 10}]

    result = engine.evaluate(facts)

    assert result.fired == ["T5"]
    assert len(result.derived) == 1  # identical derived facts, set semantics


def random_patient(rng: random.Random) -> list[dict]:
    facts: list[dict] = []
    if rng.random() < 0.7:
        facts.append({"type": "diagnosis", "histology": rng.choice(["papillary", "medullary"])})
    for i in range(rng.randrange(4)):
        facts.append(
            {
                "type": "scan",
                "uptake": rng.choice(["none", "some"]),
                "valid": rng.random() < 0.8,
                "id": f"DiagnosticReport/{rng.randrange(10**6)}-{i}",
            }
        )
    for _ in range(rng.randrange(3)):
        facts.append({"type": "rai_treatment", "day": rng.randrange(0, 2000)})
    for _ in range(rng.randrange(3)):
        facts.append({"type": "progression", "day": rng.randrange(0, 2000)})
    if rng.random() < 0.5:
        facts.append({"type": "variant", "gene": "BRAF", "protein": rng.choice(["V600E", "K601E"])})
    facts.extend({"type": "tsh", "value": rng.random()} for _ in range(rng.randrange(5)))
    rng.shuffle(facts)
    return facts


def test_concurrent_evaluations_match_sequential_results():
    threads, per_thread = 8, 200
    rng = random.Random(20240611)
    patients = [random_patient(rng) for _ in range(threads * per_thread)]
    with RuleEngine(RULE_FILES, name="concurrency", state_pool_size=16) as eng:
        expected = [eng.evaluate(p) for p in patients]
        got: list[EngineResult | None] = [None] * len(patients)
        failures: list[BaseException] = []
        start = threading.Barrier(threads)

        def worker(t: int) -> None:
            start.wait()
            try:
                for i in range(t, len(patients), threads):
                    got[i] = eng.evaluate(patients[i])
            except BaseException as exc:  # reported below, not lost in the thread
                failures.append(exc)

        pool = [threading.Thread(target=worker, args=(t,)) for t in range(threads)]
        for th in pool:
            th.start()
        for th in pool:
            th.join()

    assert failures == []
    assert got == expected
    assert sum(1 for r in expected if "candidate" in types(r)) > 0  # the chain was exercised


def test_two_engines_used_from_threads_at_once_stay_correct():
    rng = random.Random(7)
    patients = [random_patient(rng) for _ in range(200)]
    with (
        RuleEngine(RULE_FILES, name="left") as left,
        RuleEngine(RULE_FILES[:1], name="right") as right,
    ):
        expected = {
            "left": [left.evaluate(p) for p in patients],
            "right": [right.evaluate(p) for p in patients],
        }
        got: dict[str, list] = {"left": [], "right": []}

        def worker(key: str, eng: RuleEngine) -> None:
            got[key] = [eng.evaluate(p) for p in patients]

        pool = [
            threading.Thread(target=worker, args=("left", left)),
            threading.Thread(target=worker, args=("right", right)),
        ]
        for th in pool:
            th.start()
        for th in pool:
            th.join()

    assert got == expected


# ----------------------------------------------------------------- hashes


def test_fnv1a_32_matches_the_documented_collision_pair():
    assert fnv1a_32("Observation/tg-70628") == 0xFCFCE2CB
    assert fnv1a_32("Observation/tg-665282") == 0xFCFCE2CB
    assert fnv1a_32("req-991307") == fnv1a_32("req-1971740")


def test_check_distinct_hashes_names_the_colliding_pair():
    with pytest.raises(RuleEngineError, match="tg-70628.*tg-665282"):
        check_distinct_hashes(["f0", "Observation/tg-70628", "f1", "Observation/tg-665282"])


def test_check_distinct_hashes_accepts_distinct_and_repeated_strings():
    check_distinct_hashes(["f0", "f1", "d0", "s0", "f0"])
