"""Order hooks, unit level, rules 2-5 for drug orders (targeted drug without its driver, not
eligible, blocking, preferred), and every order card a valid CDS Hooks card; hand-built
assessments and records (tests/orders_helpers.py)."""

from __future__ import annotations

import pytest
from orders_helpers import actions, assessment, i131_order, order_for, therapeutic

from cds_hooks.cards import SUMMARY_MAX
from plugin.thyroid.assessment.model import Driver, TherapyOption, Warning
from plugin.thyroid.clinical_model import (
    GeneTested,
    PatientRecord,
    Variant,
    VariantKind,
)
from plugin.thyroid.orders import cards as oc
from plugin.thyroid.orders.alert_cache import card_signature
from plugin.thyroid.orders.cards import OrderCardSettings, cards_for_order

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



def test_the_not_eligible_card_names_every_usable_on_label_option_preferred_first():
    """The options in the order card are the patient-view card's: sorafenib is on label too; a
    drug under a non-fixable block is not offered as an alternative."""
    a = assessment(on_label=[TherapyOption("sorafenib"),
                             TherapyOption("lenvatinib", preferred=True)],
                   not_eligible=[TherapyOption("cabozantinib", reason="no prior VEGFR-targeted "
                                               "therapy", rule="G1")])
    (card,) = cards_for_order(order_for("cabozantinib"), a, PatientRecord(), "p1")
    assert ("On-label options in the assessment: lenvatinib (preferred), sorafenib."
            in card.card.detail)

    bleeding = Warning("W-BLEED", True, drugs=("sorafenib",))
    (card,) = cards_for_order(order_for("cabozantinib"),
                              assessment(on_label=a.on_label, not_eligible=a.not_eligible,
                                         warnings=[bleeding]), PatientRecord(), "p1")
    assert "On-label options in the assessment: lenvatinib (preferred)." in card.card.detail

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
    ("drug", "warning", "label", "rule"),
    [("sorafenib", Warning("W-BLEED", True, ("sorafenib",)), "NEXAVAR", "F1"),
     ("cabozantinib", Warning("W-BLEED", True, ("cabozantinib",)), "CABOMETYX", "G1"),
     ("pralsetinib", Warning("W-HTN", True, ("pralsetinib",)), "GAVRETO", "F2"),
     ("lenvatinib", Warning("W-PREG", True), "LENVIMA", "H4"),
     ("lenvatinib", Warning("W-PEDS-AGE", True, ("lenvatinib",)), "FDA/EMA", "H1")],
)
def test_a_blocking_card_cites_the_ordered_drug_s_label_and_the_rule_behind_it(
        drug, warning, label, rule):
    """A clinical read found a sorafenib bleeding block citing CABOMETYX and rule G1 (the
    cabozantinib rule), and a lenvatinib pregnancy block citing RETEVMO."""
    listed = {"sorafenib": "F1", "cabozantinib": "G1", "pralsetinib": "F2", "lenvatinib": "F1"}
    a = assessment(on_label=[TherapyOption(d, rule=r) for d, r in listed.items()],
                   warnings=[warning])
    (card,) = cards_for_order(order_for(drug), a, PatientRecord(), "p1")
    assert card.kind == oc.BLOCKING
    assert label in card.card.source.label
    assert card.rules == (rule,)
    assert f"Rule **{rule}**" in card.card.detail

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
