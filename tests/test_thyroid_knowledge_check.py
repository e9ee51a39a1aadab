"""Start-up check: every conclusion the rules can reach has card text and a citation."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from plugin.thyroid.knowledge_check import RULES_DIR, KnowledgeError, check_knowledge


def _copy_rules(tmp_path: Path) -> Path:
    target = tmp_path / "thyroid"
    shutil.copytree(RULES_DIR, target)
    return target


def _edit_cards(rules_dir: Path, edit) -> None:
    path = rules_dir / "cards.yaml"
    cards = yaml.safe_load(path.read_text(encoding="utf-8"))
    edit(cards)
    path.write_text(yaml.safe_dump(cards, sort_keys=False), encoding="utf-8")


def test_the_shipped_knowledge_files_agree():
    check_knowledge()


@pytest.mark.parametrize(
    ("section", "key", "expected"),
    [
        ("warnings", "W-HTN", "warning 'W-HTN'"),
        ("actions", "UPDATE_IMAGING", "action 'UPDATE_IMAGING'"),
        ("criteria_long", "JS-v", "criterion 'JS-v'"),
        ("rules", "B5", "(B5) has no entry under cards.yaml 'rules'"),
        ("drugs", "lenvatinib", "'lenvatinib'"),
        ("status", "MTC", "status NOT_APPLICABLE"),
    ],
)
def test_a_conclusion_without_card_text_stops_start_up(tmp_path, section, key, expected):
    rules_dir = _copy_rules(tmp_path)
    _edit_cards(rules_dir, lambda cards: cards[section].pop(key))

    with pytest.raises(KnowledgeError) as info:
        check_knowledge(rules_dir)

    assert expected in str(info.value)


def test_the_thyroid_services_refuse_to_start_with_broken_knowledge(tmp_path, monkeypatch):
    import plugin.thyroid as thyroid

    rules_dir = _copy_rules(tmp_path)
    _edit_cards(rules_dir, lambda cards: cards["warnings"].pop("W-PREG"))
    monkeypatch.setattr("plugin.thyroid.knowledge_check.RULES_DIR", rules_dir)

    with pytest.raises(KnowledgeError, match="W-PREG"):
        thyroid.create_services({})


def test_the_rule_engine_is_built_at_start_up_not_on_the_first_patient(monkeypatch):
    import plugin.thyroid as thyroid
    from plugin.thyroid import assess

    built = []
    real = assess.default_engine
    monkeypatch.setattr(assess, "default_engine", lambda: built.append(1) or real())

    thyroid.create_services({})

    assert built == [1]


def test_the_evaluate_command_refuses_broken_knowledge(tmp_path, monkeypatch, capsys):
    from plugin.thyroid import cli

    rules_dir = _copy_rules(tmp_path)
    _edit_cards(rules_dir, lambda cards: cards["actions"].pop("MONITOR"))
    monkeypatch.setattr("plugin.thyroid.knowledge_check.RULES_DIR", rules_dir)
    bundle = Path(__file__).resolve().parents[1] / "fhir_samples" / "thyroid" / "bundles"

    code = cli.main([str(next(bundle.glob("*.json"))), "--as-of", "2026-11-27"])

    assert code == 2
    assert "MONITOR" in capsys.readouterr().err
