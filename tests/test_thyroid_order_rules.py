"""The order rules (``rules/thyroid/orders.rules.yaml``): each one decides something.

A small corpus of hand-built orders and assessments, one case (at least) per rule, is run through
:func:`~plugin.thyroid.orders.cards.cards_for_order` with the shipped order rules: each case's
cards are checked. Then every rule is dropped in turn and the corpus re-run: each removal must
change some case's output (a rule no case needs would be a rule no test holds).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import yaml

from plugin.engine import RuleEngine
from plugin.thyroid.assessment.model import Assessment, TherapyOption, Warning
from plugin.thyroid.clinical_model import (
    PatientRecord,
    RadioiodineAdministration,
    RaiIntent,
    StopReason,
    TherapyExposure,
)
from plugin.thyroid.knowledge.loader import ORDER_RULES, load_knowledge, rule_files
from plugin.thyroid.orders.cards import DraftOrder, OrderCardSettings, cards_for_order
from plugin.thyroid.orders.drafts import read_draft_order

TODAY = dt.date(2026, 11, 27)
SNOMED = "http://snomed.info/sct"
KNOWLEDGE = load_knowledge()
RULES_PATH = KNOWLEDGE.folder / ORDER_RULES
RULES = yaml.safe_load(RULES_PATH.read_text(encoding="utf-8"))


def _i131(mci: int) -> DraftOrder:
    resource = {
        "resourceType": "MedicationRequest", "id": "i131", "status": "draft", "intent": "order",
        "medicationCodeableConcept": {"coding": [{"system": SNOMED, "code": "111160004"}]},
        "subject": {"reference": "Patient/p1"},
        "dosageInstruction": [{"doseAndRate": [{"doseQuantity": {
            "value": mci, "unit": "mCi", "system": "http://unitsofmeasure.org", "code": "mCi"}}]}],
    }
    bundle = {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": resource}]}
    return read_draft_order(resource, "MedicationRequest/i131", bundle)


def _drug(drug: str) -> DraftOrder:
    return DraftOrder(f"MedicationRequest/{drug}", "MedicationRequest", {}, drug, drugs=(drug,))


def _a(**kwargs) -> Assessment:
    base = {"rair_status": "YES", "rair_criteria": ["JS-ii"], "progression": "RECENT_PD",
            "action": "SYSTEMIC_FIRST_LINE"}
    base.update(kwargs)
    return Assessment(TODAY, **base)


def _rai(mbq: int) -> PatientRecord:
    dose = RadioiodineAdministration("MedicationAdministration/a", dt.date(2024, 1, 1), mbq,
                                     RaiIntent.THERAPEUTIC, True)
    return PatientRecord(rai_administrations=[dose])


LENVATINIB = [TherapyOption("lenvatinib", preferred=True, rule="F1")]
MONITOR = {"rair_status": "NO", "rair_criteria": [], "progression": "NO_PD", "action": "MONITOR"}
ONGOING = PatientRecord(therapies=[TherapyExposure("MedicationStatement/m1", "lenvatinib",
                                                   dt.date(2026, 1, 1), status="active")])
W_PREG_BLOCK = Warning("W-PREG", True, all_drugs=True)
INTOLERANT = PatientRecord(therapies=[TherapyExposure(
    "MedicationStatement/m2", "lenvatinib", dt.date(2025, 2, 1), dt.date(2026, 3, 1),
    stop_reason=StopReason.INTOLERANCE, status="stopped")])

# name -> (order, assessment, record, info cards, the expected (kind, indicator) per card)
CASES = {
    "i131-rair": (_i131(150), _a(), _rai(5550), True, [("order-i131-rair", "warning")]),
    "i131-blocking-rair": (_i131(150), _a(warnings=[W_PREG_BLOCK]), _rai(5550), True,
                           [("order-i131-blocking", "critical")]),
    "i131-rai-ineligible": (_i131(150), _a(rair_status="NOT_ESTABLISHED", rair_criteria=[],
                                           action="MDT_REVIEW_REQUIRED", rules_fired=["A2b"]),
                            _rai(5550), True, [("order-i131-rai-ineligible", "warning")]),
    "i131-not-established": (_i131(150), _a(rair_status="NOT_ESTABLISHED", rair_criteria=[],
                                            action="COMPLETE_DATA"), _rai(5550), True,
                             [("order-i131-not-established", "info")]),
    "i131-rai-evaluation": (_i131(150), _a(rair_status="NOT_ESTABLISHED", rair_criteria=[],
                                           action="RAI_EVALUATION"), PatientRecord(), True, []),
    "i131-not-applicable": (_i131(150), _a(rair_status="NOT_APPLICABLE", rair_criteria=[],
                                           action="MDT_REVIEW_REQUIRED"), _rai(5550), True,
                            [("order-i131-not-applicable", "info")]),
    "i131-not-applicable-over": (_i131(150), _a(rair_status="NOT_APPLICABLE", rair_criteria=[],
                                                action="MDT_REVIEW_REQUIRED"), _rai(20000),
                                 False, [("order-i131-not-applicable", "info")]),
    "i131-cumulative-no": (_i131(150), _a(**MONITOR), _rai(20000), True,
                           [("order-i131-cumulative", "info")]),
    "i131-cumulative-rai-evaluation": (
        _i131(700), _a(rair_status="NOT_ESTABLISHED", rair_criteria=[],
                       action="RAI_EVALUATION"), PatientRecord(), True,
        [("order-i131-cumulative", "info")]),
    "i131-diagnostic": (_i131(2), _a(), _rai(5550), True, []),
    "blocking-named": (_drug("selpercatinib"),
                       _a(on_label=[TherapyOption("selpercatinib", rule="F2")],
                          warnings=[Warning("W-HTN", True, drugs=("selpercatinib",))]),
                       PatientRecord(), True, [("order-blocking", "critical")]),
    "blocking-all-drugs": (_drug("lenvatinib"),
                           _a(on_label=LENVATINIB,
                              warnings=[Warning("W-BLEED", True, drugs=("cabozantinib",),
                                                all_drugs=True)]),
                           PatientRecord(), True, [("order-blocking", "critical")]),
    "blocking-patient-level": (_drug("lenvatinib"),
                               _a(on_label=LENVATINIB, warnings=[Warning("W-RET-POINT", True)]),
                               PatientRecord(), True, [("order-blocking", "critical")]),
    "blocking-absorbs-gap": (_drug("selpercatinib"),
                             _a(on_label=LENVATINIB, warnings=[W_PREG_BLOCK]),
                             PatientRecord(), True, [("order-blocking", "critical")]),
    "driver-missing": (_drug("selpercatinib"), _a(on_label=LENVATINIB), PatientRecord(), True,
                       [("order-driver-missing", "warning")]),
    "driver-absorbs-not-eligible": (
        _drug("selpercatinib"),
        _a(on_label=LENVATINIB,
           not_eligible=[TherapyOption("selpercatinib", reason="no RET fusion", rule="F2")]),
        PatientRecord(), True, [("order-driver-missing", "warning")]),
    "not-eligible": (_drug("sorafenib"),
                     _a(on_label=LENVATINIB,
                        not_eligible=[TherapyOption("sorafenib", reason="age", rule="H1")]),
                     PatientRecord(), True, [("order-not-eligible", "warning")]),
    "trial-only": (_drug("cabozantinib"),
                   _a(on_label=LENVATINIB,
                      trial_only=[TherapyOption("cabozantinib", trial="NCT01234567")]),
                   PatientRecord(), True, [("order-trial-only", "warning")]),
    "not-indicated": (_drug("lenvatinib"), _a(**MONITOR), PatientRecord(), True,
                      [("order-not-indicated", "warning")]),
    "continuation": (_drug("lenvatinib"), _a(**MONITOR), ONGOING, True, []),
    "not-indicated-atc": (_drug("lenvatinib"), _a(rair_status="NOT_APPLICABLE",
                                                  action="UPDATE_IMAGING"),
                          PatientRecord(), True, []),
    "preferred": (_drug("lenvatinib"), _a(on_label=LENVATINIB), PatientRecord(), True,
                  [("order-preferred", "info")]),
    "preferred-off": (_drug("lenvatinib"), _a(on_label=LENVATINIB), PatientRecord(), False, []),
    "intolerance": (_drug("lenvatinib"), _a(on_label=[TherapyOption("lenvatinib", rule="F1")]),
                    INTOLERANT, True, [("order-intolerance", "warning")]),
    "pregnancy-caution": (_drug("lenvatinib"),
                          _a(on_label=LENVATINIB, warnings=[Warning("W-PREG", False)]),
                          PatientRecord(), True, [("order-pregnancy-caution", "warning")]),
    "pregnancy-blocked": (_drug("lenvatinib"),
                          _a(on_label=LENVATINIB,
                             warnings=[W_PREG_BLOCK, Warning("W-PREG", False)]),
                          PatientRecord(), True, [("order-blocking", "critical")]),
}


def _run(engine: RuleEngine) -> dict[str, tuple]:
    """Each case's output: the cards (kind, indicator, summary, detail) and the suppressions."""
    out = {}
    for name, (order, assessment, record, info, _) in CASES.items():
        suppressed: list[dict[str, str]] = []
        cards = cards_for_order(order, assessment, record, "p1", engine=engine,
                                settings=OrderCardSettings(info_cards=info),
                                suppressed=suppressed)
        out[name] = (tuple((c.kind, c.card.indicator, c.card.summary, c.card.detail)
                           for c in cards), tuple(tuple(sorted(s.items())) for s in suppressed))
    return out


