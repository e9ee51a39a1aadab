"""Order hooks, unit level, rule 1: an I-131 order (refractory status, cumulative activity,
missing data, pregnancy), with hand-built assessments and records (tests/orders_helpers.py)."""

from __future__ import annotations

import datetime as dt

import pytest
from orders_helpers import actions, assessment, i131_order, kinds, therapeutic

from plugin.thyroid.assessment.model import Warning
from plugin.thyroid.clinical_model import (
    PatientRecord,
    RadioiodineAdministration,
    RaiIntent,
)
from plugin.thyroid.orders import cards as oc
from plugin.thyroid.orders.cards import OrderCardSettings, cards_for_order

# -- rule 1: I-131 -------------------------------------------------------------------------------


def test_i131_for_a_refractory_patient_warns_with_criterion_rec_59b_delete_and_referral():
    record = PatientRecord(rai_administrations=[therapeutic(5550)])
    (card,) = cards_for_order(i131_order(), assessment(), record, "p1")
    assert (card.kind, card.card.indicator) == (oc.I131_RAIR, "warning")
    assert "JS-ii" in card.card.summary and "Rec 59B" in card.card.summary
    assert "22.2 GBq" not in card.card.summary
    delete, create = actions(card.card)
    assert (delete.type, delete.resourceId) == ("delete", "MedicationRequest/i131")
    assert create.type == "create" and create.resource["resourceType"] == "ServiceRequest"
    assert create.resource["subject"] == {"reference": "Patient/p1"}
    codes = {r.code for r in card.card.overrideReasons}
    assert {"clinical-trial", "redifferentiation-protocol"} <= codes



@pytest.mark.parametrize(
    ("action", "referred"),
    [("SYSTEMIC_FIRST_LINE", True), ("ORDER_MOLECULAR_TESTING", True),
     ("MDT_REVIEW_REQUIRED", True), ("MONITOR", False), ("UPDATE_IMAGING", False)],
)
def test_the_systemic_referral_is_offered_only_where_the_next_step_leads_there(action, referred):
    """Rec 59B stops the I-131; a stable refractory patient is monitored (§A4.1 step 9, Rec 60A),
    so the card does not suggest a systemic-therapy referral (a clinical read found it there)."""
    record = PatientRecord(rai_administrations=[therapeutic(5550)])
    progression = "NO_PD" if action == "MONITOR" else "RECENT_PD"
    (card,) = cards_for_order(i131_order(), assessment(action=action, progression=progression),
                              record, "p1")
    assert card.kind == oc.I131_RAIR
    assert [a.type for a in actions(card.card)] == ["delete"] + (["create"] if referred else [])

def test_i131_is_critical_when_configured():
    cards = cards_for_order(i131_order(), assessment(), PatientRecord(), "p1",
                            settings=OrderCardSettings(i131_critical=True))
    assert kinds(cards) == [(oc.I131_RAIR, "critical")]


@pytest.mark.parametrize(
    ("prior", "order_mci", "over"),
    [
        (18500, 100, False),  # 18,500 + 3,700 = 22,200 MBq exactly: not over (§5)
        (18537, 100, True),  # 22,237 MBq = 601 mCi: over
        (22237, None, True),  # already over, ordered activity unreadable
    ],
)
def test_the_i131_card_says_when_cumulative_activity_passes_22_2_gbq(prior, order_mci, over):
    record = PatientRecord(rai_administrations=[therapeutic(prior)])
    order = i131_order(value=order_mci) if order_mci else i131_order(value=None)
    (card,) = cards_for_order(order, assessment(), record, "p1")
    detail = card.card.detail
    assert ("above 22,200 MBq" in detail) is over
    if order_mci == 100 and not over:
        assert "exactly 22,200 MBq" in detail and "not" in detail
    if over and order_mci:
        assert ">22.2 GBq" in card.card.summary


def test_diagnostic_doses_do_not_count_toward_the_cumulative_activity():
    record = PatientRecord(rai_administrations=[
        therapeutic(18500),
        RadioiodineAdministration("MA/dx", dt.date(2024, 6, 1), 185, RaiIntent.DIAGNOSTIC, True),
    ])
    (card,) = cards_for_order(i131_order(value=100), assessment(), record, "p1")
    assert "exactly 22,200 MBq" in card.card.detail


def test_an_unknown_earlier_activity_makes_the_total_a_lower_bound():
    record = PatientRecord(rai_administrations=[
        therapeutic(5550), RadioiodineAdministration("MA/u", None, None, RaiIntent.UNKNOWN)])
    (card,) = cards_for_order(i131_order(), assessment(), record, "p1")
    assert "at least 11,100 MBq" in card.card.detail
    assert "no readable activity" in card.card.detail


def test_i131_while_status_not_established_lists_the_missing_data():
    a = assessment(rair_status="NOT_ESTABLISHED", rair_criteria=[], action="COMPLETE_DATA",
                   missing_data=["post-therapy scan report", "uptake on the 2025 scan"])
    (card,) = cards_for_order(i131_order(), a, PatientRecord(), "p1")
    assert (card.kind, card.card.indicator) == (oc.I131_NOT_ESTABLISHED, "info")
    assert "- post-therapy scan report" in card.card.detail
    assert "2 data item(s)" in card.card.summary


def test_i131_while_not_established_and_past_the_threshold_is_a_warning():
    a = assessment(rair_status="NOT_ESTABLISHED", rair_criteria=[], action="COMPLETE_DATA",
                   missing_data=["uptake"])
    record = PatientRecord(rai_administrations=[therapeutic(22200)])
    (card,) = cards_for_order(i131_order(value=30), a, record, "p1")
    assert (card.kind, card.card.indicator) == (oc.I131_NOT_ESTABLISHED, "warning")
    assert "22.2 GBq" in card.card.summary


@pytest.mark.parametrize(
    ("status", "action"),
    [("NOT_ESTABLISHED", "RAI_EVALUATION"), ("NO", "MONITOR")],
)
def test_i131_when_rai_is_expected_gets_no_card(status, action):
    a = assessment(rair_status=status, rair_criteria=[], action=action)
    assert cards_for_order(i131_order(), a, PatientRecord(), "p1") == []


def test_i131_for_a_non_refractory_patient_past_the_threshold_gets_an_info_card():
    a = assessment(rair_status="NO", rair_criteria=[], action="MONITOR")
    record = PatientRecord(rai_administrations=[therapeutic(20000)])
    cards = cards_for_order(i131_order(), a, record, "p1")
    assert kinds(cards) == [(oc.I131_CUMULATIVE, "info")]
    assert cards[0].card.overrideReasons is None


def test_a_diagnostic_i131_order_for_a_refractory_patient_gets_no_card():
    assert cards_for_order(i131_order(value=2), assessment(), PatientRecord(), "p1") == []


def test_i131_in_pregnancy_is_critical():
    a = assessment(warnings=[Warning("W-PREG", True)])
    cards = cards_for_order(i131_order(), a, PatientRecord(), "p1")
    # one card for the order: the block also says Rec 59B and offers the referral
    assert kinds(cards) == [(oc.I131_BLOCKING, "critical")]
    (card,) = cards
    assert "Rec 59B" in card.card.detail and "JS-ii" in card.card.detail
    assert [x.type for x in actions(card.card)] == ["delete", "create"]
    assert card.card.source.label.startswith("US label: RETEVMO")
