"""Order hooks, unit level: draft-order reading, the alert cache, and the order card builders.

Assessments and records are built by hand here so each rule of issue 4 is tested on its own;
``test_thyroid_orders_e2e.py`` runs the same rules through the real reader, rules and server.
"""

from __future__ import annotations

import datetime as dt
import threading

import pytest

from cds_hooks.cards import SUMMARY_MAX
from cds_hooks.errors import InvalidHookRequest
from plugin.thyroid.assessment.model import Assessment, Driver, TherapyOption, Warning
from plugin.thyroid.clinical_model import (
    GeneTested,
    PatientRecord,
    RadioiodineAdministration,
    RaiIntent,
    Variant,
    VariantKind,
)
from plugin.thyroid.orders import cards as oc
from plugin.thyroid.orders.alert_cache import AlertCache, card_signature, order_fingerprint
from plugin.thyroid.orders.cards import DraftOrder, OrderCardSettings, cards_for_order
from plugin.thyroid.orders.drafts import read_draft_order, read_draft_orders

TODAY = dt.date(2026, 11, 27)
SNOMED = "http://snomed.info/sct"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
RAIR = "https://rair-cds.org/fhir/CodeSystem/concepts"


# -- builders ----------------------------------------------------------------------------------


def i131_request(rid="i131", value=150, unit="mCi", category=None):
    resource = {
        "resourceType": "MedicationRequest",
        "id": rid,
        "status": "draft",
        "intent": "order",
        "medicationCodeableConcept": {
            "coding": [{"system": SNOMED, "code": "111160004", "display": "Sodium iodide (131-I)"}]
        },
        "subject": {"reference": "Patient/p1"},
    }
    if value is not None:
        quantity = {"value": value}
        if unit:
            quantity.update(unit=unit, system="http://unitsofmeasure.org", code=unit)
        resource["dosageInstruction"] = [{"doseAndRate": [{"doseQuantity": quantity}]}]
    if category:
        resource["category"] = [{"coding": [{"system": RAIR, "code": category}]}]
    return resource


def drug_request(rid, code=None, text=None):
    concept = {}
    if code:
        concept["coding"] = [{"system": RXNORM, "code": code}]
    if text:
        concept["text"] = text
    return {
        "resourceType": "MedicationRequest",
        "id": rid,
        "status": "draft",
        "intent": "order",
        "medicationCodeableConcept": concept,
        "subject": {"reference": "Patient/p1"},
    }


def bundle(*resources):
    return {"resourceType": "Bundle", "type": "collection",
            "entry": [{"resource": r} for r in resources]}


def assessment(**kwargs):
    base = {"rair_status": "YES", "rair_criteria": ["JS-ii"], "progression": "RECENT_PD",
            "action": "SYSTEMIC_FIRST_LINE"}
    base.update(kwargs)
    return Assessment(TODAY, **base)


def therapeutic(mbq, source="MedicationAdministration/a"):
    return RadioiodineAdministration(source, dt.date(2024, 1, 1), mbq, RaiIntent.THERAPEUTIC, True)


def order_for(drug):
    rid = drug.replace("+", "-")  # a FHIR id: [A-Za-z0-9-.]
    return DraftOrder(f"MedicationRequest/{rid}", "MedicationRequest", {}, drug, drugs=(drug,))


def kinds(cards):
    return [(c.kind, c.card.indicator) for c in cards]


def actions(card):
    return [a for s in card.suggestions or [] for a in s.actions or []]


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


# -- the alert cache ---------------------------------------------------------------------------


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def test_the_fingerprint_ignores_volatile_members_but_not_the_dose():
    order = i131_request()
    stamped = dict(order, meta={"versionId": "2"}, status="active", authoredOn="2026-11-27",
                   identifier=[{"value": "ORD-1"}], text={"status": "generated", "div": "<div/>"})
    assert order_fingerprint(order) == order_fingerprint(stamped)
    assert order_fingerprint(order) != order_fingerprint(i131_request(value=200))


def test_the_cache_remembers_within_the_ttl_and_forgets_after_it():
    clock = Clock()
    cache = AlertCache(max_entries=10, ttl_seconds=60, clock=clock)
    key = cache.key("p1", "MedicationRequest/i131", i131_request())
    cache.remember(key, ["sig-a"])
    clock.now += 59
    assert cache.shown(key) == {"sig-a"}
    clock.now += 61
    assert cache.shown(key) == frozenset()
    assert len(cache) == 0


