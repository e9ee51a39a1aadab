"""plugin.engine, loading rule files: every malformed rule fails at load naming the rule
(docs/ENGINE.md §E3.7-§E3.9), duplicate names, unreadable files, ``any`` and negation."""


import pytest
from engine_helpers import RULE_FILES, write_rules

from plugin.engine import (
    RuleEngine,
    RuleEngineError,
)

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
        # Negation against a base fact asserted first (§E3.5).
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
