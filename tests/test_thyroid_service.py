"""The patient-view service (plugin/thyroid/patient_view.py), plugin entry points and the CLI."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

import pytest

from cds_hooks.prefetch import check_template
from cds_hooks.service import CdsService, HookCall
from plugin.thyroid import patient_view as pv
from plugin.thyroid.assessment.model import Assessment, Warning
from plugin.thyroid.clinical_model import PatientRecord
from plugin.thyroid.knowledge.loader import load_knowledge
from plugin.thyroid.pipeline import flatten_prefetch
from plugin.thyroid.prefetch import prefetch_templates
from plugin.thyroid.samples import evaluation_date, sample_index

REPO = Path(__file__).resolve().parents[1]
AS_OF = dt.date(2026, 11, 27)


def _stub_assessor(seen):
    def assessor(record, as_of):
        seen.append((record, as_of))
        return Assessment(evaluation_date=as_of, rair_status="YES", rair_criteria=["JS-ii"],
                          progression="NO_PD", action="MONITOR", rules_fired=["B2", "D1"],
                          warnings=[Warning("W-LATE-PD", False)])
    return assessor


def _call(prefetch, missing=()):
    return HookCall(service_id=pv.SERVICE_ID, hook="patient-view", hook_instance="h1",
                    context={"patientId": "p1", "userId": "Practitioner/x"}, prefetch=prefetch,
                    evaluation_date=AS_OF, missing_prefetch=tuple(missing))


def test_definition_uses_only_spec_tokens_and_standard_searches():
    d = pv.definition(load_knowledge())
    assert d.id == "rair-patient-view" and d.hook == "patient-view"
    assert d.hook_version == "1.0" and d.version
    assert d.title and d.description and d.usage_requirements
    assert set(d.needs_data) == {"patient", "conditions", "observations"}
    assert set(d.needs_data) <= set(d.prefetch)
    for key, template in d.prefetch.items():
        check_template(template)
        assert "{{context.patientId}}" in template, key
    # issue 11: only the codes the reader uses, from codes.yaml, as system|code tokens
    template = d.prefetch["observations"]
    assert template.startswith("Observation?patient=Patient/{{context.patientId}}&code=")
    assert template.endswith("&_count=200")
    tokens = template.split("&code=")[1].split("&")[0].split(",")
    assert "http://loinc.org|3013-0" in tokens  # thyroglobulin
    assert "http://loinc.org|69548-6" in tokens  # genetic variant assessment
    assert "https://rair-cds.org/fhir/CodeSystem/concepts|rai-wbs" in tokens
    assert "http://loinc.org|2345-7" not in tokens  # glucose: no rule reads it
    assert all(t.count("|") == 1 for t in tokens) and len(tokens) == len(set(tokens))
    entry = d.to_discovery_json()
    assert entry["hookVersion"] == "1.0" and "usageRequirements" in entry


def test_flatten_prefetch_unpacks_dedupes_and_notes_operation_outcomes():
    patient = {"resourceType": "Patient", "id": "p1"}
    obs = {"resourceType": "Observation", "id": "o1"}
    prefetch = {
        "patient": patient,
        "observations": {"resourceType": "Bundle", "type": "searchset", "entry": [
            {"resource": obs},
            {"resource": obs},
            {"resource": {"resourceType": "OperationOutcome",
                          "issue": [{"severity": "warning", "code": "too-costly",
                                     "diagnostics": "Jane Doe MRN 12345678: results truncated"}]},
             "search": {"mode": "outcome"}},
        ]},
        "conditions": None,
        "procedures": {"resourceType": "OperationOutcome", "issue": [{"code": "forbidden"}]},
    }
    resources, notes = flatten_prefetch(prefetch)
    assert resources == [patient, obs]
    assert len(notes) == 2
    assert "warning/too-costly" in notes[0].message
    assert notes[0].source == "prefetch 'observations'"
    assert "forbidden" in notes[1].message
    # the server's free text may echo patient data: never copied into a note (it reaches a card)
    assert not any("Jane" in n.message or "12345678" in n.message for n in notes)


def test_evaluate_returns_cards_extension_and_card_kinds():
    seen = []
    service = pv.PatientViewService(reader=lambda resources: PatientRecord(
        patient_source="Patient/p1"), assessor=_stub_assessor(seen))
    assert isinstance(service, CdsService)
    result = service.evaluate(_call({"patient": {"resourceType": "Patient", "id": "p1"}}))
    assert seen and seen[0][1] == AS_OF
    assessment = result.extension["rair-cds"]["assessment"]
    assert assessment["rairStatus"] == "YES" and assessment["evaluationDate"] == "2026-11-27"
    assert result.cards
    assert set(result.card_kinds) == {c.uuid for c in result.cards}
    assert "rai-status" in result.card_kinds.values()


def test_missing_prefetch_keys_are_listed_and_shown():
    service = pv.PatientViewService(reader=lambda resources: PatientRecord(),
                                    assessor=_stub_assessor([]))
    result = service.evaluate(_call({"patient": {"resourceType": "Patient", "id": "p1"}},
                                    missing=("medicationAdministrations",)))
    missing = result.extension["rair-cds"]["assessment"]["missingData"]
    assert any("MedicationAdministration" in m for m in missing)
    kinds = result.card_kinds
    dq = [c for c in result.cards if kinds[c.uuid] == "data-quality"]
    assert dq and dq[0].indicator == "warning"
    assert "medicationAdministrations" in dq[0].summary


def test_plugin_exposes_create_services_and_register_cli():
    import argparse

    import plugin.thyroid as thyroid

    services = thyroid.create_services({})
    ids = [s.definition.id for s in services]
    assert ids[0] == "rair-patient-view"
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command")
    thyroid.register_cli(sub)
    args = parser.parse_args(["evaluate", "x.json", "--as-of", "2026-11-27", "--format", "json"])
    assert args.as_of == AS_OF and args.format == "json" and callable(args.func)


def test_sample_index_lists_the_files():
    rows = sample_index()
    assert len(rows) >= 16
    assert evaluation_date() == "2026-11-27"
    names = [r["name"] for r in rows]
    assert len(names) == len(set(names))
    for row in rows:
        assert {"name", "title", "bundle", "request", "expected"} <= set(row)
        request = json.loads(Path(row["request"]).read_text(encoding="utf-8"))
        assert request["hook"] == "patient-view"
        assert set(request["prefetch"]) == set(prefetch_templates(load_knowledge()))
        assert request["prefetch"]["patient"]["id"] == request["context"]["patientId"]


def _sample(name):
    return next(s for s in sample_index() if s["name"] == name)


def test_cli_evaluate_json_main():
    from plugin.thyroid.cli import main

    out = subprocess.run(
        [sys.executable, "-m", "plugin.thyroid.cli", _sample("braf-v600e-first-line")["bundle"],
         "--as-of", "2026-11-27", "--format", "json"],
        cwd=REPO, capture_output=True, text=True, timeout=120, check=False,
    )
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert result["assessment"]["evaluationDate"] == "2026-11-27"
    assert result["assessment"]["rairStatus"] == "YES"
    assert result["cards"] and len(result["cards"]) == len(result["cardKinds"])
    assert main(["/nonexistent.json", "--as-of", "2026-11-27"]) == 2


def test_cli_evaluate_text_through_rair_cds_command(capsys):
    from cds_hooks.cli import main

    code = main(["evaluate", _sample("ret-fusion-first-line")["request"], "--as-of",
                 "2026-11-27", "--format", "text"])
    assert code == 0
    text = capsys.readouterr().out
    assert "RAIR status:      YES (JS-ii)" in text
    assert "Assessment as of 2026-11-27" in text
    assert "[WARNING]" in text or "[INFO]" in text


@pytest.mark.parametrize("bad", ["2026-13-01", "yesterday"])
def test_cli_rejects_a_bad_date(bad, capsys):
    from plugin.thyroid.cli import main

    with pytest.raises(SystemExit) as exc:
        main(["x.json", "--as-of", bad])
    assert exc.value.code == 2