def test_the_cache_is_bounded_and_drops_the_least_recently_used():
    cache = AlertCache(max_entries=2, ttl_seconds=60, clock=Clock())
    keys = [("p1", f"MedicationRequest/{i}", "h") for i in range(3)]
    cache.remember(keys[0], ["a"])
    cache.remember(keys[1], ["b"])
    cache.shown(keys[0])  # touch: keys[1] is now the oldest
    cache.remember(keys[2], ["c"])
    assert cache.shown(keys[0]) == {"a"}
    assert cache.shown(keys[1]) == frozenset()
    assert len(cache) == 2


def test_the_cache_is_keyed_by_patient():
    cache = AlertCache(clock=Clock())
    cache.remember(cache.key("p1", "MedicationRequest/x", {"a": 1}), ["s"])
    assert cache.shown(cache.key("p2", "MedicationRequest/x", {"a": 1})) == frozenset()


def test_the_cache_is_safe_under_concurrent_use():
    cache = AlertCache(max_entries=50, ttl_seconds=60)

    def work(n):
        for i in range(300):
            key = ("p", f"o{(n * 7 + i) % 80}", "h")
            cache.remember(key, [f"s{i}"])
            cache.shown(key)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(cache) <= 50


def test_the_cache_refuses_nonsense_bounds():
    with pytest.raises(ValueError):
        AlertCache(max_entries=0)
    with pytest.raises(ValueError):
        AlertCache(ttl_seconds=0)


# -- rule 1: I-131 -------------------------------------------------------------------------------


def i131_order(value=150, unit="mCi", **kwargs):
    resource = i131_request(value=value, unit=unit, **kwargs)
    return read_draft_order(resource, "MedicationRequest/i131", bundle(resource))


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


# -- rule 2: targeted drug without its driver ----------------------------------------------------


@pytest.mark.parametrize(
    ("drug", "driver"),
    [("selpercatinib", "RET fusion"), ("pralsetinib", "RET fusion"),
     ("larotrectinib", "NTRK1/2/3 fusion"), ("repotrectinib", "NTRK1/2/3 fusion"),
     ("dabrafenib+trametinib", "BRAF V600E"), ("trametinib", "BRAF V600E"),
     ("vemurafenib", "BRAF V600E"), ("crizotinib", "ALK fusion")],
)
def test_a_targeted_drug_without_its_driver_warns_and_suggests_testing_when_untested(drug, driver):
    (card,) = cards_for_order(order_for(drug), assessment(), PatientRecord(), "p1")
    assert (card.kind, card.card.indicator) == (oc.DRIVER_MISSING, "warning")
    assert f"no {driver}" in card.card.summary
    got = [(a.type, (a.resource or {}).get("resourceType")) for a in actions(card.card)]
    assert got == [("delete", None), ("create", "ServiceRequest")]
    assert "outside-test-result" in {r.code for r in card.card.overrideReasons}


def test_no_testing_suggestion_when_a_fusion_capable_assay_found_no_fusion():
    record = PatientRecord(genes_tested=[GeneTested("Observation/t", "RET", True)])
    (card,) = cards_for_order(order_for("selpercatinib"), assessment(), record, "p1")
    assert [a.type for a in actions(card.card)] == ["delete"]
    assert "tested with a capable assay" in card.card.detail


def test_a_dna_only_negative_leaves_fusion_status_unknown_so_testing_is_suggested():
    record = PatientRecord(variants=[
        Variant("Observation/v", "RET", False, VariantKind.OTHER, fusion_capable=False)])
    (card,) = cards_for_order(order_for("selpercatinib"), assessment(), record, "p1")
    assert [a.type for a in actions(card.card)] == ["delete", "create"]
    assert "E4" in card.card.detail


def test_ntrk_testing_must_cover_all_three_genes():
    record = PatientRecord(genes_tested=[GeneTested("O/t", "NTRK1", True),
                                         GeneTested("O/t", "NTRK2", True)])
    (card,) = cards_for_order(order_for("larotrectinib"), assessment(), record, "p1")
    assert "NTRK3 not tested" in card.card.detail


def test_braf_any_sequencing_counts_as_tested():
    record = PatientRecord(genes_tested=[GeneTested("O/t", "BRAF", False)])
    (card,) = cards_for_order(order_for("vemurafenib"), assessment(), record, "p1")
    assert [a.type for a in actions(card.card)] == ["delete"]


