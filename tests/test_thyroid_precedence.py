"""Precedence as data (issue 10 item 4, DECISIONS §D4.17): the rules name tiers of
``rules/thyroid/precedence.yaml``, start-up refuses a tier it does not know, and the assessment
builder resolves every kind by "best per key" driven by that file.

The resolution tests below feed hand-made candidates of two adjacent tiers and assert which one
the contract says wins (DECISIONS §D1, §D4.1, §D4.11-§D4.12, §K2.1-§K2.2), so moving a tier in
the file (``scripts/mutate_knowledge.py`` does) fails here.
"""

from __future__ import annotations

import datetime as dt
import re
import shutil
from pathlib import Path

import pytest
from test_thyroid_rules_builder import AS_OF, rair_pd

from plugin.thyroid.assessment.builder import assess, build_assessment
from plugin.thyroid.knowledge.check import KnowledgeError, check_knowledge
from plugin.thyroid.knowledge.loader import default_folder, load_knowledge
from plugin.thyroid.knowledge.precedence import Precedence, load_precedence

RULES_DIR = default_folder()


def _copy(tmp_path: Path) -> Path:
    target = tmp_path / "thyroid"
    shutil.copytree(RULES_DIR, target)
    return target


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, old
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def _resolve(*facts: dict) -> dict:
    derived = [{"rule": "T1", **f} for f in facts]
    return build_assessment(AS_OF, derived, ["T1"], [], "test").to_json()


# -- the file and the knowledge object ----------------------------------------------------------


def test_the_knowledge_carries_the_precedence_read_once() -> None:
    k = load_knowledge()
    assert isinstance(k.precedence, Precedence)
    assert k.precedence is load_knowledge().precedence
    assert k.precedence["therapy"].key == ("drug",)
    assert k.precedence["status"].key == () and k.precedence["action"].key == ()
    for kind in k.precedence.kinds.values():
        for tier in kind.tiers:
            assert tier.meaning.strip() and "DECISIONS §" in tier.source, (kind.type, tier.name)


def test_no_rule_writes_a_rank_or_step_number() -> None:
    for path in sorted(RULES_DIR.glob("*.rules.yaml")):
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.lstrip().startswith("#"):
                assert not re.search(r"\b(rank|step): *[\d.]", line), f"{path.name}:{n}"


# -- start-up refuses what the file does not name -------------------------------------------------


@pytest.mark.parametrize(("old", "new", "expected"), [
    ("drug: lenvatinib, list: onLabel, tier: on_label",
     "drug: lenvatinib, list: onLabel, tier: on_lable", "therapy tier 'on_lable' is not a tier"),
    ("drug: lenvatinib, list: onLabel, tier: on_label",
     "drug: lenvatinib, list: onLabel", "therapy tier None is not a tier"),
    ("drug: lenvatinib, list: onLabel, tier: on_label",
     "drug: lenvatinib, list: onLabel, tier: hard_exclusion",
     "tier 'hard_exclusion' admits list ['notEligible'], not 'onLabel'"),
    ("drug: lenvatinib, list: onLabel, tier: on_label",
     "drug: lenvatinib, list: onLabel, tier: on_label, rank: 2", "carries rank"),
])
def test_a_rule_with_an_unknown_or_wrong_tier_stops_start_up(tmp_path, old, new, expected) -> None:
    import plugin.thyroid as thyroid

    folder = _copy(tmp_path)
    _edit(folder / "first_line.rules.yaml", old, new)

    with pytest.raises(KnowledgeError) as info:
        check_knowledge(folder)
    assert expected in str(info.value)
    with pytest.raises(KnowledgeError, match="f1_lenvatinib_on_label"):
        thyroid.create_services({"THYROID_KNOWLEDGE_DIR": str(folder)})


def test_a_status_tier_that_does_not_admit_the_value_stops_start_up(tmp_path) -> None:
    folder = _copy(tmp_path)
    _edit(folder / "rai_status.rules.yaml", 'value: "NO", tier: no_criterion_met',
          'value: "NO", tier: criterion_met')
    with pytest.raises(KnowledgeError, match="b6_all_evaluable_none_met"):
        check_knowledge(folder)


@pytest.mark.parametrize(("old", "new", "expected"), [
    ("    - name: next_choice\n", "    - name: first_choice\n", "named twice"),
    ("pointer_beside: [indication_not_met]", "pointer_beside: [not_met]", "pointer_beside"),
    ("  key: [drug]\n", "", "'key'"),
    ("      values: [trialOnly]\n", "      values: [trialOnly]\n      rank: 4\n", "unknown key"),
])
def test_a_malformed_precedence_file_stops_start_up(tmp_path, old, new, expected) -> None:
    folder = _copy(tmp_path)
    _edit(folder / "precedence.yaml", old, new)
    with pytest.raises(KnowledgeError, match=re.escape(expected)):
        load_precedence(folder / "precedence.yaml")
    with pytest.raises(KnowledgeError):
        load_knowledge(folder)


