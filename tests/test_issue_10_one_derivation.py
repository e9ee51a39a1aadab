"""Issue 10 item 1 (and issue 9 item 6): one derivation of the record, read by every service.

The I-131 order card (and the patient-view card's RAI-history line) used to count radioiodine
their own way: two same-day 11,100 MBq records and a 3,700 MBq one dated after the evaluation date
printed 25,900 MBq while the rules counted 11,100 MBq. Every reader now takes the derivation's
count (:mod:`plugin.thyroid.facts.derivation`).
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import re
from pathlib import Path

import pytest
from conftest import http

from plugin.thyroid.clinical_model import (
    PatientRecord,
    RadioiodineAdministration,
    RadioiodineScan,
    RaiIntent,
    ScanKind,
    Uptake,
    activity_text,
    mci_text,
)
from plugin.thyroid.demo.summary import summarize
from plugin.thyroid.facts.derivation import derive
from plugin.thyroid.knowledge.loader import load_knowledge
from plugin.thyroid.orders.cards import DraftOrder, cards_for_order

SAMPLES = Path(__file__).resolve().parents[1] / "fhir_samples" / "thyroid"
AS_OF = "2026-11-27"
RAIR = "https://rair-cds.org/fhir/CodeSystem/concepts"


def _i131(rid: str, day: str, mci: int, *, therapeutic: bool = True) -> dict:
    resource = {
        "resourceType": "MedicationAdministration", "id": rid, "status": "completed",
        "medicationCodeableConcept": {"coding": [{"system": "http://snomed.info/sct",
                                                  "code": "111160004"}]},
        "subject": {"reference": "Patient/rair-02"},
        "effectiveDateTime": day,
        "dosage": {"dose": {"value": mci, "unit": "mCi", "system": "http://unitsofmeasure.org",
                            "code": "mCi"}},
    }
    if therapeutic:
        resource["category"] = {"coding": [{"system": RAIR, "code": "therapeutic"}]}
    return resource


def _patient_view_request() -> dict:
    """The JS-ii sample with its RAI history replaced: 300 mCi (11,100 MBq) recorded twice on one
    day, and 100 mCi (3,700 MBq) dated after the evaluation date."""
    body = json.loads((SAMPLES / "patient-view.js-ii-post-therapy-no-uptake.json").read_text())
    body["prefetch"]["medicationAdministrations"] = {
        "resourceType": "Bundle", "type": "searchset",
        "entry": [{"resource": _i131("rai-a", "2024-03-01", 300)},
                  {"resource": _i131("rai-b", "2024-03-01", 300)},
                  {"resource": _i131("rai-later", "2027-02-01", 100)}],
    }
    body["prefetch"]["procedures"] = None  # no other RAI record
    return body


def _order_sign_request(patient_view: dict, mci: int = 100) -> dict:
    body = copy.deepcopy(patient_view)
    order = {
        "resourceType": "MedicationRequest", "id": "i131-new", "status": "draft",
        "intent": "order",
        "medicationCodeableConcept": {"coding": [{"system": "http://snomed.info/sct",
                                                  "code": "111160004"}]},
        "subject": {"reference": "Patient/rair-02"},
        "dosageInstruction": [{"doseAndRate": [{"doseQuantity": {
            "value": mci, "unit": "mCi", "system": "http://unitsofmeasure.org", "code": "mCi"}}]}],
    }
    body["hook"] = "order-sign"
    body["context"]["draftOrders"] = {"resourceType": "Bundle", "entry": [{"resource": order}]}
    return body


@pytest.mark.e2e
def test_patient_view_and_order_sign_find_the_same_cumulative_activity(make_app, live_server):
    app = make_app(PLUGINS=["plugin.thyroid"], EVALUATION_DATE=AS_OF)
    base = live_server(app)
    pv_request = _patient_view_request()

    status, _, pv = http("POST", f"{base}/cds-services/rair-patient-view", pv_request)
    assert status == 200, pv
    status, _, sign = http("POST", f"{base}/cds-services/rair-order-sign",
                           _order_sign_request(pv_request))
    assert status == 200, sign

    pv_text = "\n".join(c.get("detail", "") for c in pv["cards"])
    (pv_total,) = re.findall(r"Cumulative therapeutic activity: ([\d,]+) MBq", pv_text)
    sign_text = "\n".join(c.get("detail", "") for c in sign["cards"])
    (prior,) = re.findall(r"([\d,]+) MBq from (\d+) itemized therapeutic", sign_text)
    assert pv_total == prior[0] == "11,100"  # the same day once; the later record not at all
    assert prior[1] == "1"
    assert "14,800 MBq" in sign_text  # 11,100 so far + 3,700 ordered
    assert "25,900" not in sign_text and "29,600" not in sign_text
    # and the two hooks carry the same assessment
    assert sign["extension"]["rair-cds"]["assessment"] == pv["extension"]["rair-cds"]["assessment"]


def test_the_demo_summary_counts_what_the_cards_count(make_app):
    request = _patient_view_request()
    resources = [e["resource"] for key in ("medicationAdministrations",)
                 for e in request["prefetch"][key]["entry"]]
    from plugin.thyroid.reading.record import read_record

    record = read_record(resources)
    as_of = dt.date.fromisoformat(AS_OF)
    derivation = derive(record, as_of, load_knowledge().thresholds)
    rai = summarize(record, as_of, derivation=derivation)["rai"]
    assert rai["cumulativeTherapeuticMBq"] == derivation.rai.cumulative_mbq == 11100


def test_one_mci_formatter_for_patient_view_and_order_cards():
    # 1,000 MBq is 27.03 mCi: neither card may print it as a whole "27"
    assert mci_text(1000) == "27.0" and activity_text(1000, grouped=True) == "1,000 MBq (27.0 mCi)"
    from plugin.thyroid.assessment.model import Assessment

    assessment = Assessment(dt.date(2026, 11, 27), rair_status="YES", rair_criteria=["JS-ii"],
                            progression="RECENT_PD", action="SYSTEMIC_FIRST_LINE")
    order = DraftOrder(ref="MedicationRequest/x", resource_type="MedicationRequest",
                       resource={}, label="I-131", i131=True, activity_mbq=1000,
                       intent="therapeutic")
    (card,) = cards_for_order(order, assessment, PatientRecord(), "p1")
    assert "27.0 mCi" in card.card.detail


def test_the_thresholds_live_once_in_thresholds_yaml():
    folder = Path(__file__).resolve().parents[1] / "rules" / "thyroid"
    data = "".join(p.read_text(encoding="utf-8") for p in sorted(folder.glob("order_card*.yaml")))
    assert "i131-rair:" in data  # the order text and its parts
    assert "cumulative_threshold_mbq:" not in data and "diagnostic_below_mbq:" not in data
    reader = (Path(__file__).resolve().parents[1] / "plugin" / "thyroid" / "reading" / "record.py")
    assert "1110" not in reader.read_text(encoding="utf-8")


def test_threshold_overrides_reach_the_order_card_through_the_derivation():
    from plugin.thyroid.assessment.model import Assessment

    th = load_knowledge().thresholds.overridden({"cumulative_threshold_mbq": 10000})
    record = PatientRecord(rai_administrations=[RadioiodineAdministration(
        "MA/1", dt.date(2024, 1, 1), 5550, RaiIntent.THERAPEUTIC, True)])
    as_of = dt.date(2026, 11, 27)
    assessment = Assessment(as_of, rair_status="NO", progression="NO_PD", action="MONITOR")
    order = DraftOrder(ref="MedicationRequest/x", resource_type="MedicationRequest",
                       resource={}, label="I-131", i131=True, activity_mbq=5550,
                       intent="therapeutic")
    (card,) = cards_for_order(order, assessment, record, "p1",
                              derivation=derive(record, as_of, th))
    assert "above 10,000 MBq" in card.card.detail
    assert "above 10 GBq (270.3 mCi)" in card.card.summary  # not a "22.2 GBq" written in a text


def test_the_reader_infers_no_scan_kind_the_derivation_does():
    dose = RadioiodineAdministration("MA/1", dt.date(2024, 1, 1), 5550, RaiIntent.THERAPEUTIC,
                                     True)
    scan = RadioiodineScan("Observation/s", dt.date(2024, 1, 8), ScanKind.UNKNOWN,
                           Uptake.NO_LESIONS)
    record = PatientRecord(rai_administrations=[dose], scans=[scan])
    reading = derive(record, dt.date(2026, 11, 27)).scan_reading(scan)
    assert (reading.kind, reading.inferred, reading.dose) == ("post-therapy", True, dose)
    summary = summarize(record, dt.date(2026, 11, 27))
    assert (summary["scans"][0]["kind"], summary["scans"][0]["kindInferred"]) == (
        "post-therapy", True)


def test_the_order_card_and_the_rules_read_one_testing_state():
    """A RET point mutation reported by a fusion-capable panel is not a RET fusion test in the
    rules (§A4.3: only a negative or a tested-gene record from a capable assay counts); the
    selpercatinib order card used to read it as "RET tested: no RET fusion found"."""
    from plugin.thyroid.assessment.model import Assessment
    from plugin.thyroid.clinical_model import Variant, VariantKind
    from plugin.thyroid.facts.builder import to_facts

    as_of = dt.date(2026, 11, 27)
    record = PatientRecord(variants=[Variant("Observation/v", "RET", True, VariantKind.SNV,
                                             alteration="M918T", fusion_capable=True)])
    (molecular,) = [f for f in to_facts(record, as_of) if f["type"] == "molecular"]
    assert molecular["ret_fusion_known"] is False
    assessment = Assessment(as_of, rair_status="YES", rair_criteria=["JS-ii"],
                            progression="RECENT_PD", action="SYSTEMIC_FIRST_LINE")
    order = DraftOrder(ref="MedicationRequest/s", resource_type="MedicationRequest",
                       resource={}, label="selpercatinib", drugs=("selpercatinib",))
    cards = cards_for_order(order, assessment, record, "p1")
    (driver,) = [c for c in cards if c.kind == "order-driver-missing"]
    assert "RET not tested with a fusion-capable (RNA) assay" in driver.card.detail


def test_every_decisions_section_cited_in_the_repository_exists():
    """Code cites docs/DECISIONS.md (issue 10 item 6); a cited section must be there."""
    import subprocess

    root = Path(__file__).resolve().parents[1]
    text = (root / "docs" / "DECISIONS.md").read_text(encoding="utf-8")
    defined = set(re.findall(r"(?:^#+ |\*\*|^- \*\*)§([DK][\d.]*\d)", text, re.M))
    files = subprocess.run(["git", "ls-files", "plugin", "cds_hooks", "rules", "scripts",
                            "tests", "fhir_samples", "docs"], cwd=root, capture_output=True,
                           text=True, check=True).stdout.split()
    cited = set()
    for name in files:
        if name.endswith((".py", ".yaml", ".md", ".json")):
            body = (root / name).read_text(encoding="utf-8")
            for run in re.findall(r"DECISIONS(?:\.md)? (§[^\n]*)", body):
                cited |= set(re.findall(r"§([DK][\d.]*\d)", run))
    assert {"D1", "D3", "D4.11", "K0.3", "K2.9", "K5"} <= defined
    assert cited and cited <= defined, sorted(cited - defined)


@pytest.mark.parametrize("name", ["FHIR_REQUIRE_AUTHORIZATION", "AUTH_DISCOVERY",
                                  "ALLOW_HTTP_FHIR"])
def test_one_boolean_parser_a_typo_in_a_security_switch_stops_start_up(make_app, name):
    from cds_hooks.settings import parse_bool

    assert [parse_bool(t) for t in ("on", " TRUE ", "0", "", "No")] == [
        True, True, False, False, False]
    from cds_hooks.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match="ture"):
        make_app(**{name: "ture"})


def test_the_order_services_read_their_switches_with_the_same_parser():
    from plugin.thyroid.orders.service import create_order_services

    with pytest.raises(ValueError, match="ORDER_INFO_CARDS"):
        create_order_services({"ORDER_INFO_CARDS": "maybe"})
    (select, _) = create_order_services({"ORDER_INFO_CARDS": " Off "})
    assert select.settings.info_cards is False


def test_the_radioiodine_count_is_computed_once_per_evaluation(monkeypatch):
    """Facts, patient-view cards and order cards read the one derivation of the call."""
    from plugin.thyroid.cards.render import render
    from plugin.thyroid.facts import rai as to_facts_rai
    from plugin.thyroid.patient_view import PatientViewService
    from plugin.thyroid.pipeline import flatten_prefetch

    calls = []
    real = to_facts_rai._activity
    monkeypatch.setattr(to_facts_rai, "_activity",
                        lambda *a, **k: calls.append(1) or real(*a, **k))
    request = _patient_view_request()
    resources, notes = flatten_prefetch(request["prefetch"])
    service = PatientViewService()
    done = service.pipeline.evaluate(resources, dt.date.fromisoformat(AS_OF), notes)
    render(done.assessment, done.record, derivation=done.derivation)
    order = DraftOrder(ref="MedicationRequest/x", resource_type="MedicationRequest",
                       resource={}, label="I-131", i131=True, activity_mbq=3700,
                       intent="therapeutic")
    cards_for_order(order, done.assessment, done.record, "rair-02", derivation=done.derivation)
    assert calls == [1]


@pytest.mark.parametrize(("before", "after"), [
    ("(DECISIONS §D4.2, §D4.10, §K2.9, §K5)", "(DECISIONS §D4.2, §D4.10, §K2.9, §K5)"),
    ("DECISIONS §K0.3: 1 mCi", "DECISIONS §K0.3: 1 mCi"),
    ("DECISIONS §K2.6-§K2.9, §K3).", "DECISIONS §K2.6-§K2.9, §K3)."),
    ("(DECISIONS §D3, rules A5 and A6)", "(DECISIONS §D3, rules A5 and A6)"),
    ("DECISIONS C1: up", "DECISIONS C1: up"),
    ("its DOMAIN.md rule ID", "its DOMAIN.md rule ID"),
])
def test_the_citation_rewrite_is_mechanical(before, after):
    import importlib.util

    path = Path(__file__).resolve().parents[1] / "scripts" / "cite_decisions.py"
    spec = importlib.util.spec_from_file_location("cite_decisions", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.rewrite(before) == after
    assert module.rewrite(after) == after  # idempotent


def test_an_evaluation_reads_only_the_knowledge_it_was_given(monkeypatch):
    """Knowledge is loaded once and passed down: no file is read again during a call."""
    from plugin.thyroid.cards import common as cards_common
    from plugin.thyroid.cards.render import render
    from plugin.thyroid.facts import common as to_facts_common
    from plugin.thyroid.knowledge import codes
    from plugin.thyroid.orders import common as order_cards_common
    from plugin.thyroid.patient_view import PatientViewService
    from plugin.thyroid.pipeline import flatten_prefetch

    knowledge = load_knowledge()
    service = PatientViewService(knowledge=knowledge)

    def no_read(*args, **kwargs):
        raise AssertionError(f"a knowledge file was read during the call: {args}")

    for module, name in ((to_facts_common, "_read_therapies"),
                         (to_facts_common, "_read_thresholds"),
                         (codes, "_load_cached"), (cards_common, "_load_templates"),
                         (order_cards_common, "_load")):
        monkeypatch.setattr(module, name, no_read)
    index = json.loads((SAMPLES / "index.json").read_text(encoding="utf-8"))
    as_of = dt.date.fromisoformat(index["evaluationDate"])
    for scenario in index["scenarios"]:
        request = json.loads((SAMPLES / scenario["request"]).read_text(encoding="utf-8"))
        resources, notes = flatten_prefetch(request["prefetch"])
        done = service.pipeline.evaluate(resources, as_of, notes)
        render(done.assessment, done.record, templates=knowledge.templates,
               derivation=done.derivation)
        summarize(done.record, as_of, derivation=done.derivation)
        for order in (DraftOrder(ref="MedicationRequest/i", resource_type="MedicationRequest",
                                 resource={}, label="I-131", i131=True, activity_mbq=5550),
                      DraftOrder(ref="MedicationRequest/s", resource_type="MedicationRequest",
                                 resource={}, label="selpercatinib", drugs=("selpercatinib",))):
            cards_for_order(order, done.assessment, done.record, "p1",
                            text=knowledge.order_text, derivation=done.derivation,
                            templates=knowledge.templates)
