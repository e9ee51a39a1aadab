"""Shared by the rule-engine tests (tests/test_plugin_engine*.py): the fixture rule files, a
patient that walks the whole chain, and the module-scoped ``engine`` fixture (conftest.py
imports it)."""

import textwrap
from pathlib import Path

import pytest

from plugin.engine import (
    EngineResult,
    RuleEngine,
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