@pytest.mark.parametrize(("old", "new", "expected"), [
    ("  otherwise: MONITOR", "  otherwise: WAIT", "'otherwise' 'WAIT' is not a action"),
    ("      values: [UPDATE_IMAGING]", "      values: [UPDATE_IMAGES]",
     "'UPDATE_IMAGES' is not a value of the assessment"),
    ("preferred:\n", "favoured:\n", "no tiers for 'preferred'"),
])
def test_precedence_outside_the_assessment_vocabulary_stops_start_up(tmp_path, old, new,
                                                                      expected) -> None:
    folder = _copy(tmp_path)
    _edit(folder / "precedence.yaml", old, new)
    with pytest.raises(KnowledgeError, match=re.escape(expected)):
        check_knowledge(folder)


def test_a_missing_precedence_file_stops_start_up(tmp_path) -> None:
    folder = _copy(tmp_path)
    (folder / "precedence.yaml").unlink()
    with pytest.raises(KnowledgeError, match="precedence.yaml"):
        load_knowledge(folder)


# -- the file drives the resolution --------------------------------------------------------------


def test_moving_a_tier_in_the_file_changes_the_assessment(tmp_path) -> None:
    """A 15-year-old: lenvatinib is on label (F1) and hard-excluded by its label age (H1); the
    hard exclusion wins. With on_label moved above hard_exclusion in a copy of the file, and
    nothing else changed, the placement flips: the builder reads the order from the file."""
    record = rair_pd(age=15).build()
    shipped = assess(record, AS_OF).to_json()["therapies"]
    assert "lenvatinib" in {t["drug"] for t in shipped["notEligible"]}

    folder = _copy(tmp_path)
    path = folder / "precedence.yaml"
    text = path.read_text(encoding="utf-8")
    hard = text[text.index("    - name: hard_exclusion"):text.index("    - name: on_label_with")]
    on_label = text[text.index("    - name: on_label\n"):text.index("    - name: off_label")]
    path.write_text(text.replace(hard, "@@").replace(on_label, hard).replace("@@", on_label),
                    encoding="utf-8")
    moved = assess(record, AS_OF, knowledge=load_knowledge(folder)).to_json()["therapies"]
    assert "lenvatinib" in {t["drug"] for t in moved["onLabel"]}
    assert "lenvatinib" not in {t["drug"] for t in moved["notEligible"]}


# -- what wins, tier against the next tier (the contract's order) ---------------------------------


@pytest.mark.parametrize(("first", "second"), [
    # §K2.1 A1b: ATC/MTC are outside the framework whatever a gate says
    (("not_applicable", "NOT_APPLICABLE"), ("gate_failed", "NOT_ESTABLISHED")),
    # §K2.1 A2: no therapeutic RAI is NOT_ESTABLISHED even when JS-i is technically met
    (("gate_failed", "NOT_ESTABLISHED"), ("criterion_met", "YES")),
    # §K2.1 A3/A5: missing data give NOT_ESTABLISHED only when no criterion is met
    (("criterion_met", "YES"), ("data_missing", "NOT_ESTABLISHED")),
    # §K2.1 A5: missing data give NOT_ESTABLISHED, never NO
    (("data_missing", "NOT_ESTABLISHED"), ("no_criterion_met", "NO")),
])
def test_status_tiers(first, second) -> None:
    for order in ((first, second), (second, first)):  # rule order does not matter
        got = _resolve(*({"type": "status", "tier": t, "value": v} for t, v in order))
        assert got["rairStatus"] == first[1]


# DECISIONS §D4.1: "the first matching step wins", steps 1-9 in this order
D4_1_STEPS = [
    ("outside_framework", "MDT_REVIEW_REQUIRED"),
    ("no_prior_rai", "RAI_EVALUATION"),
    ("complete_data", "COMPLETE_DATA"),
    ("patient_block", "MDT_REVIEW_REQUIRED"),
    ("local_therapy", "LOCAL_THERAPY_FIRST"),
    ("molecular_testing", "ORDER_MOLECULAR_TESTING"),
    ("update_imaging", "UPDATE_IMAGING"),
    ("systemic_therapy", "SYSTEMIC_FIRST_LINE"),
    ("monitor", "MONITOR"),
]


@pytest.mark.parametrize("step", range(1, len(D4_1_STEPS)))
def test_action_tiers_follow_the_d4_1_steps(step) -> None:
    first, second = D4_1_STEPS[step - 1], D4_1_STEPS[step]
    for order in ((first, second), (second, first)):
        got = _resolve({"type": "status", "tier": "criterion_met", "value": "YES"},
                       *({"type": "action", "tier": t, "value": v} for t, v in order))
        assert got["action"] == first[1], (step, order)


