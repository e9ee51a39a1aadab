"""Tests for plugin.engine, the hardened durable_rules wrapper (docs/ENGINE.md): chaining,
derived-fact templates and the engine's lifecycle. Crash and leak safety, rule loading and input
checks are in tests/test_plugin_engine_{safety,load,input}.py."""


import pytest
from engine_helpers import FULL_CHAIN, RULE_FILES, types, write_rules

from plugin.engine import (
    EngineResult,
    RuleEngine,
    RuleEngineError,
    RuleInfo,
)

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
