"""Card rendering from hand-built assessments (plugin/thyroid/cards/render.py, cards.yaml). The
clinical-UX review fixes are in test_thyroid_cards_review.py; helpers in cards_helpers.py."""

from __future__ import annotations

import pytest
from cards_helpers import AS_OF, by_kind, check_invariants, record, yes

from plugin.thyroid.assessment.model import Assessment, Driver, TherapyOption, Warning
from plugin.thyroid.cards.render import fit_summary, format_activity, load_templates, render
from plugin.thyroid.clinical_model import (
    DataQualityNote,
    Histology,
)


def test_format_activity_mbq_and_mci():
    assert format_activity(5550) == "5,550 MBq (150 mCi)"
    assert format_activity(22237) == "22,237 MBq (601 mCi)"
    assert format_activity(1000) == "1,000 MBq (27.0 mCi)"
    assert format_activity(None) == "unknown activity"


def test_fit_summary_never_exceeds_the_limit():
    assert len(fit_summary("x" * 400)) == 139
    assert fit_summary("  short   text ") == "short text"


def test_status_yes_card_shows_criterion_and_evidence():
    a = yes()
    rendered = render(a, record())
    cards = by_kind(rendered)
    status = cards["rai-status"]
    assert "JS-ii" in status.summary
    assert status.indicator == "warning"  # RECENT_PD, first-line therapy: action needed
    # the next step is said on the status card, point first in the summary
    assert status.summary == ("RAIR (JS-ii), recent PD: first-line systemic therapy, "
                              "lenvatinib preferred")
    # §A4.16: the summary says the decision, the detail opens with the reason
    assert status.detail.startswith("RAI-refractory by JS-ii (B2), with progression within")
    assert "next-step" not in cards
    assert "2024-03-08" in status.detail and "5,550 MBq (150 mCi)" in status.detail
    assert "Post-therapy scan" in status.detail and "TSH 85 mIU/L" in status.detail
    assert "B2" in status.detail
    assert status.source.label.startswith("2019 ATA/EANM/SNMMI/ETA joint statement")
    check_invariants(rendered, a)


def test_status_yes_without_recent_pd_is_info():
    a = yes(progression="NO_PD", action="MONITOR", on_label=[], trial_only=[], not_eligible=[],
            rules_fired=["B2", "D1"])
    rendered = render(a, record())
    assert [rc.kind for rc in rendered] == ["rai-status"]  # one card, no separate next step
    status = rendered[0].card
    assert status.indicator == "info"
    assert status.summary.endswith(": monitor on TSH-suppressive LT4, imaging every 3-12 months")
    assert "D1" in status.detail


def test_next_step_and_therapy_cards_preferred_first():
    a = yes()
    rendered = render(a, record())
    cards = by_kind(rendered)
    assert "lenvatinib preferred" in cards["rai-status"].summary
    therapy = cards["therapy-options"]
    assert therapy.summary.startswith("Systemic options: lenvatinib (preferred)")
    detail = therapy.detail
    assert detail.index("**lenvatinib**") < detail.index("**sorafenib**")
    assert "US label (LENVIMA" in detail
    assert "cabozantinib (no prior VEGFR-targeted therapy)" in detail
    assert [link.url for link in therapy.links] == ["https://clinicaltrials.gov/study/NCT03244956"]
    assert "F5" in detail
    # a lenvatinib W-HTN caution is folded into the therapy card, against the drug
    assert "notes" not in cards and "warning-W-HTN" not in cards
    assert "**W-HTN**" in detail and "Lenvatinib: hypertension" in detail
    assert set(cards) == {"rai-status", "therapy-options"}


def test_not_established_data_needed_card_lists_missing_data():
    a = Assessment(
        evaluation_date=AS_OF,
        rair_status="NOT_ESTABLISHED",
        progression="RECENT_PD",
        action="COMPLETE_DATA",
        warnings=[Warning("W-DATA-MISSING", True)],
        missing_data=["post-therapy whole-body scan report after the 2025-03-01 dose",
                      "uptake pattern"],
        rules_fired=["A5", "C1", "C2"],
    )
    rec = record(scans=[])
    rendered = render(a, rec)
    cards = by_kind(rendered)
    status = cards["rai-status"]
    assert status.indicator == "warning"
    assert "not established" in status.summary
    for item in a.missing_data:
        assert item in status.detail
    assert "What would establish it" in status.detail and "post-therapy whole-body scan" in \
        status.detail
    assert "A5" in status.detail
    # the data-needed card carries COMPLETE_DATA and W-DATA-MISSING itself
    assert "next-step" not in cards
    assert "warning-W-DATA-MISSING" not in cards
    check_invariants(rendered, a)


def test_molecular_testing_card_has_a_create_service_request():
    a = yes(action="ORDER_MOLECULAR_TESTING", suggest_molecular_testing=True, drivers=[],
            on_label=[], trial_only=[], not_eligible=[], warnings=[],
            rules_fired=["B2", "C1", "C2", "E1"])
    rendered = render(a, record(), patient_id="p1")
    card = by_kind(rendered)["molecular-testing"]
    assert card.selectionBehavior == "at-most-one"
    (suggestion,) = card.suggestions
    assert suggestion.isRecommended is True
    (action,) = suggestion.actions
    assert action.type == "create"
    resource = action.resource
    assert resource["resourceType"] == "ServiceRequest"
    assert resource["status"] == "draft" and resource["intent"] == "proposal"
    assert resource["subject"] == {"reference": "Patient/p1"}
    assert "RNA fusion" in resource["code"]["text"]
    for gene in ("BRAF V600E", "RET fusion", "NTRK1/2/3 fusion", "ALK fusion", "HRAS/KRAS/NRAS",
                 "TERT promoter"):
        assert gene in card.detail
    assert "E1" in card.detail
    assert any(r.code == "testing-in-progress" for r in card.overrideReasons)
    check_invariants(rendered, a)


