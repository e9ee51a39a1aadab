"""Card rendering from hand-built assessments (plugin/thyroid/cards.py, cards.yaml)."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from cds_hooks.cards import CdsResponse
from plugin.thyroid.assessment import Assessment, Driver, TherapyOption, Warning
from plugin.thyroid.cards import fit_summary, format_activity, load_templates, render
from plugin.thyroid.clinical_model import (
    CancerDiagnosis,
    DataQualityNote,
    Histology,
    LesionSum,
    PatientRecord,
    RadioiodineAdministration,
    RadioiodineScan,
    RaiIntent,
    ScanKind,
    Uptake,
)

AS_OF = dt.date(2026, 11, 27)
RULE_ID = re.compile(r"\b(A[1-6]b?|B[1-9]b?|C[1-4][abc]?|D[1-5]|E[1-6]b?|F[1-9]|G[1-5]|H[1-5])\b")


def _record(histology=Histology.PTC, **extra):
    rec = PatientRecord(
        patient_source="Patient/p1",
        birth_date=dt.date(1962, 4, 18),
        diagnoses=[CancerDiagnosis("Condition/c1", histology)],
        rai_administrations=[
            RadioiodineAdministration("MedicationAdministration/r1", dt.date(2024, 3, 1), 5550,
                                      RaiIntent.THERAPEUTIC, True)
        ],
        scans=[RadioiodineScan("Observation/s1", dt.date(2024, 3, 8), ScanKind.POST_THERAPY,
                               Uptake.NO_LESIONS, 85.0)],
        lesion_sums=[LesionSum("Observation/l1", dt.date(2025, 1, 15), 30.0),
                     LesionSum("Observation/l2", dt.date(2026, 6, 10), 38.0)],
    )
    for key, value in extra.items():
        setattr(rec, key, value)
    return rec


def _yes(**overrides):
    a = Assessment(
        evaluation_date=AS_OF,
        rair_status="YES",
        rair_criteria=["JS-ii"],
        progression="RECENT_PD",
        action="SYSTEMIC_FIRST_LINE",
        drivers=[Driver("BRAF", "V600E", "snv")],
        on_label=[TherapyOption("sorafenib", rule="F5"),
                  TherapyOption("lenvatinib", preferred=True, rule="F5")],
        trial_only=[TherapyOption("dabrafenib+trametinib", trial="NCT03244956", rule="F9")],
        not_eligible=[TherapyOption("cabozantinib", reason="no prior VEGFR-targeted therapy",
                                    rule="G1")],
        warnings=[Warning("W-HTN", False, ("lenvatinib",), rule="F1")],
        rules_fired=["B2", "C1", "C2", "F5"],
        knowledge_version="test",
        evidence={"B2": ["Post-therapy scan 2024-03-08: no uptake (TSH 85 mIU/L)"],
                  "C1": ["Sum 30 mm -> 38 mm (+27 %, +8 mm) on 2026-06-10"]},
        sources={"B2": ["Observation/s1"]},
    )
    for key, value in overrides.items():
        setattr(a, key, value)
    return a


def _by_kind(rendered):
    return {rc.kind: rc.card for rc in rendered}


def _check_invariants(rendered, assessment):
    templates = load_templates()
    disclaimer = templates["disclaimer"].split(":")[0]
    for rc in rendered:
        card = rc.card
        assert len(card.summary) < 140, card.summary
        assert card.source.label.strip()
        cited = RULE_ID.search(card.detail or "") or "UNKNOWN-CODE" in rc.kind
        assert card.detail and cited, (rc.kind, card.detail)
        assert disclaimer in card.detail
        if card.indicator in ("warning", "critical"):
            assert card.overrideReasons, rc.kind
    body = CdsResponse(cards=[rc.card for rc in rendered],
                       extension={"rair-cds": {"assessment": assessment.to_json()}}).to_json()
    assert len(body["cards"]) == len(rendered)


def test_format_activity_mbq_and_mci():
    assert format_activity(5550) == "5,550 MBq (150 mCi)"
    assert format_activity(22237) == "22,237 MBq (601 mCi)"
    assert format_activity(1000) == "1,000 MBq (27.0 mCi)"
    assert format_activity(None) == "unknown activity"


def test_fit_summary_never_exceeds_the_limit():
    assert len(fit_summary("x" * 400)) == 139
    assert fit_summary("  short   text ") == "short text"


def test_status_yes_card_shows_criterion_and_evidence():
    a = _yes()
    rendered = render(a, _record())
    cards = _by_kind(rendered)
    status = cards["rai-status"]
    assert "JS-ii" in status.summary
    assert status.indicator == "warning"  # RECENT_PD: action needed
    assert "2024-03-08" in status.detail and "5,550 MBq (150 mCi)" in status.detail
    assert "post-therapy whole-body scan" in status.detail and "TSH 85 mIU/L" in status.detail
    assert "Observation/s1" in status.detail
    assert "B2" in status.detail
    assert status.source.label.startswith("2019 ATA/EANM/SNMMI/ETA joint statement")
    _check_invariants(rendered, a)


def test_status_yes_without_recent_pd_is_info():
    a = _yes(progression="NO_PD", action="MONITOR", on_label=[], trial_only=[], not_eligible=[],
             rules_fired=["B2", "D1"])
    cards = _by_kind(render(a, _record()))
    assert cards["rai-status"].indicator == "info"
    assert cards["next-step"].summary.startswith("Next step: monitor")
    assert "D1" in cards["next-step"].detail


def test_next_step_and_therapy_cards_preferred_first():
    a = _yes()
    rendered = render(a, _record())
    cards = _by_kind(rendered)
    assert "lenvatinib" in cards["next-step"].summary
    therapy = cards["therapy-options"]
    assert therapy.summary.startswith("Systemic options: lenvatinib (preferred)")
    detail = therapy.detail
    assert detail.index("**lenvatinib**") < detail.index("**sorafenib**")
    assert "US label (LENVIMA" in detail
    assert "cabozantinib: no prior VEGFR-targeted therapy" in detail
    assert [link.url for link in therapy.links] == ["https://clinicaltrials.gov/study/NCT03244956"]
    assert "F5" in detail
    # a lenvatinib W-HTN note is informational: it goes to the notes card
    assert "notes" in cards and "W-HTN" in cards["notes"].detail


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
    rec = _record(scans=[])
    rendered = render(a, rec)
    cards = _by_kind(rendered)
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
    _check_invariants(rendered, a)


def test_molecular_testing_card_has_a_create_service_request():
    a = _yes(action="ORDER_MOLECULAR_TESTING", suggest_molecular_testing=True, drivers=[],
             on_label=[], trial_only=[], not_eligible=[], warnings=[],
             rules_fired=["B2", "C1", "C2", "E1"])
    rendered = render(a, _record(), patient_id="p1")
    card = _by_kind(rendered)["molecular-testing"]
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
    _check_invariants(rendered, a)


def test_blocking_warning_is_a_critical_card():
    a = _yes(drivers=[Driver("RET", "fusion", "fusion", "CCDC6")],
             on_label=[TherapyOption("selpercatinib", preferred=True, rule="F2"),
                       TherapyOption("pralsetinib", preferred=True, rule="F2")],
             trial_only=[], not_eligible=[],
             warnings=[Warning("W-HTN", True, ("selpercatinib",), rule="F2"),
                       Warning("W-INFECTION", False, ("pralsetinib",))],
             rules_fired=["B2", "C1", "C2", "F2"])
    rendered = render(a, _record())
    cards = _by_kind(rendered)
    critical = cards["warning-W-HTN"]
    assert critical.indicator == "critical"
    assert "selpercatinib" in critical.summary
    codes = {r.code for r in critical.overrideReasons}
    assert {"enrolled-in-trial", "discussed-at-mdt"} <= codes
    # the blocked drug is not put forward as the next step: it is named as blocked
    assert cards["next-step"].summary.endswith(
        "preferred: pralsetinib; selpercatinib blocked (see critical card)")
    assert critical.source.label.startswith("US label: RETEVMO")
    assert "BLOCKED for this patient" in cards["therapy-options"].detail
    # pralsetinib's boxed warning is its own warning card
    assert cards["warning-W-INFECTION"].indicator == "warning"
    # order: status, blocking warnings, next step, ...
    kinds = [rc.kind for rc in rendered]
    assert kinds.index("warning-W-HTN") < kinds.index("next-step")
    _check_invariants(rendered, a)


@pytest.mark.parametrize(("histology", "indicator"), [(Histology.ATC, "critical"),
                                                      (Histology.MTC, "warning")])
def test_not_applicable_route_card(histology, indicator):
    a = Assessment(evaluation_date=AS_OF, rair_status="NOT_APPLICABLE",
                   action="MDT_REVIEW_REQUIRED", rules_fired=["A1b"])
    rendered = render(a, _record(histology=histology, rai_administrations=[], scans=[]))
    cards = _by_kind(rendered)
    assert cards["rai-status"].indicator == indicator
    assert histology.name in {"ATC", "MTC"}
    assert ("Anaplastic" if histology == Histology.ATC else "Medullary") in \
        cards["rai-status"].summary
    _check_invariants(rendered, a)


def test_data_quality_card_for_notes_and_unavailable_keys():
    a = _yes(warnings=[Warning("W-DATA-CONFLICT", False)], rules_fired=["B2", "A6"])
    rec = _record(data_quality=[DataQualityNote("MedicationAdministration/r9",
                                                "activity has no unit", "unit of RAI activity")])
    rendered = render(a, rec, unavailable=("medicationStatements",))
    card = _by_kind(rendered)["data-quality"]
    assert card.indicator == "warning"
    assert "medicationStatements" in card.summary
    assert "MedicationAdministration/r9: activity has no unit" in card.detail
    _check_invariants(rendered, a)


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
    a = _yes(warnings=[Warning(code, True, ("selpercatinib", "pralsetinib", "lenvatinib"))],
             action="MDT_REVIEW_REQUIRED")
    rendered = render(a, _record())
    card = _by_kind(rendered)[f"warning-{code}"]
    assert card.indicator == "critical"
    assert code in card.detail
    _check_invariants(rendered, a)