@pytest.mark.parametrize(
    ("drug", "driver"),
    [("selpercatinib", Driver("RET", "fusion", "fusion", "CCDC6")),
     ("entrectinib", Driver("NTRK3", "fusion", "fusion", "ETV6")),
     ("dabrafenib+trametinib", Driver("BRAF", "V600E", "snv")),
     ("crizotinib", Driver("ALK", "fusion", "fusion", "EML4"))],
)
def test_a_targeted_drug_with_its_driver_gets_no_driver_card(drug, driver):
    assert cards_for_order(order_for(drug), assessment(drivers=[driver]), PatientRecord(),
                           "p1") == []


def test_a_ret_point_mutation_is_not_a_ret_fusion():
    a = assessment(drivers=[Driver("RET", "M918T", "snv")])
    (card,) = cards_for_order(order_for("selpercatinib"), a, PatientRecord(), "p1")
    assert card.kind == oc.DRIVER_MISSING


def test_braf_non_v600e_is_not_the_braf_driver():
    a = assessment(drivers=[Driver("BRAF", "K601E", "snv")])
    (card,) = cards_for_order(order_for("dabrafenib"), a, PatientRecord(), "p1")
    assert "no BRAF V600E" in card.card.summary


# -- rule 3: not eligible ------------------------------------------------------------------------


def test_a_drug_listed_as_not_eligible_warns_with_the_reason():
    a = assessment(on_label=[TherapyOption("lenvatinib", preferred=True)],
                   not_eligible=[TherapyOption("cabozantinib",
                                               reason="no prior VEGFR-targeted therapy",
                                               rule="G1")])
    (card,) = cards_for_order(order_for("cabozantinib"), a, PatientRecord(), "p1")
    assert (card.kind, card.card.indicator) == (oc.NOT_ELIGIBLE, "warning")
    assert "no prior VEGFR-targeted therapy" in card.card.summary
    assert "lenvatinib" in card.card.detail
    assert [a.type for a in actions(card.card)] == ["delete"]


def test_a_single_agent_matches_a_not_eligible_combination():
    a = assessment(drivers=[Driver("BRAF", "V600E", "snv")],
                   not_eligible=[TherapyOption("dabrafenib+trametinib",
                                               reason="lenvatinib is a satisfactory alternative")])
    (card,) = cards_for_order(order_for("trametinib"), a, PatientRecord(), "p1")
    assert card.kind == oc.NOT_ELIGIBLE


def test_the_driver_card_absorbs_the_not_eligible_reason():
    a = assessment(not_eligible=[TherapyOption("selpercatinib", reason="no RET fusion")])
    (card,) = cards_for_order(order_for("selpercatinib"), a, PatientRecord(), "p1")
    assert card.kind == oc.DRIVER_MISSING
    assert "no RET fusion" in card.card.detail


# -- rule 4: blocking ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("drug", "warning"),
    [("cabozantinib", Warning("W-BLEED", True, ("cabozantinib",))),
     ("selpercatinib", Warning("W-HTN", True, ("selpercatinib",))),
     ("lenvatinib", Warning("W-PEDS-AGE", True, ("lenvatinib", "sorafenib"))),
     ("lenvatinib", Warning("W-PREG", True)),  # patient-level: no drugs listed
     ("lenvatinib", Warning("W-RET-POINT", True))],
)
def test_a_blocking_warning_for_the_ordered_drug_is_critical(drug, warning):
    (card,) = cards_for_order(order_for(drug), assessment(warnings=[warning]),
                              PatientRecord(), "p1")
    assert (card.kind, card.card.indicator) == (oc.BLOCKING, "critical")
    assert warning.code in card.card.summary
    assert actions(card.card)[0].type == "delete"
    assert "condition-resolved" in {r.code for r in card.card.overrideReasons}


@pytest.mark.parametrize(
    "warning",
    [Warning("W-HTN", True, ("selpercatinib",)),  # blocks another drug
     Warning("W-HTN", False, ("lenvatinib",)),  # not blocking
     Warning("W-DATA-MISSING", True)],  # blocks the classification, not a drug
)
def test_warnings_that_do_not_block_the_ordered_drug_give_no_card(warning):
    assert cards_for_order(order_for("lenvatinib"), assessment(warnings=[warning]),
                           PatientRecord(), "p1") == []


def test_the_blocking_card_absorbs_the_driver_gap_and_keeps_the_testing_suggestion():
    a = assessment(drivers=[Driver("RET", "M918T", "snv")], warnings=[Warning("W-RET-POINT", True)])
    (card,) = cards_for_order(order_for("selpercatinib"), a, PatientRecord(), "p1")
    assert card.kind == oc.BLOCKING
    assert "No RET fusion is documented" in card.card.detail
    assert [x.type for x in actions(card.card)] == ["delete", "create"]


