"""Issue 4, clinical QA of the order hooks: regressions for the defects the review found.

Every test runs through the Flask test client with the real reader and rules (patient-view
samples under ``fhir_samples/thyroid``, some edited in place) and checks the response schema.
Each names the DOMAIN.md clause it protects. A systemic drug the assessment does not support
(§2.6 / §3 / D1) is in ``test_issue_4_not_indicated.py``; the shared helpers in
``issue_4_helpers.py``."""

from __future__ import annotations

import pytest
from issue_4_helpers import (
    add_resource,
    by_order,
    drug,
    i131,
    lactating,
    post,
    review_client,
    set_doses,
)


@pytest.fixture
def client(tmp_path):
    return review_client(tmp_path)


# -- H3 / §A4.2: the assessment's eligibility wins over the RET-fusion driver check ------------


def test_selpercatinib_for_mtc_gets_no_ret_fusion_card(client, assert_valid_response):
    """H3: selpercatinib's MTC indication is RET-*mutant* MTC; "no RET fusion documented" with an
    RNA fusion panel (and a delete) was the wrong message for an MTC patient."""
    body = assert_valid_response(post(client, "mtc-medullary", [drug("selp", "2370147")]))
    assert body["extension"]["rair-cds"]["assessment"]["rairStatus"] == "NOT_APPLICABLE"
    assert by_order(body)["MedicationRequest/selp"] == []


def test_a_drug_the_assessment_lists_on_label_gets_no_driver_gap_card(client,
                                                                      assert_valid_response):
    """§A4.2/H3: a drug in ``onLabel`` (here selpercatinib, RET-mutant MTC) is eligible; the
    order card must not contradict the assessment with a driver-missing warning."""
    variant = {
        "resourceType": "Observation", "id": "qa-ret-m918t", "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "69548-6"}]},
        "subject": {"reference": "Patient/rair-26"}, "effectiveDateTime": "2026-06-01",
        "valueCodeableConcept": {"coding": [{"system": "http://loinc.org", "code": "LA9633-4"}]},
        "component": [
            {"code": {"coding": [{"system": "http://loinc.org", "code": "48018-6"}]},
             "valueCodeableConcept": {"coding": [{"system": "http://www.genenames.org/geneId",
                                                  "code": "HGNC:9967", "display": "RET"}]}},
            {"code": {"coding": [{"system": "http://loinc.org", "code": "48005-3"}]},
             "valueCodeableConcept": {"text": "p.Met918Thr"}},
        ],
    }
    body = assert_valid_response(post(client, "mtc-medullary", [drug("selp", "2370147")],
                                      edit=add_resource(variant)))
    on_label = [o["drug"] for o in
                body["extension"]["rair-cds"]["assessment"]["therapies"]["onLabel"]]
    if "selpercatinib" not in on_label:
        pytest.skip("the assessment did not read the RET M918T variant from this sample")
    assert "order-driver-missing" not in by_order(body)["MedicationRequest/selp"]


# -- H4: pregnancy and lactation ----------------------------------------------------------------


def test_diagnostic_activity_i131_in_pregnancy_is_critical(client, assert_valid_response):
    """H4: RAI is contraindicated in pregnancy whatever the activity; a 2 mCi order used to pass
    silently because diagnostic-range orders returned before the pregnancy check."""
    body = assert_valid_response(post(client, "pregnant-systemic-indicated", [i131("dx", 2)]))
    cards = body["cards"]
    assert [(c["indicator"]) for c in cards] == ["critical"]
    assert "W-PREG" in cards[0]["summary"]
    assert "Rec 59B" not in cards[0]["detail"]  # not an empiric-therapy question at 2 mCi
    assert cards[0]["overrideReasons"]


def test_lactation_i131_and_tki_orders_are_blocked(client, assert_valid_response):
    """H4 as settled by §A4.11 rule 4 (issue 9): "pregnancy or lactation (W-PREG, blocking)". The
    issue-4 reading (lactation: a non-blocking caution) is superseded: every TKI and every I-131
    order, whatever the activity, gets the critical W-PREG card with a delete suggestion."""
    drafts = [i131("tx", 150), drug("lenv", "1603296"), i131("dx", 2)]
    body = assert_valid_response(post(client, "js-ii-post-therapy-no-uptake", drafts,
                                      edit=add_resource(lactating("rair-02"))))
    review = by_order(body)
    assert review["MedicationRequest/tx"] == ["order-i131-blocking"]
    assert review["MedicationRequest/lenv"] == ["order-blocking"]
    assert review["MedicationRequest/dx"] == ["order-i131-blocking"]
    for card in body["cards"]:
        assert card["indicator"] == "critical"
        assert "W-PREG" in card["summary"] and "lactation" in card["summary"]
        assert any(a["type"] == "delete" for s in card["suggestions"] for a in s["actions"])


def test_lactation_before_first_rai_blocks_i131(client, assert_valid_response):
    """H4 / §A4.11 rule 4: RAI is deferred in lactation even when RAI is otherwise expected (A2)."""
    body = assert_valid_response(post(client, "no-prior-therapeutic-rai", [i131("tx", 100)],
                                      edit=add_resource(lactating("rair-09"))))
    assert by_order(body)["MedicationRequest/tx"] == ["order-i131-blocking"]


# -- B3: JS-iii alone --------------------------------------------------------------------------


def test_i131_for_js_iii_alone_names_the_framework_discordance(client, assert_valid_response):
    """B3: with JS-iii the only criterion, Martinique supports RaIT for avid lesions while Rec 59B
    says no further empiric RAI; the warning must say both, not only Rec 59B."""
    body = assert_valid_response(post(client, "js-iii-some-lesions", [i131("tx", 100)]))
    (card,) = body["cards"]
    assert card["indicator"] == "warning"
    assert "W-FRAMEWORK-DISCORDANCE" in card["detail"]
    assert "RaIT for RAI-avid lesions" in card["detail"]
    assert "Rule **B3**" in card["detail"]


