"""Order hooks, unit level: reading draft orders.

Assessments and records are built by hand (tests/orders_helpers.py) so each rule of issue 4 is
tested on its own: the alert cache and the order card rules are in
``test_thyroid_orders_{alert_cache,i131,drugs}.py``; ``test_thyroid_orders_e2e.py`` runs the same
rules through the real reader, rules and server."""

from __future__ import annotations

import pytest
from orders_helpers import RAIR, RXNORM, SNOMED, assessment, bundle, drug_request, i131_request

from cds_hooks.errors import InvalidHookRequest
from plugin.thyroid.clinical_model import (
    PatientRecord,
)
from plugin.thyroid.orders.cards import cards_for_order
from plugin.thyroid.orders.drafts import read_draft_order, read_draft_orders

# -- reading draft orders ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("resource", "drugs"),
    [
        (drug_request("a", code="1603296"), ("lenvatinib",)),  # RxNorm ingredient
        (drug_request("b", text="Lenvima 10 MG Oral Capsule"), ("lenvatinib",)),  # brand in text
        (drug_request("c", text="Retevmo 80 mg capsule"), ("selpercatinib",)),
        (drug_request("d", text="dabrafenib 75 mg + trametinib 2 mg"), ("dabrafenib+trametinib",)),
        (drug_request("e", text="Alecensa 150 mg"), ("alectinib",)),  # extra ALK inhibitor by name
        (drug_request("f", code="617993", text="Amoxicillin 120 MG/ML"), ()),
    ],
)
def test_a_drug_order_is_recognised_by_rxnorm_code_or_by_name(resource, drugs):
    order = read_draft_order(resource, f"MedicationRequest/{resource['id']}", bundle(resource))
    assert order.drugs == drugs
    assert not order.i131


def test_a_drug_order_with_a_contained_medication_is_recognised():
    resource = drug_request("m")
    del resource["medicationCodeableConcept"]
    resource["contained"] = [{"resourceType": "Medication", "id": "med",
                              "code": {"coding": [{"system": RXNORM, "code": "2370147"}]}}]
    resource["medicationReference"] = {"reference": "#med"}
    order = read_draft_order(resource, "MedicationRequest/m", bundle(resource))
    assert order.drugs == ("selpercatinib",)


@pytest.mark.parametrize(
    ("value", "unit", "mbq"),
    [(150, "mCi", 5550), (5.55, "GBq", 5550), (3700, "MBq", 3700), (600, "mCi", 22200),
     (100, None, None)],
)
def test_an_i131_order_reads_its_activity_in_whole_mbq_and_never_guesses_a_unit(value, unit, mbq):
    resource = i131_request(value=value, unit=unit)
    order = read_draft_order(resource, "MedicationRequest/i131", bundle(resource))
    assert order.i131
    assert order.activity_mbq == mbq
    assert order.drugs == ()


@pytest.mark.parametrize(
    "code",
    [{"system": SNOMED, "code": "440252007"}, {"system": RAIR, "code": "rai-therapy"}],
)
def test_a_service_request_for_radioiodine_therapy_is_an_i131_order(code):
    resource = {"resourceType": "ServiceRequest", "id": "sr", "status": "draft",
                "intent": "order", "code": {"coding": [code]}}
    order = read_draft_order(resource, "ServiceRequest/sr", bundle(resource))
    assert order.i131 and order.activity_mbq is None
    assert order.is_i131_therapy(1110)  # unknown activity counts as therapy (§A4.10)


@pytest.mark.parametrize(
    ("text", "i131"),
    [("Radioiodine (I-131) therapy", True), ("I-131 remnant ablation", True),
     ("I-131 whole-body scan", False), ("Thyroid uptake study", False)],
)
def test_a_service_request_named_only_in_text_is_therapy_only_when_it_says_so(text, i131):
    resource = {"resourceType": "ServiceRequest", "id": "sr", "status": "draft",
                "intent": "order", "code": {"text": text}}
    assert read_draft_order(resource, "ServiceRequest/sr", bundle(resource)).i131 is i131


def test_a_diagnostic_i131_order_is_not_therapy():
    coded = read_draft_order(i131_request(value=150, category="diagnostic"), "x", {})
    low = read_draft_order(i131_request(value=2), "x", {})  # 74 MBq < 1,110 MBq
    assert not coded.is_i131_therapy(1110)
    assert not low.is_i131_therapy(1110)
    assert read_draft_order(i131_request(value=30), "x", {}).is_i131_therapy(1110)  # 1,110 MBq


def test_order_select_reads_only_the_selections():
    drafts = bundle(drug_request("a", code="1603296"), drug_request("b", code="2370147"))
    context = {"draftOrders": drafts, "selections": ["MedicationRequest/b", "ServiceRequest/zz"]}
    read = read_draft_orders(context, selections_only=True)
    assert [o.ref for o in read.orders] == ["MedicationRequest/b"]
    assert read.notes == ["selection ServiceRequest/zz is not in draftOrders; not evaluated"]
    every = read_draft_orders(context, selections_only=False)
    assert [o.ref for o in every.orders] == ["MedicationRequest/a", "MedicationRequest/b"]


@pytest.mark.parametrize("rtype", ["MedicationOrder", "ProcedureRequest", "ReferralRequest"])
def test_pre_r4_order_types_are_refused_with_a_400_naming_them(rtype):
    drafts = bundle({"resourceType": rtype, "id": "old", "status": "draft"})
    with pytest.raises(InvalidHookRequest) as error:
        read_draft_orders({"draftOrders": drafts}, selections_only=False)
    assert error.value.status_code == 400
    assert f"{rtype}/old" in error.value.message
    assert "R4" in error.value.message


def test_other_r4_order_types_are_read_and_concern_no_rule():
    nutrition = {"resourceType": "NutritionOrder", "id": "diet", "status": "draft"}
    read = read_draft_orders({"draftOrders": bundle(nutrition)}, selections_only=False)
    (order,) = read.orders
    assert order.drugs == () and not order.i131
    assert cards_for_order(order, assessment(), PatientRecord(), "p1") == []
