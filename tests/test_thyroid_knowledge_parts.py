"""A knowledge file spread over parts (plugin/thyroid/knowledge/parts.py): cards.yaml lists its
parts, and the card text reads as one mapping with each entry in exactly one file."""

from __future__ import annotations

import pytest

from plugin.thyroid.cards.common import load_templates
from plugin.thyroid.knowledge.loader import default_folder
from plugin.thyroid.knowledge.parts import load_with_parts
from plugin.thyroid.orders.common import load_order_text


def write(folder, name, text):
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def test_the_shipped_card_text_is_cards_yaml_with_its_parts():
    templates = load_templates(default_folder() / "cards.yaml")
    assert "parts" not in templates
    # the sections that live in the parts are read with the rest
    assert "W-HTN" in templates["warnings"] and "S1" in templates["sources"]
    assert "W-HTN" in templates["warning_drug_messages"] and templates["disclaimer"]


def test_the_shipped_order_text_is_order_cards_yaml_with_its_part():
    text = load_order_text(default_folder() / "order_cards.yaml")
    assert "parts" not in text.data
    assert text.card("i131-rair")["rules"] and text.drug_to_driver["selpercatinib"] == "RET-fusion"


def test_parts_merge_into_one_mapping(tmp_path):
    main = write(tmp_path, "main.yaml", "parts: [a.yaml, b.yaml]\ntitle: t\n")
    write(tmp_path, "a.yaml", "alpha: {x: 1}\n")
    write(tmp_path, "b.yaml", "beta: [2]\n")
    assert load_with_parts(main) == {"title": "t", "alpha": {"x": 1}, "beta": [2]}


def test_a_file_without_parts_reads_as_itself(tmp_path):
    assert load_with_parts(write(tmp_path, "one.yaml", "a: 1\n")) == {"a": 1}


@pytest.mark.parametrize(
    ("main", "part", "message"),
    [
        ("parts: [p.yaml]\nkey: 1\n", "key: 2\n", "'key' is defined in both main.yaml and p.yaml"),
        ("parts: [p.yaml]\n", "parts: [q.yaml]\n", "cannot list 'parts'"),
        ("parts: p.yaml\n", "a: 1\n", "must be a list of file names"),
        ("parts: [../p.yaml]\n", "a: 1\n", "same folder"),
        ("parts: [p.yaml]\n", "- a\n", "must be a mapping"),
    ],
)
def test_a_malformed_part_list_is_refused(tmp_path, main, part, message):
    write(tmp_path, "p.yaml", part)
    with pytest.raises(ValueError, match=message):
        load_with_parts(write(tmp_path, "main.yaml", main))


def test_a_missing_part_is_an_os_error(tmp_path):
    with pytest.raises(OSError):
        load_with_parts(write(tmp_path, "main.yaml", "parts: [absent.yaml]\n"))
