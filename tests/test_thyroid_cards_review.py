"""Card rendering, the review fixes (clinical UX): one line per drug, grouped reasons, one card per
warning code, folded notes, the data-quality card, codes defined, few cards per sample."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from cards_helpers import AS_OF, by_kind, check_invariants, record, yes

from plugin.thyroid.assessment.model import Assessment, TherapyOption, Warning
from plugin.thyroid.cards.render import render
from plugin.thyroid.clinical_model import (
    DataQualityNote,
)

# -- review fixes (clinical UX) -----------------------------------------------------------------


SAMPLES = Path(__file__).resolve().parents[1] / "fhir_samples" / "thyroid"


def test_a_drug_in_two_lists_is_one_line_with_both_facts_and_not_offered():
    a = yes(not_eligible=[TherapyOption("dabrafenib+trametinib", rule="F5",
                                        reason="lenvatinib is a satisfactory alternative"),
                          TherapyOption("cabozantinib", reason="no prior VEGFR-targeted therapy",
                                        rule="G1")],
            trial_only=[TherapyOption("dabrafenib+trametinib", trial="NCT03244956", rule="F9")],
            on_label=[TherapyOption("lenvatinib", preferred=True, rule="F1"),
                      TherapyOption("dabrafenib+trametinib", rule="F5")])
    rendered = render(a, record())
    therapy = by_kind(rendered)["therapy-options"]
    lines = [x for x in therapy.detail.splitlines() if "dabrafenib+trametinib" in x]
    assert len(lines) == 1, lines
    (line,) = lines
    assert "NCT03244956" in line and "lenvatinib is a satisfactory alternative" in line
    # listed as not eligible: never put forward as an option in the summaries
    assert "dabrafenib" not in therapy.summary
    assert "dabrafenib" not in by_kind(rendered)["rai-status"].summary
    check_invariants(rendered, a)


def test_not_eligible_drugs_are_grouped_by_reason():
    a = yes(not_eligible=[TherapyOption(d, reason="no NTRK fusion detected", rule="F1")
                          for d in ("entrectinib", "larotrectinib", "repotrectinib")])
    detail = by_kind(render(a, record()))["therapy-options"].detail
    assert "entrectinib, larotrectinib, repotrectinib (no NTRK fusion detected)" in detail


def test_one_card_per_warning_code_blocking_and_not():
    a = yes(action="SYSTEMIC_LATER_LINE",
            on_label=[TherapyOption("cabozantinib", preferred=True, rule="G1"),
                      TherapyOption("sorafenib", rule="F1")], trial_only=[], not_eligible=[],
            warnings=[Warning("W-BLEED", True, ("cabozantinib",), rule="G1"),
                      Warning("W-BLEED", False, ("sorafenib",), rule="F1")])
    rendered = render(a, record())
    bleed = [rc for rc in rendered if rc.kind == "warning-W-BLEED"]
    assert len(bleed) == 1 and bleed[0].card.indicator == "critical"
    assert bleed[0].card.summary.startswith("Cabozantinib blocked")
    assert "sorafenib" in bleed[0].card.detail
    assert "caution: W-BLEED" in by_kind(rendered)["therapy-options"].detail
    check_invariants(rendered, a)


def test_the_data_needed_card_names_the_uninterpretable_scan():
    a = Assessment(evaluation_date=AS_OF, rair_status="NOT_ESTABLISHED", progression="RECENT_PD",
                   action="COMPLETE_DATA", rules_fired=["A3", "C1", "C2"],
                   warnings=[Warning("W-DATA-MISSING", True), Warning("W-IODINE", True)],
                   missing_data=["a scan not preceded by iodinated contrast"])
    rendered = render(a, record())
    assert [rc.kind for rc in rendered] == ["warning-W-IODINE", "rai-status"]
    card = by_kind(rendered)["rai-status"]
    assert "iodinated contrast" in card.summary and card.indicator == "warning"
    assert "A3" in card.detail
    check_invariants(rendered, a)


def test_classification_notes_fold_into_the_status_card():
    a = Assessment(evaluation_date=AS_OF, rair_status="NO", progression="NO_PD",
                   action="MONITOR", rules_fired=["B5b", "B6"],
                   warnings=[Warning("W-FRAMEWORK-DISCORDANCE", False, rule="B5b")])
    rendered = render(a, record())
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
    rendered = render(yes(), record(data_quality=notes))
    detail = by_kind(rendered)["data-quality"].detail
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