def test_i131_for_js_ii_does_not_carry_the_js_iii_note(client, assert_valid_response):
    body = assert_valid_response(post(client, "js-ii-post-therapy-no-uptake", [i131("tx", 100)]))
    assert "W-FRAMEWORK-DISCORDANCE" not in body["cards"][0]["detail"]


# -- §5 / B0.3: the cumulative threshold -------------------------------------------------------


@pytest.mark.parametrize(("ordered", "unit", "over"), [
    (450, "mCi", False),      # 150 + 450 = 600 mCi = 22,200 MBq: not over (strictly greater)
    (16650, "MBq", False),
    (451, "mCi", True),       # 601 mCi = 22,237 MBq: over
    (16.687, "GBq", True),
])
def test_cumulative_threshold_is_strictly_greater(client, assert_valid_response, ordered, unit,
                                                  over):
    """§5.1 / B0.3: exactly 22,200 MBq is not >22.2 GBq; 22,237 MBq is."""
    body = assert_valid_response(post(client, "js-ii-post-therapy-no-uptake",
                                      [i131("tx", ordered, unit)]))
    (card,) = body["cards"]
    assert (">22.2 GBq" in card["summary"]) is over
    if over:
        assert "22,237 MBq" in card["detail"]
    else:
        assert "exactly 22,200 MBq" in card["detail"] and "**not**" in card["detail"]


def test_unreadable_order_on_top_of_exactly_600_mci_passes_the_threshold(
        client, assert_valid_response):
    """§5 / B0.3: with 22,200 MBq already given, any further therapeutic activity is >22.2 GBq;
    the card used to say the total "cannot be computed"."""
    body = assert_valid_response(post(client, "js-ii-post-therapy-no-uptake",
                                      [i131("tx", None)],
                                      edit=set_doses({"rair-02-rai-3": 600})))
    (card,) = body["cards"]
    assert "already at 22,200 MBq" in card["detail"]
    assert "cannot be computed" not in card["detail"]


# -- A1b: ATC / MTC ----------------------------------------------------------------------------


def test_i131_for_mtc_gets_an_information_card_only(client, assert_valid_response):
    """A1b: NOT_APPLICABLE; the RAI-R rules do not apply and the action is MDT review. Before,
    the order passed without a word; now one info card (no interruption, no override)."""
    body = assert_valid_response(post(client, "mtc-medullary", [i131("tx", 100)]))
    (card,) = body["cards"]
    assert card["indicator"] == "info"
    assert "A1b" in card["detail"] and "MDT_REVIEW_REQUIRED" in card["detail"]


# -- alert fatigue -----------------------------------------------------------------------------


def test_two_drafts_of_the_preferred_drug_give_one_info_card(client, assert_valid_response):
    """Rule 5 (at most an info card): two drafts of selpercatinib gave two identical info
    cards."""
    drafts = [drug("s1", "2370147"),
              {**drug("s2", "2370147"), "medicationCodeableConcept": {
                  "text": "Retevmo 80 MG Oral Capsule"}}]
    body = assert_valid_response(post(client, "ret-fusion-first-line", drafts))
    assert [c["indicator"] for c in body["cards"]] == ["info"]
    suppressed = body["extension"]["rair-cds"]["suppressedCards"]
    assert suppressed == [{"order": "MedicationRequest/s2", "kind": "order-preferred",
                           "reason": "same information card shown for another draft"}]


def test_a_dose_change_between_select_and_sign_shows_the_card_again(client,
                                                                    assert_valid_response):
    """Issue 4: a card shown at order-select is not repeated at order-sign for the same content;
    a changed dose is new content."""
    name, ref = "js-ii-post-therapy-no-uptake", "MedicationRequest/tx"
    first = post(client, name, [i131("tx", 150)], hook="order-select", selections=[ref])
    assert by_order(assert_valid_response(first))[ref] == ["order-i131-rair"]
    same = post(client, name, [{**i131("tx", 150), "status": "active"}])
    assert by_order(assert_valid_response(same))[ref] == []
    changed = post(client, name, [i131("tx", 200)])
    assert by_order(assert_valid_response(changed))[ref] == ["order-i131-rair"]


def test_driver_gap_yields_to_an_on_label_listing():
    """§A4.2: the assessment decides eligibility; a drug it lists as on-label gets no
    driver-missing warning even when the order-card driver table finds no driver on file."""
    import datetime as dt

    from plugin.thyroid.assessment.model import Assessment, TherapyOption
    from plugin.thyroid.clinical_model import PatientRecord
    from plugin.thyroid.orders.cards import DraftOrder, cards_for_order

    assessment = Assessment(dt.date(2026, 11, 27), rair_status="YES", rair_criteria=["JS-ii"],
                            progression="RECENT_PD", action="SYSTEMIC_FIRST_LINE",
                            on_label=[TherapyOption("selpercatinib")])
    order = DraftOrder("MedicationRequest/s", "MedicationRequest", {}, "selpercatinib",
                       drugs=("selpercatinib",))
    assert cards_for_order(order, assessment, PatientRecord(), "p1") == []
    unlisted = Assessment(dt.date(2026, 11, 27), rair_status="YES", rair_criteria=["JS-ii"],
                          progression="RECENT_PD", action="SYSTEMIC_FIRST_LINE")
    kinds = [c.kind for c in cards_for_order(order, unlisted, PatientRecord(), "p1")]
    assert kinds == ["order-driver-missing"]
