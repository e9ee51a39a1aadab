"""The rule table: a small patient in -> the expected conclusions out, one row per rule ID at
least (DOMAIN.md Part B §2), with the edge cases of §5 and §A4. The rows are split by subject
(test_thyroid_rules_table_{status,progression,therapy,safety}.py); :data:`ROWS` joins them in
that order, and a completeness test checks that every rule ``id`` in
``rules/thyroid/*.rules.yaml`` has a row and every row names a real ID."""

from __future__ import annotations

from test_thyroid_rules_table_progression import ROWS as PROGRESSION_ROWS
from test_thyroid_rules_table_safety import ROWS as SAFETY_ROWS
from test_thyroid_rules_table_status import ROWS as STATUS_ROWS
from test_thyroid_rules_table_therapy import ROWS as THERAPY_ROWS

from plugin.thyroid.assessment.builder import base_id
from plugin.thyroid.knowledge.loader import load_knowledge

ROWS = [*STATUS_ROWS, *PROGRESSION_ROWS, *THERAPY_ROWS, *SAFETY_ROWS]


def test_every_rule_id_has_a_row_and_every_row_id_exists() -> None:
    rule_ids = {base_id(r.rule_id) for r in load_knowledge().engine.rules}
    row_ids = {i for row in ROWS for i in row.ids}
    assert rule_ids - row_ids == set(), "rule IDs without a row"
    assert row_ids - rule_ids == set(), "row IDs that no rule has"
