"""Tests for plugin.engine, the hardened durable_rules wrapper (RULE-ENGINE.md)."""

import math
import os
import platform
import random
import subprocess
import sys
import textwrap
import threading
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from plugin.engine import (
    MAX_FACTS,
    EngineResult,
    RuleEngine,
    RuleEngineError,
    RuleInfo,
    check_distinct_hashes,
    fnv1a_32,
)

FIXTURES = Path(__file__).parent / "rules_fixtures"
RULE_FILES = [FIXTURES / "criteria.rules.yaml", FIXTURES / "eligibility.rules.yaml"]
REPO = Path(__file__).resolve().parent.parent

# A patient that walks the whole chain: scan -> criterion -> rai_refractory ->
# progressive_rair (other file) -> candidate.
FULL_CHAIN = [
    {"type": "diagnosis", "histology": "papillary", "id": "Condition/1"},
    {"type": "scan", "uptake": "none", "valid": True, "id": "DiagnosticReport/9"},
    {"type": "progression", "day": 900, "id": "Observation/p1"},
    {"type": "variant", "gene": "BRAF", "protein": "p.Val600Glu", "id": "Observation/v1"},
]


@pytest.fixture(scope="module")
def engine():
    eng = RuleEngine(RULE_FILES, name="fixture")
    yield eng
    eng.close()


def types(result: EngineResult) -> list[str]:
    return [fact["type"] for fact in result.derived]