@pytest.mark.parametrize("name", sorted(CASES))
def test_each_case_gets_the_cards_its_rule_concludes(name):
    order, assessment, record, info, expected = CASES[name]
    suppressed: list[dict[str, str]] = []
    cards = cards_for_order(order, assessment, record, "p1",
                            settings=OrderCardSettings(info_cards=info), suppressed=suppressed)
    assert [(c.kind, c.card.indicator) for c in cards] == expected
    assert bool(suppressed) == (name == "continuation")


def test_an_absorbed_candidate_is_said_on_the_winning_card():
    """Blocking absorbs the driver gap and Rec 59B; driver-missing the not-eligible reason."""
    full = _run(KNOWLEDGE.order_engine)
    (gap,) = full["blocking-absorbs-gap"][0]
    assert "No RET fusion is documented" in gap[3]
    (rair,) = full["i131-blocking-rair"][0]
    assert "B8" in rair[3]
    (driver,) = full["driver-absorbs-not-eligible"][0]
    assert "no RET fusion" in driver[3] and "not eligible" in driver[3]
    # a non-blocking W-PREG joins the order's card; beside a blocking one it is not repeated
    (caution,) = full["pregnancy-caution"][0]
    assert "**W-PREG (H4):**" in caution[3]
    (blocked,) = full["pregnancy-blocked"][0]
    assert "**W-PREG (H4):**" not in blocked[3]


def test_removing_any_order_rule_changes_some_case(tmp_path: Path):
    full = _run(KNOWLEDGE.order_engine)
    survivors = []
    for name in RULES:
        reduced = {k: v for k, v in RULES.items() if k != name}
        path = tmp_path / f"without_{name}.rules.yaml"
        path.write_text(yaml.safe_dump(reduced, sort_keys=False), encoding="utf-8")
        with RuleEngine([path], name=f"orders_without_{name}") as engine:
            if _run(engine) == full:
                survivors.append(name)
    assert survivors == [], "order rules no case needs (mutants that survive)"


def test_the_order_rules_are_their_own_ruleset():
    order_ids = {r.rule_id for r in KNOWLEDGE.order_engine.rules}
    assert order_ids == {str(rule["id"]) for rule in RULES.values()}
    assert RULES_PATH not in rule_files(KNOWLEDGE.folder)
    assert not order_ids & {r.rule_id for r in KNOWLEDGE.engine.rules}
    for rule in RULES.values():
        assert str(rule.get("source") or "").strip(), rule["id"]