def test_no_action_candidate_is_monitor_and_no_status_candidate_is_not_established() -> None:
    got = _resolve()
    assert (got["rairStatus"], got["action"]) == ("NOT_ESTABLISHED", "MONITOR")


def _placement(tier: str, lst: str, **extra) -> dict:
    return {"type": "therapy", "drug": "lenvatinib", "tier": tier, "list": lst, **extra}


@pytest.mark.parametrize(("first", "second", "expected"), [
    # §D4.6, §K2.7: a hard exclusion (age, progressed on it, resistance) beats any placement
    (_placement("hard_exclusion", "notEligible", reason="adults only"),
     _placement("on_label_with_caveat", "onLabel", reason="limited expected activity"),
     ("notEligible", "adults only")),
    # §D4.14 G4: the caveat beats the plain on-label placement
    (_placement("on_label_with_caveat", "onLabel", reason="limited expected activity"),
     _placement("on_label", "onLabel"), ("onLabel", "limited expected activity")),
    # §D1: the label comes before guideline support, then trials, then "indication not met"
    (_placement("on_label", "onLabel"), _placement("off_label", "guidelineSupportedOffLabel"),
     ("onLabel", None)),
    (_placement("off_label", "guidelineSupportedOffLabel"),
     _placement("trial_only", "trialOnly", trial="NCT0"), ("guidelineSupportedOffLabel", None)),
    (_placement("trial_only", "trialOnly", trial="NCT0"),
     _placement("indication_not_met", "notEligible", reason="no driver"), ("trialOnly", None)),
])
def test_therapy_tiers_per_drug(first, second, expected) -> None:
    other = {"type": "therapy", "drug": "sorafenib", "tier": "indication_not_met",
             "list": "notEligible", "reason": "other drug"}
    for order in ((first, second, other), (other, second, first)):
        therapies = _resolve(*order)["therapies"]
        (lst,) = [name for name, entries in therapies.items()
                  if any(t["drug"] == "lenvatinib" for t in entries)]
        (entry,) = [t for t in therapies[lst] if t["drug"] == "lenvatinib"]
        assert (lst, entry.get("reason")) == expected
        assert {"drug": "sorafenib", "reason": "other drug"} in therapies["notEligible"]


@pytest.mark.parametrize(("placement", "pointer_listed"), [
    (None, True),
    (_placement("indication_not_met", "notEligible", reason="no BRAF V600E"), True),
    (_placement("hard_exclusion", "notEligible", reason="adults only"), False),
    (_placement("on_label", "onLabel"), False),
])
def test_a_trial_pointer_sits_beside_indication_not_met_only(placement, pointer_listed) -> None:
    pointer = _placement("trial_only", "trialOnly", trial="NCT03244956", pointer=True)
    got = _resolve(*([placement] if placement else []), pointer)["therapies"]
    assert ({"drug": "lenvatinib", "trial": "NCT03244956"} in got["trialOnly"]) is pointer_listed


def test_preferred_next_choice_only_when_the_first_choice_is_gone() -> None:
    base = [{"type": "status", "tier": "criterion_met", "value": "YES"},
            _placement("on_label", "onLabel"),
            {**_placement("on_label", "onLabel"), "drug": "cabozantinib"},
            {"type": "preferred", "drug": "cabozantinib", "tier": "next_choice"}]
    first = {"type": "preferred", "drug": "lenvatinib", "tier": "first_choice"}
    for facts in (base + [first], [first, *reversed(base)]):
        got = _resolve(*facts)["therapies"]["onLabel"]
        assert {t["drug"] for t in got if t.get("preferred")} == {"lenvatinib"}
    got = _resolve(*base)["therapies"]["onLabel"]
    assert {t["drug"] for t in got if t.get("preferred")} == {"cabozantinib"}


def test_a_hand_made_candidate_without_a_tier_is_refused() -> None:
    with pytest.raises(KeyError, match="names no tier"):
        _resolve({"type": "status", "value": "YES"})


def test_a_candidate_that_lost_on_precedence_is_not_in_rules_fired() -> None:
    derived = [{"type": "status", "tier": "gate_failed", "value": "NOT_ESTABLISHED", "rule": "A2",
                "ev": "no therapeutic RAI"},
               {"type": "status", "tier": "criterion_met", "value": "YES", "rule": "B1",
                "ev": "no uptake"}]
    a = build_assessment(dt.date(2026, 11, 27), derived, ["A2", "B1"], [], "test")
    assert a.rules_fired == ["A2"]
    assert "B1" not in a.evidence