def write_rules(tmp_path, text, name="rules.yaml"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


# ----------------------------------------------------------------- chaining and templates


def test_rules_chain_across_rules_and_files(engine):
    result = engine.evaluate(FULL_CHAIN)

    assert types(result) == [
        "criterion",
        "has_scan",
        "dtc",
        "rai_refractory",
        "braf_variant",
        "mapk_pathway_variant",
        "progressive_rair",
        "candidate",
    ]
    assert result.fired == ["T1", "T2", "T3", "T4", "T7", "U1", "U2"]
    assert result.derived[-1] == {
        "type": "candidate",
        "therapy": "braf-targeted",
        "protein": "p.Val600Glu",
        "rule": "U2",
    }


def test_alias_field_copies_the_matched_facts_fhir_id(engine):
    result = engine.evaluate(FULL_CHAIN)

    criterion = result.derived[0]
    assert criterion == {
        "type": "criterion",
        "name": "no-uptake",
        "scan": "DiagnosticReport/9",
        "rule": "T1",
    }
    # Copies chain too: T4 copies a field of the derived criterion.
    assert {"type": "rai_refractory", "because": "no-uptake", "rule": "T4"} in result.derived


def test_derived_facts_carry_no_engine_ids(engine):
    for fact in engine.evaluate(FULL_CHAIN).derived:
        assert "sid" not in fact
        assert "id" not in fact


def test_identical_derived_fact_is_asserted_once_but_rule_counts_as_fired(engine):
    scans = [{"type": "scan", "uptake": "some", "valid": True, "id": f"r{i}"} for i in range(5)]

    result = engine.evaluate(scans)

    assert result.derived == [{"type": "has_scan", "rule": "T2"}]
    assert result.fired == ["T2"]


def test_record_only_rule_is_fired_without_a_derived_fact(engine):
    result = engine.evaluate([{"type": "patient", "age": 50}])

    assert result == EngineResult(derived=[], fired=["T6"])


def test_assert_list_derives_several_facts(engine):
    result = engine.evaluate([{"type": "variant", "gene": "BRAF", "protein": "p.V600E"}])

    assert result.derived == [
        {"type": "braf_variant", "protein": "p.V600E", "rule": "T7"},
        {"type": "mapk_pathway_variant", "gene": "BRAF", "rule": "T7"},
    ]


@pytest.mark.parametrize(
    ("rai_day", "progression_day", "matches"),
    [
        (100, 100, True),  # same day: lower bound inclusive
        (100, 465, True),  # day 365 after: upper bound inclusive
        (100, 466, False),
        (100, 99, False),  # before the treatment
        (-30, 200, True),  # negative epoch days are fine
    ],
)
def test_join_on_integer_days(engine, rai_day, progression_day, matches):
    facts = [
        {"type": "rai_treatment", "day": rai_day},
        {"type": "progression", "day": progression_day},
    ]

    result = engine.evaluate(facts)

    expected = {
        "type": "criterion",
        "name": "progression-12m",
        "rai_day": rai_day,
        "progression_day": progression_day,
        "rule": "T5",
    }
    assert (expected in result.derived) is matches
    assert ("T5" in result.fired) is matches


def test_join_pairs_each_treatment_with_each_progression(engine):
    facts = [
        {"type": "rai_treatment", "day": 0},
        {"type": "rai_treatment", "day": 300},
        {"type": "progression", "day": 350},
        {"type": "progression", "day": 600},
    ]

    result = engine.evaluate(facts)

    pairs = {(f["rai_day"], f["progression_day"]) for f in result.derived if "rai_day" in f}
    assert pairs == {(0, 350), (300, 350), (300, 600)}  # (0, 600) is 600 days apart


def test_unmatched_input_facts_are_fine(engine):
    result = engine.evaluate([{"type": "tsh", "value": 0.1}, *FULL_CHAIN])

    assert "candidate" in types(result)


def test_unicode_values_round_trip(engine):
    facts = [{"type": "scan", "uptake": "none", "valid": True, "id": "Befund/Schilddrüse-ü"}]

    result = engine.evaluate(facts)

    assert result.derived[0]["scan"] == "Befund/Schilddrüse-ü"


def test_rules_lists_rule_info_in_file_order(engine):
    assert engine.rules[0] == RuleInfo("scan_without_uptake", "T1", "fixture")
    assert [r.rule_id for r in engine.rules] == ["T1", "T2", "T3", "T4", "T5", "T6", "T7", "T8"] + [
        "U1",
        "U2",
    ]
    assert engine.rules[1].source is None


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

    The crash (RULE-ENGINE.md §3.1) is a ``free`` of two never-initialised pointers. Whether they
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
    # Without the sentinel this crashed 20/20 fresh processes (RULE-ENGINE.md §3.1).
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
    # Positional ids make identical content distinct facts (§3.4: without ids, once).
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


# ----------------------------------------------------------------- load errors


LOAD_ERRORS = {
    "missing id": (
        """
        no_id_rule:
          all: [{m: {type: x}}]
          do: {record: true}
        """,
        r"no_id_rule.*'id'",
    ),
    "numeric id": (
        """
        numeric_id_rule:
          id: 12
          all: [{m: {type: x}}]
          do: {record: true}
        """,
        r"numeric_id_rule.*'id'",
    ),
    "bad alias in template": (
        """
        bad_alias_rule:
          id: E1
          all: [{m: {type: x}}]
          do: {assert: {type: y, v: $q.value}}
        """,
        r"bad_alias_rule.*alias 'q'",
    ),
    "negated alias in template": (
        """
        negated_alias_rule:
          id: E1
          all: [{m: {type: x}}, {n$not: {type: z}}]
          do: {assert: {type: y, v: $n.value}}
        """,
        r"negated_alias_rule.*alias 'n'",
    ),
    "malformed placeholder": (
        """
        placeholder_rule:
          id: E1
          all: [{m: {type: x}}]
          do: {assert: {type: y, v: $m}}
        """,
        r"placeholder_rule.*\$alias\.field",
    ),
    "copying the internal id": (
        """
        internal_id_rule:
          id: E1
          all: [{m: {type: x}}]
          do: {assert: {type: y, v: $m.id}}
        """,
        r"internal_id_rule.*fhir_id",
    ),
    "unknown rule key": (
        """
        unknown_key_rule:
          id: E1
          card: nope
          all: [{m: {type: x}}]
          do: {record: true}
        """,
        r"unknown_key_rule.*unknown keys \['card'\]",
    ),
    "count is not supported": (
        """
        count_rule:
          id: E1
          count: 3
          all: [{m: {type: x}}]
          do: {record: true}
        """,
        r"count_rule.*unknown keys \['count'\]",
    ),
    "unknown operator": (
        """
        gtt_rule:
          id: E1
          all: [{m: {$and: [{type: x}, {$gtt: {v: 1}}]}}]
          do: {record: true}
        """,
        r"gtt_rule.*\$gtt",
    ),
    "two keys in one pattern": (
        """
        two_keys_rule:
          id: E1
          all: [{m: {type: x, kind: y}}]
          do: {record: true}
        """,
        r"two_keys_rule.*exactly one key",
    ),
    "join to an unknown alias": (
        """
        join_rule:
          id: E1
          all:
            - m: {type: x}
            - p: {$and: [{type: y}, {$gte: {day: {q: day}}}]}
          do: {record: true}
        """,
        r"join_rule.*'q'",
    ),
    "missing do": (
        """
        no_do_rule:
          id: E1
          all: [{m: {type: x}}]
        """,
        r"no_do_rule.*'do'",
    ),
    "unknown do verb": (
        """
        emit_rule:
          id: E1
          all: [{m: {type: x}}]
          do: {emit: {type: y}}
        """,
        r"emit_rule.*emit",
    ),
    "record not true": (
        """
        record_rule:
          id: E1
          all: [{m: {type: x}}]
          do: {record: yes please}
        """,
        r"record_rule.*record must be true",
    ),
    "derived fact without type": (
        """
        typeless_rule:
          id: E1
          all: [{m: {type: x}}]
          do: {assert: {name: y}}
        """,
        r"typeless_rule.*'type'",
    ),
    "both all and any": (
        """
        both_rule:
          id: E1
          all: [{m: {type: x}}]
          any: [{n: {type: y}}]
          do: {record: true}
        """,
        r"both_rule.*exactly one of 'all' or 'any'",
    ),
    "negation first": (
        """
        negation_first_rule:
          id: E1
          all: [{n$not: {type: y}}, {m: {type: x}}]
          do: {record: true}
        """,
        r"negation_first_rule.*first pattern",
    ),
    "negation as an alternative": (
        """
        negated_any_rule:
          id: E1
          any: [{m: {type: x}}, {n$not: {type: y}}]
          do: {record: true}
        """,
        r"negated_any_rule.*alternative",
    ),
    "duplicate alias": (
        """
        dup_alias_rule:
          id: E1
          all: [{m: {type: x}}, {m: {type: y}}]
          do: {record: true}
        """,
        r"dup_alias_rule.*used twice",
    ),
    "yaml date value": (
        """
        date_rule:
          id: E1
          all: [{m: {$and: [{type: x}, {$gte: {day: 2020-01-01}}]}}]
          do: {record: true}
        """,
        r"date_rule.*date",
    ),
    "duplicate rule name in one file": (
        """
        twice:
          id: E1
          all: [{m: {type: x}}]
          do: {record: true}
        twice:
          id: E2
          all: [{m: {type: y}}]
          do: {record: true}
        """,
        r"duplicate key 'twice'",
    ),
    "reserved rule name": (
        """
        _eval_begin:
          id: E1
          all: [{m: {type: x}}]
          do: {record: true}
        """,
        r"_eval_begin.*reserved",
    ),
}


@pytest.mark.parametrize(("text", "pattern"), LOAD_ERRORS.values(), ids=LOAD_ERRORS.keys())
def test_malformed_rule_fails_at_load_naming_the_rule(tmp_path, text, pattern):
    path = write_rules(tmp_path, text)

    with pytest.raises(RuleEngineError, match=pattern):
        RuleEngine([path], name="bad")


def test_duplicate_rule_names_across_files_fail_at_load(tmp_path):
    path = write_rules(
        tmp_path,
        """
        progressive_refractory:
          id: X1
          all: [{m: {type: x}}]
          do: {record: true}
        """,
    )

    with pytest.raises(RuleEngineError, match=r"duplicate rule name 'progressive_refractory'"):
        RuleEngine([*RULE_FILES, path], name="dup")


def test_rule_durable_rejects_is_named(tmp_path, monkeypatch):
    # Our checks pass $mt with a list; durable's parser rejects it. The error names it.
    path = write_rules(
        tmp_path,
        """
        fine_rule:
          id: E0
          all: [{m: {type: x}}]
          do: {record: true}
        regex_rule:
          id: E1
          all: [{m: {$mt: {name: "[unclosed"}}}]
          do: {record: true}
        """,
    )

    with pytest.raises(RuleEngineError, match=r"regex_rule.*E1"):
        RuleEngine([path], name="durable-rejects")


def test_unreadable_rule_file_fails_at_load(tmp_path):
    with pytest.raises(RuleEngineError, match="cannot read"):
        RuleEngine([tmp_path / "absent.yaml"], name="absent")


def test_single_path_instead_of_a_list_is_refused():
    with pytest.raises(RuleEngineError, match="sequence"):
        RuleEngine(RULE_FILES[0], name="one")


def test_any_rule_and_negation_load_and_run(tmp_path):
    path = write_rules(
        tmp_path,
        """
        # Either kind of evidence; copies from whichever alias matched.
        either_rule:
          id: A1
          any:
            - a: {type: x}
            - b: {type: y}
          do: {record: true}
        # Negation against a base fact asserted first (§3.5).
        x_without_block:
          id: A2
          all:
            - x: {type: x}
            - blk$not: {type: block}
          do: {assert: {type: unblocked, v: $x.v}}
        """,
    )
    with RuleEngine([path], name="anyneg") as eng:
        assert eng.evaluate([{"type": "y"}]).fired == ["A1"]
        assert eng.evaluate([{"type": "x", "v": 1}]).derived == [
            {"type": "unblocked", "v": 1, "rule": "A2"}
        ]
        assert eng.evaluate([{"type": "block"}, {"type": "x", "v": 1}]).fired == ["A1"]


# ----------------------------------------------------------------- input validation


BAD_FACTS = {
    "nan": ({"type": "lab", "value": math.nan}, "not a finite number"),
    "infinity": ({"type": "lab", "value": math.inf}, "not a finite number"),
    "decimal": ({"type": "lab", "value": Decimal("1.5")}, "Decimal"),
    "date": ({"type": "lab", "day": date(2020, 1, 1)}, "date"),
    "nested object": ({"type": "lab", "code": {"system": "loinc"}}, "dict"),
    "nested list": ({"type": "lab", "values": [[1]]}, "list items"),
    "tuple": ({"type": "lab", "values": (1, 2)}, "tuple"),
    "huge int": ({"type": "lab", "value": 2**70}, "64 bits"),
    "missing type": ({"value": 1}, "'type'"),
    "non-string type": ({"type": 3}, "'type'"),
    "reserved sid": ({"type": "lab", "sid": "s1"}, "reserved"),
    "id and fhir_id": ({"type": "lab", "id": "a", "fhir_id": "b"}, "reserved"),
    "sentinel type": ({"type": "_eval_begin"}, "reserved"),
    "non-string key": ({"type": "lab", 1: 2}, "key 1"),
    "NUL in string": ({"type": "lab", "code": "a\x00b"}, "NUL"),
    "lone surrogate": ({"type": "lab", "code": "a\ud800b"}, "valid Unicode"),
    "lone surrogate in a list": ({"type": "lab", "codes": ["ok", "\udfff"]}, "valid Unicode"),
    "dollar key": ({"type": "lab", "$s": 1}, r"\$"),
    "string too long": ({"type": "lab", "code": "BRAF" + "x" * 65536}, "longer than"),
    "string too long once escaped": ({"type": "lab", "code": "\x01" * 20_000}, "longer than"),
    "too many fields": ({"type": "lab", **{f"k{i}": i for i in range(300)}}, "fields"),
}


@pytest.mark.parametrize(("fact", "pattern"), BAD_FACTS.values(), ids=BAD_FACTS.keys())
def test_invalid_fact_is_rejected_clearly(engine, fact, pattern):
    with pytest.raises(RuleEngineError, match=pattern):
        engine.evaluate([{"type": "patient"}, fact])


def test_lone_surrogates_never_cost_a_state(engine):
    # Before the check, durable failed on the payload and delete_state then failed too: each
    # such call quarantined one sid for good, until no state was left.
    for _ in range(80):  # more than the pool
        with pytest.raises(RuleEngineError, match="valid Unicode"):
            engine.evaluate([{"type": "lab", "code": "\ud800"}])
    assert "candidate" in types(engine.evaluate(FULL_CHAIN))


@pytest.mark.parametrize("facts", ["not facts", {"type": "x"}, [["type", "x"]], None])
def test_facts_must_be_a_sequence_of_mappings(engine, facts):
    with pytest.raises(RuleEngineError):
        engine.evaluate(facts)


def test_too_many_facts_is_rejected(engine):
    with pytest.raises(RuleEngineError, match=str(MAX_FACTS)):
        engine.evaluate([{"type": "lab"}] * (MAX_FACTS + 1))


def test_json_scalars_lists_and_fhir_id_are_accepted(engine):
    facts = [
        {"type": "lab", "value": 1.5, "flag": False, "none": None, "codes": ["a", 1]},
        {"type": "scan", "uptake": "none", "valid": True, "fhir_id": "DiagnosticReport/7"},
    ]

    assert engine.evaluate(facts).derived[0]["scan"] == "DiagnosticReport/7"


def test_long_string_below_the_limit_is_accepted(engine):
    protein = "p." + "x" * 59_000

    result = engine.evaluate([{"type": "variant", "gene": "BRAF", "protein": protein}])

    assert result.derived[0]["protein"] == protein


def test_caller_facts_are_not_modified(engine):
    facts = [dict(f) for f in FULL_CHAIN]

    engine.evaluate(facts)

    assert facts == FULL_CHAIN


# ----------------------------------------------------------------- lifecycle


def test_closed_engine_refuses_to_evaluate_and_close_is_idempotent():
    eng = RuleEngine(RULE_FILES, name="closing")
    eng.close()
    eng.close()

    with pytest.raises(RuleEngineError, match="closed"):
        eng.evaluate([])


@pytest.mark.parametrize(
    ("kwargs", "pattern"),
    [({"name": "x$state"}, r"\$"), ({"name": "ok", "state_pool_size": 0}, "state_pool_size")],
)
def test_bad_constructor_arguments_are_refused(kwargs, pattern):
    with pytest.raises(RuleEngineError, match=pattern):
        RuleEngine(RULE_FILES, **kwargs)


def test_empty_rule_file_gives_an_engine_that_fires_nothing(tmp_path):
    path = write_rules(tmp_path, "# nothing yet\n")

    with RuleEngine([path], name="empty") as eng:
        assert eng.rules == []
        assert eng.evaluate([{"type": "x"}]) == EngineResult(derived=[], fired=[])


def test_rules_sharing_an_id_both_fire_and_the_id_is_reported_once(tmp_path):
    path = write_rules(
        tmp_path,
        """
        first_rule:
          id: F2
          all: [{m: {type: x}}]
          do: {assert: {type: eligible, drug: a}}
        second_rule:
          id: F2
          all: [{m: {type: x}}]
          do: {assert: {type: eligible, drug: b}}
        """,
    )
    with RuleEngine([path], "shared_ids") as engine:
        result = engine.evaluate([{"type": "x"}])

    assert result.fired == ["F2"]
    assert sorted(f["drug"] for f in result.derived) == ["a", "b"]
