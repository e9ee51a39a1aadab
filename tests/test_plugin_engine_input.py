"""plugin.engine, input facts: what durable_rules would get silently wrong is refused with a
clear RuleEngineError (docs/ENGINE.md §E3.7, §E3.10); valid facts pass unchanged."""

import math
from datetime import date
from decimal import Decimal

import pytest
from engine_helpers import FULL_CHAIN, types

from plugin.engine import (
    MAX_FACTS,
    RuleEngineError,
)

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
