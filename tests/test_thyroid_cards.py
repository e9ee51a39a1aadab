"""Card rendering from hand-built assessments (plugin/thyroid/cards/render.py, cards.yaml)."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from cds_hooks.cards import CdsResponse
from plugin.thyroid.assessment.model import Assessment, Driver, TherapyOption, Warning
from plugin.thyroid.cards.render import fit_summary, format_activity, load_templates, render
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
    _check_invariants(rendered, a)


def test_status_yes_without_recent_pd_is_info():
    a = _yes(progression="NO_PD", action="MONITOR", on_label=[], trial_only=[], not_eligible=[],
             rules_fired=["B2", "D1"])
    rendered = render(a, _record())
    assert [rc.kind for rc in rendered] == ["rai-status"]  # one card, no separate next step
    status = rendered[0].card
    assert status.indicator == "info"
    assert status.summary.endswith(": monitor on TSH-suppressive LT4, imaging every 3-12 months")
    assert "D1" in status.detail


def test_next_step_and_therapy_cards_preferred_first():
    a = _yes()
    rendered = render(a, _record())
    cards = _by_kind(rendered)
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
    cards = _by_kind(rendered)
    card = cards["data-quality"]
    assert card.indicator == "warning"
    assert "medicationStatements" in card.summary
    assert "MedicationAdministration/r9: activity has no unit" in card.detail
    # W-DATA-CONFLICT is said on the data-quality card, not on a second card
    assert "W-DATA-CONFLICT" in card.detail and "warning-W-DATA-CONFLICT" not in cards
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


# -- review fixes (clinical UX) -----------------------------------------------------------------

import json  # noqa: E402
from pathlib import Path  # noqa: E402

import yaml  # noqa: E402

SAMPLES = Path(__file__).resolve().parents[1] / "fhir_samples" / "thyroid"


def test_a_drug_in_two_lists_is_one_line_with_both_facts_and_not_offered():
    a = _yes(not_eligible=[TherapyOption("dabrafenib+trametinib", rule="F5",
                                         reason="lenvatinib is a satisfactory alternative"),
                           TherapyOption("cabozantinib", reason="no prior VEGFR-targeted therapy",
                                         rule="G1")],
             trial_only=[TherapyOption("dabrafenib+trametinib", trial="NCT03244956", rule="F9")],
             on_label=[TherapyOption("lenvatinib", preferred=True, rule="F1"),
                       TherapyOption("dabrafenib+trametinib", rule="F5")])
    rendered = render(a, _record())
    therapy = _by_kind(rendered)["therapy-options"]
    lines = [x for x in therapy.detail.splitlines() if "dabrafenib+trametinib" in x]
    assert len(lines) == 1, lines
    (line,) = lines
    assert "NCT03244956" in line and "lenvatinib is a satisfactory alternative" in line
    # listed as not eligible: never put forward as an option in the summaries
    assert "dabrafenib" not in therapy.summary
    assert "dabrafenib" not in _by_kind(rendered)["rai-status"].summary
    _check_invariants(rendered, a)


def test_not_eligible_drugs_are_grouped_by_reason():
    a = _yes(not_eligible=[TherapyOption(d, reason="no NTRK fusion detected", rule="F1")
                           for d in ("entrectinib", "larotrectinib", "repotrectinib")])
    detail = _by_kind(render(a, _record()))["therapy-options"].detail
    assert "entrectinib, larotrectinib, repotrectinib (no NTRK fusion detected)" in detail


def test_one_card_per_warning_code_blocking_and_not():
    a = _yes(action="SYSTEMIC_LATER_LINE",
             on_label=[TherapyOption("cabozantinib", preferred=True, rule="G1"),
                       TherapyOption("sorafenib", rule="F1")], trial_only=[], not_eligible=[],
             warnings=[Warning("W-BLEED", True, ("cabozantinib",), rule="G1"),
                       Warning("W-BLEED", False, ("sorafenib",), rule="F1")])
    rendered = render(a, _record())
    bleed = [rc for rc in rendered if rc.kind == "warning-W-BLEED"]
    assert len(bleed) == 1 and bleed[0].card.indicator == "critical"
    assert bleed[0].card.summary.startswith("Cabozantinib blocked")
    assert "sorafenib" in bleed[0].card.detail
    assert "caution: W-BLEED" in _by_kind(rendered)["therapy-options"].detail
    _check_invariants(rendered, a)


def test_the_data_needed_card_names_the_uninterpretable_scan():
    a = Assessment(evaluation_date=AS_OF, rair_status="NOT_ESTABLISHED", progression="RECENT_PD",
                   action="COMPLETE_DATA", rules_fired=["A3", "C1", "C2"],
                   warnings=[Warning("W-DATA-MISSING", True), Warning("W-IODINE", True)],
                   missing_data=["a scan not preceded by iodinated contrast"])
    rendered = render(a, _record())
    assert [rc.kind for rc in rendered] == ["warning-W-IODINE", "rai-status"]
    card = _by_kind(rendered)["rai-status"]
    assert "iodinated contrast" in card.summary and card.indicator == "warning"
    assert "A3" in card.detail
    _check_invariants(rendered, a)


def test_classification_notes_fold_into_the_status_card():
    a = Assessment(evaluation_date=AS_OF, rair_status="NO", progression="NO_PD",
                   action="MONITOR", rules_fired=["B5b", "B6"],
                   warnings=[Warning("W-FRAMEWORK-DISCORDANCE", False, rule="B5b")])
    rendered = render(a, _record())
    assert [rc.kind for rc in rendered] == ["rai-status"]
    assert "W-FRAMEWORK-DISCORDANCE" in rendered[0].card.detail
    assert rendered[0].card.indicator == "info"


def test_the_data_quality_card_shows_references_and_reasons_only():
    notes = [
        DataQualityNote("MedicationAdministration/r9", "activity has no unit",
                        "unit of RAI activity (MedicationAdministration/r9)"),
        DataQualityNote("https://ehr.example.org/fhir/Observation?name=Jane+Doe", "could not be"
                        " read"),
        DataQualityNote("Observation/o2", "gene coding not recognised: 'Jane Doe 1960-01-01'"),
        DataQualityNote("Observation/o3", "status 987654321 not counted [x](https://evil.example)"),
    ]
    rendered = render(_yes(), _record(data_quality=notes))
    detail = _by_kind(rendered)["data-quality"].detail
    assert "MedicationAdministration/r9: activity has no unit" in detail
    assert "Jane" not in detail and "987654321" not in detail
    assert "](https://evil" not in detail


def test_every_code_the_card_yaml_uses_is_defined_in_its_code_system():
    concepts = json.loads((SAMPLES / "CodeSystem-rair-concepts.json").read_text())
    reasons = json.loads((SAMPLES / "CodeSystem-rair-override-reasons.json").read_text())
    defined = {concepts["url"]: {c["code"] for c in concepts["concept"]},
               reasons["url"]: {c["code"] for c in reasons["concept"]}}
    used: list[tuple[str, str]] = []

    def walk(node):
        if isinstance(node, dict):
            if node.get("system") == concepts["url"] and "code" in node:
                used.append((concepts["url"], node["code"]))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    for name in ("cards.yaml", "order_cards.yaml"):
        data = yaml.safe_load((SAMPLES.parents[1] / "rules" / "thyroid" / name).read_text())
        assert data["override_system"] == reasons["url"], name
        used += [(data["override_system"], r["code"])
                 for group in data["override_reasons"].values() for r in group]
        walk(data)
        if "concept_system" in data:
            assert data["concept_system"] == concepts["url"]
            used += [(concepts["url"], s["code"]) for s in data["suggestions"].values()
                     if "code" in s]
    assert {s for s, _ in used} == set(defined)
    missing = [(s, c) for s, c in used if c not in defined[s]]
    assert not missing, missing
    assert reasons["count"] == len(reasons["concept"])


def test_every_sample_renders_few_cards_and_no_identifier_in_a_summary(make_app,
                                                                        assert_valid_response):
    app = make_app(PLUGINS=["plugin.thyroid"], EVALUATION_DATE="2026-11-27")
    client = app.test_client()
    for path in sorted(SAMPLES.glob("patient-view.*.json")):
        request = json.loads(path.read_text())
        response = client.post("/cds-services/rair-patient-view", json=request)
        assert response.status_code == 200, path.name
        body = response.get_json()
        assert_valid_response(body)
        cards = body["cards"]
        assert 1 <= len(cards) <= 4, (path.name, [c["summary"] for c in cards])
        ids = {request["context"]["patientId"]}
        for value in request["prefetch"].values():
            for entry in (value or {}).get("entry", []) if isinstance(value, dict) else []:
                if entry.get("resource", {}).get("id"):
                    ids.add(entry["resource"]["id"])
            if isinstance(value, dict) and value.get("id"):
                ids.add(value["id"])
        summaries = [c["summary"] for c in cards]
        assert len(set(summaries)) == len(summaries), path.name
        for summary in summaries:
            assert "Patient/" not in summary and not any(i in summary for i in ids), summary
        for card in cards:
            assert card["indicator"] != "critical" or card.get("overrideReasons"), card
            for link in card.get("links", []):
                assert link["url"].startswith("https://"), link
