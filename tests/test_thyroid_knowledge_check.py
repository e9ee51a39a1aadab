"""Start-up check: every conclusion the rules can reach has card text and a citation."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from plugin.thyroid.knowledge.check import KnowledgeError, check_knowledge
from plugin.thyroid.knowledge.loader import default_folder
from plugin.thyroid.knowledge.parts import load_with_parts

RULES_DIR = default_folder()


def _copy_rules(tmp_path: Path) -> Path:
    target = tmp_path / "thyroid"
    shutil.copytree(RULES_DIR, target)
    return target


def _edit_cards(rules_dir: Path, edit) -> None:
    """Edit the card text as one mapping; each section goes back to the file that holds it."""
    main = rules_dir / "cards.yaml"
    files = {main: yaml.safe_load(main.read_text(encoding="utf-8"))}
    for name in files[main].get("parts", []):
        files[rules_dir / name] = yaml.safe_load((rules_dir / name).read_text(encoding="utf-8"))
    cards = load_with_parts(main)
    edit(cards)
    for path, sections in files.items():
        kept = {key: value if key == "parts" else cards[key]
                for key, value in sections.items() if key == "parts" or key in cards}
        path.write_text(yaml.safe_dump(kept, sort_keys=False), encoding="utf-8")


def test_the_shipped_knowledge_files_agree():
    check_knowledge(RULES_DIR)


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


def test_the_thyroid_services_refuse_to_start_with_broken_knowledge(tmp_path):
    import plugin.thyroid as thyroid

    rules_dir = _copy_rules(tmp_path)
    _edit_cards(rules_dir, lambda cards: cards["warnings"].pop("W-PREG"))

    with pytest.raises(KnowledgeError, match="W-PREG"):
        thyroid.create_services({"THYROID_KNOWLEDGE_DIR": str(rules_dir)})


def test_a_malformed_rule_stops_start_up(tmp_path):
    import plugin.thyroid as thyroid
    from plugin.engine import RuleEngineError

    rules_dir = _copy_rules(tmp_path)
    (rules_dir / "zz_broken.rules.yaml").write_text(
        "broken_rule:\n  id: A1\n  all: [{m: {type: patient}}]\n  do: {no_such_action: 1}\n",
        encoding="utf-8")

    with pytest.raises(RuleEngineError):
        thyroid.create_services({"THYROID_KNOWLEDGE_DIR": str(rules_dir)})


def test_the_services_share_one_knowledge_object_built_at_start_up(tmp_path):
    import plugin.thyroid as thyroid

    rules_dir = _copy_rules(tmp_path)
    services = thyroid.create_services({"THYROID_KNOWLEDGE_DIR": str(rules_dir)})

    knowledge = {id(s.knowledge) for s in services}
    assert len(knowledge) == 1
    (k,) = {s.knowledge for s in services}
    assert k.folder == rules_dir.resolve()
    assert k.engine.rules  # the rules were compiled before the first patient


def test_the_evaluate_command_refuses_broken_knowledge(tmp_path, capsys):
    from plugin.thyroid import cli

    rules_dir = _copy_rules(tmp_path)
    _edit_cards(rules_dir, lambda cards: cards["actions"].pop("MONITOR"))
    bundle = Path(__file__).resolve().parents[1] / "fhir_samples" / "thyroid" / "bundles"

    code = cli.main([str(next(bundle.glob("*.json"))), "--as-of", "2026-11-27",
                     "--knowledge", str(rules_dir)])

    assert code == 2
    assert "MONITOR" in capsys.readouterr().err


def _edit_order_rules(rules_dir: Path, edit) -> None:
    path = rules_dir / "orders.rules.yaml"
    rules = yaml.safe_load(path.read_text(encoding="utf-8"))
    edit(rules)
    path.write_text(yaml.safe_dump(rules, sort_keys=False), encoding="utf-8")


def _set_conclusion(rule: str, **changes):
    def edit(rules):
        rules[rule]["do"]["assert"].update(changes)
    return edit


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (lambda rules: rules["o5_preferred"].pop("source"), "has no 'source'"),
        (_set_conclusion("o3_trial_only", kind="order-trial"), "is no order card kind"),
        (_set_conclusion("o1_i131_rair", target="$o.drug"), "rendered for target I-131"),
        (_set_conclusion("o3_not_eligible", target="I-131"), "an ordered drug"),
        (_set_conclusion("o4b_continuation", hold="quietly"), "hold 'quietly'"),
    ],
)
def test_a_broken_order_rule_stops_start_up(tmp_path, edit, expected):
    rules_dir = _copy_rules(tmp_path)
    _edit_order_rules(rules_dir, edit)

    with pytest.raises(KnowledgeError) as info:
        check_knowledge(rules_dir)

    assert expected in str(info.value)


def test_an_order_card_kind_without_text_stops_start_up(tmp_path):
    rules_dir = _copy_rules(tmp_path)
    path = rules_dir / "order_card_text.yaml"  # the part of order_cards.yaml with `cards`
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["cards"].pop("trial-only")
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")

    with pytest.raises(KnowledgeError, match="'order-trial-only' has no text"):
        check_knowledge(rules_dir)