# -- rule 5: preferred ---------------------------------------------------------------------------


def test_a_preferred_order_gets_at_most_an_info_card_and_it_can_be_switched_off():
    a = assessment(on_label=[TherapyOption("lenvatinib", preferred=True, rule="F1")])
    (card,) = cards_for_order(order_for("lenvatinib"), a, PatientRecord(), "p1")
    assert (card.kind, card.card.indicator) == (oc.PREFERRED, "info")
    assert card.card.overrideReasons is None and card.card.suggestions is None
    off = cards_for_order(order_for("lenvatinib"), a, PatientRecord(), "p1",
                          settings=OrderCardSettings(info_cards=False))
    assert off == []


def test_an_on_label_but_not_preferred_order_gets_no_card():
    a = assessment(on_label=[TherapyOption("lenvatinib", preferred=True),
                             TherapyOption("sorafenib")])
    assert cards_for_order(order_for("sorafenib"), a, PatientRecord(), "p1") == []


# -- every card is a valid CDS Hooks card --------------------------------------------------------


def test_summaries_stay_under_140_characters_with_long_inputs():
    a = assessment(rair_criteria=["JS-i", "JS-ii", "JS-iii", "JS-iv", "JS-v"],
                   not_eligible=[TherapyOption("cabozantinib", reason="x" * 300)],
                   warnings=[Warning(f"W-CODE-{i}", True, ("lenvatinib",)) for i in range(9)])
    record = PatientRecord(rai_administrations=[therapeutic(30000)])
    orders = [i131_order(), order_for("cabozantinib"), order_for("lenvatinib")]
    for order in orders:
        for card in cards_for_order(order, a, record, "p1"):
            assert len(card.card.summary) <= SUMMARY_MAX


def test_card_signatures_differ_by_kind_and_summary():
    assert card_signature("a", "warning", "s") != card_signature("b", "warning", "s")
    assert card_signature("a", "warning", "s") != card_signature("a", "warning", "t")


# -- review fixes ----------------------------------------------------------------------------------


def test_a_drug_both_not_eligible_and_in_a_trial_gets_one_card_naming_both():
    a = assessment(drivers=[Driver("BRAF", "V600E", "snv")],
                   not_eligible=[TherapyOption("dabrafenib+trametinib", rule="F5",
                                               reason="lenvatinib is a satisfactory alternative")],
                   trial_only=[TherapyOption("dabrafenib+trametinib", trial="NCT03244956",
                                             rule="F9")])
    (card,) = cards_for_order(order_for("dabrafenib+trametinib"), a, PatientRecord(), "p1")
    assert (card.kind, card.card.indicator) == (oc.NOT_ELIGIBLE, "warning")
    assert "outside a clinical trial" in card.card.summary
    assert "NCT03244956" in card.card.detail and "satisfactory alternative" in card.card.detail
    assert "clinical-trial" in {r.code for r in card.card.overrideReasons}


def test_a_drug_offered_only_in_a_trial_warns():
    a = assessment(drivers=[Driver("BRAF", "V600E", "snv")],
                   trial_only=[TherapyOption("vemurafenib", trial="NCT01947023", rule="F9")])
    (card,) = cards_for_order(order_for("vemurafenib"), a, PatientRecord(), "p1")
    assert (card.kind, card.card.indicator) == (oc.TRIAL_ONLY, "warning")
    assert "NCT01947023" in card.card.summary


def test_order_cards_name_the_guideline_or_label_behind_them():
    record = PatientRecord(rai_administrations=[therapeutic(5550)])
    (i131,) = cards_for_order(i131_order(), assessment(), record, "p1")
    assert i131.card.source.label.startswith("2025 ATA DTC guideline")
    assert "Rule **B8**" in i131.card.detail
    blocked = cards_for_order(order_for("cabozantinib"),
                              assessment(warnings=[Warning("W-BLEED", True, ("cabozantinib",))]),
                              PatientRecord(), "p1")
    assert blocked[0].card.source.label == "US label: CABOMETYX (cabozantinib)"
    (driver,) = cards_for_order(order_for("larotrectinib"), assessment(), PatientRecord(), "p1")
    assert driver.card.source.label.startswith("US label: VITRAKVI")
    # a coded order without text is named by its drug, not "MedicationRequest"
    assert all("MedicationRequest" != s.label.split(": ", 1)[-1]
               for s in driver.card.suggestions)