def test_blocking_warning_is_a_critical_card():
    a = yes(drivers=[Driver("RET", "fusion", "fusion", "CCDC6")],
            on_label=[TherapyOption("selpercatinib", preferred=True, rule="F2"),
                      TherapyOption("pralsetinib", preferred=True, rule="F2")],
            trial_only=[], not_eligible=[],
            warnings=[Warning("W-HTN", True, ("selpercatinib",), rule="F2"),
                      Warning("W-INFECTION", False, ("pralsetinib",))],
            rules_fired=["B2", "C1", "C2", "F2"])
    rendered = render(a, record())
    cards = by_kind(rendered)
    critical = cards["warning-W-HTN"]
    assert critical.indicator == "critical"
    assert "selpercatinib" in critical.summary
    codes = {r.code for r in critical.overrideReasons}
    assert {"enrolled-in-trial", "discussed-at-mdt"} <= codes
    # the blocked drug is not put forward as the next step: it is named as blocked
    assert cards["rai-status"].summary.endswith(
        "pralsetinib preferred; selpercatinib blocked")
    assert critical.source.label.startswith("US label: RETEVMO")
    assert "**selpercatinib** (preferred, F2): **blocked:** W-HTN" in \
        cards["therapy-options"].detail
    # pralsetinib's boxed warning is in its label line and a caution on the therapy card,
    # not a card of its own (it concerns an option, not something the patient has)
    assert "warning-W-INFECTION" not in cards
    assert "**W-INFECTION**" in cards["therapy-options"].detail
    # critical cards come first
    assert [rc.kind for rc in rendered][0] == "warning-W-HTN"
    check_invariants(rendered, a)


@pytest.mark.parametrize(("histology", "indicator"), [(Histology.ATC, "critical"),
                                                      (Histology.MTC, "warning")])
def test_not_applicable_route_card(histology, indicator):
    a = Assessment(evaluation_date=AS_OF, rair_status="NOT_APPLICABLE",
                   action="MDT_REVIEW_REQUIRED", rules_fired=["A1b"])
    rendered = render(a, record(histology=histology, rai_administrations=[], scans=[]))
    cards = by_kind(rendered)
    assert cards["rai-status"].indicator == indicator
    assert histology.name in {"ATC", "MTC"}
    assert ("Anaplastic" if histology == Histology.ATC else "Medullary") in \
        cards["rai-status"].summary
    check_invariants(rendered, a)


def test_data_quality_card_for_notes_and_unavailable_keys():
    a = yes(warnings=[Warning("W-DATA-CONFLICT", False)], rules_fired=["B2", "A6"])
    rec = record(data_quality=[DataQualityNote("MedicationAdministration/r9",
                                               "activity has no unit", "unit of RAI activity")])
    rendered = render(a, rec, unavailable=("medicationStatements",))
    cards = by_kind(rendered)
    card = cards["data-quality"]
    assert card.indicator == "warning"
    assert "medicationStatements" in card.summary
    assert "MedicationAdministration/r9: activity has no unit" in card.detail
    # W-DATA-CONFLICT is said on the data-quality card, not on a second card
    assert "W-DATA-CONFLICT" in card.detail and "warning-W-DATA-CONFLICT" not in cards
    check_invariants(rendered, a)


def test_every_warning_code_has_a_template_and_every_source_key_resolves():
    t = load_templates()
    codes = {"W-HTN", "W-QT", "W-BLEED", "W-PREG", "W-PEDS-AGE", "W-RET-POINT", "W-BRAF-NONV600E",
             "W-IODINE", "W-TSH", "W-DATA-MISSING", "W-DATA-CONFLICT", "W-FRAMEWORK-DISCORDANCE",
             "W-TG-ONLY", "W-LATE-PD", "W-ACCEL", "W-INFECTION", "W-OFF-LABEL", "W-LABEL-REGION",
             "W-WOUND", "W-THRESHOLD-EQUAL"}
    assert codes <= set(t["warnings"])
    keys = set(t["sources"])
    assert {f"S{i}" for i in range(23)} <= keys
    for rule, info in t["rules"].items():
        assert set(info["sources"]) <= keys, rule
    for drug, info in t["drugs"].items():
        assert info["source"] in keys, drug
    for code, info in t["warnings"].items():
        assert set(info.get("sources", [])) <= keys, code


@pytest.mark.parametrize("code", ["W-HTN", "W-BLEED", "W-PREG", "W-PEDS-AGE", "W-RET-POINT",
                                  "W-IODINE", "W-TSH", "W-UNKNOWN-CODE"])
def test_every_blocking_warning_renders_within_limits(code):
    a = yes(warnings=[Warning(code, True, ("selpercatinib", "pralsetinib", "lenvatinib"))],
            action="MDT_REVIEW_REQUIRED")
    rendered = render(a, record())
    card = by_kind(rendered)[f"warning-{code}"]
    assert card.indicator == "critical"
    assert code in card.detail
    check_invariants(rendered, a)
