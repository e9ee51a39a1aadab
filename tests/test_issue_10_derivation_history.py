"""Issue 10 item 1: the monitoring episode and PD events, the therapy history and the safety
values live in the derivation, computed once per evaluation, and every reader (the facts, the
patient-view cards, the order cards, the demo summary) uses them.

"Current therapy" used to have two definitions: the rules' (started, not ended before the
evaluation date, not of a stopped status) and the order cards' continuation check (a status in
``ongoing_status``, an end strictly after the evaluation date, any start). The two disagreed on
a status such as ``unknown``, a course ending on the evaluation date and a start after it.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
from pathlib import Path

import pytest

from plugin.thyroid.clinical_model import (
    BloodPressure,
    ClinicalFlag,
    LesionSum,
    LocalTherapy,
    PatientRecord,
    PregnancyStatus,
    RadioiodineAdministration,
    RaiIntent,
    StopReason,
    TherapyExposure,
)
from plugin.thyroid.facts.builder import to_facts
from plugin.thyroid.facts.derivation import derive

SAMPLES = Path(__file__).resolve().parents[1] / "fhir_samples" / "thyroid"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
AS_OF = dt.date(2026, 11, 27)


@pytest.fixture
def client(tmp_path):
    from cds_hooks import create_app

    app = create_app({
        "TESTING": True, "AUTH_MODE": "off", "EVALUATION_DATE": AS_OF.isoformat(),
        "FEEDBACK_DB": str(tmp_path / "feedback.sqlite3"), "FHIR_REQUIRE_AUTHORIZATION": False,
    })
    return app.test_client()


def _prefetch_with_lenvatinib(status: str, start: str, end: str | None) -> dict:
    """The JS-i sample (sums on 2025-09-20 and 2026-09-20, last RAI 2025-09-13) with a
    lenvatinib MedicationStatement."""
    pv = json.loads((SAMPLES / "patient-view.js-i-diagnostic-scan-no-uptake.json").read_text())
    statement = {
        "resourceType": "MedicationStatement", "id": "on-lenv", "status": status,
        "medicationCodeableConcept": {"coding": [{"system": RXNORM, "code": "1603296"}]},
        "subject": {"reference": "Patient/rair-01"},
        "effectivePeriod": {"start": start} | ({"end": end} if end else {}),
    }
    pv["prefetch"]["medicationStatements"].setdefault("entry", []).append(
        {"resource": statement})
    return pv


@pytest.mark.parametrize(("status", "start", "end", "current"), [
    ("unknown", "2025-09-15", None, True),  # was: rules current, order card not a continuation
    ("active", "2025-09-15", "2026-11-27", True),  # ends on the evaluation date: same
    ("active", "2026-12-15", None, False),  # starts later: was a continuation for the orders
    ("active", "2025-09-15", None, True),
    ("stopped", "2025-09-15", None, False),
])
def test_patient_view_and_order_sign_read_one_current_therapy(client, status, start, end,
                                                              current):
    pv = _prefetch_with_lenvatinib(status, start, end)
    body = client.post("/cds-services/rair-patient-view", json=pv).get_json()
    fired = body["extension"]["rair-cds"]["assessment"]["rulesFired"]
    # C1b: the nadir restarts at the current therapy; C1c: not on treatment
    assert ("C1b" in fired) is current and ("C1c" in fired) is not current

    draft = {"resourceType": "MedicationRequest", "id": "lenv", "status": "draft",
             "intent": "order", "subject": {"reference": "Patient/rair-01"},
             "medicationCodeableConcept": {"coding": [{"system": RXNORM, "code": "1603296"}]}}
    sign = client.post("/cds-services/rair-order-sign", json={
        "hook": "order-sign", "hookInstance": "0b7a4c7e-4d0e-4f53-9a51-3f1f0c8d2a10",
        "context": {"userId": "Practitioner/qa", "patientId": "rair-01",
                    "draftOrders": {"resourceType": "Bundle", "type": "collection",
                                    "entry": [{"resource": draft}]}},
        "prefetch": copy.deepcopy(pv["prefetch"])}).get_json()
    held = sign["extension"]["rair-cds"].get("suppressedCards") or []
    continued = any("continuation of current therapy: lenvatinib ongoing" in h["reason"]
                    for h in held)
    assert continued is current
    assert bool(sign["cards"]) is not current  # otherwise the not-indicated warning


def _record() -> PatientRecord:
    return PatientRecord(
        birth_date=dt.date(1980, 1, 1), sex="female",
        rai_administrations=[RadioiodineAdministration("MA/1", dt.date(2024, 1, 10), 5550,
                                                       RaiIntent.THERAPEUTIC, True)],
        local_therapies=[LocalTherapy("Procedure/neck", dt.date(2024, 6, 1), "neck dissection"),
                         LocalTherapy("Procedure/later", dt.date(2027, 1, 5), "planned")],
        lesion_sums=[LesionSum("O/s1", dt.date(2023, 3, 1), 20.0),
                     LesionSum("O/s2", dt.date(2023, 9, 1), 30.0),
                     LesionSum("O/s3", dt.date(2025, 1, 1), 40.0),
                     LesionSum("O/s4", dt.date(2026, 6, 1), 50.0)],
        therapies=[
            TherapyExposure("MS/sora", "sorafenib", dt.date(2023, 1, 1), dt.date(2023, 12, 1),
                            StopReason.INTOLERANCE, "stopped"),
            TherapyExposure("MS/lenv", "lenvatinib", dt.date(2025, 2, 1), None, None, "active"),
        ],
        blood_pressures=[BloodPressure("O/bp-old", dt.date(2026, 1, 1), 120, 80),
                         BloodPressure("O/bp", dt.date(2026, 11, 1), 165, 95)],
        pregnancy=[PregnancyStatus("O/preg", dt.date(2025, 1, 1), True)],
        hemorrhage=[ClinicalFlag("C/hem", None, True)],
        airway_invasion=[ClinicalFlag("C/air-1", dt.date(2024, 1, 1), True),
                         ClinicalFlag("C/air-2", dt.date(2025, 1, 1), False)],
    )


def test_the_derivation_holds_the_episode_history_and_safety_values():
    d = derive(_record(), AS_OF)
    m, h, s = d.monitoring, d.history, d.safety
    # §A4.5: the later of the last therapeutic RAI and the last local therapy (not a planned one)
    assert m.episode_start == dt.date(2024, 6, 1)
    assert m.therapy_start == dt.date(2025, 2, 1)  # C1b: lenvatinib started inside the episode
    assert [p.source for p in m.pd_events] == []  # one sum on lenvatinib: no comparison
    # the history sees the PD within sorafenib's window (30 vs 20 mm) though outside the episode
    assert [(p.date, p.source) for p in m.history_pd] == [(dt.date(2023, 9, 1), "O/s2")]
    assert [t.source for t in h.current] == ["MS/lenv"]
    assert d.current_therapies("lenvatinib") == h.current
    assert d.current_therapies("sorafenib") == ()
    assert h.progressed == ("sorafenib",)  # PD while on it, though stopped for intolerance
    assert h.intolerant == {}  # progressed on: not only an intolerance
    assert h.vegfr_pd and h.on_vegfr and [lt.source for lt in h.planned_local] == [
        "Procedure/later"]
    assert s.age == 46 and s.bp_uncontrolled and s.blood_pressure.source == "O/bp"
    assert s.pregnancy_stale and not s.pregnant and s.pregnancy_status_needed
    assert [x.source for x in s.recent_hemorrhage] == ["C/hem"]  # undated counts as recent
    assert not s.flags.airway_invasion.on  # the latest finding is negative


def test_the_facts_translate_the_derivation():
    record = _record()
    d = derive(record, AS_OF)
    facts = to_facts(record, AS_OF, derivation=d)
    (history,) = [f for f in facts if f["type"] == "history"]
    (progression,) = [f for f in facts if f["type"] == "progression"]
    (safety,) = [f for f in facts if f["type"] == "safety"]
    (clinical,) = [f for f in facts if f["type"] == "clinical"]
    drugs = {f["drug"]: f for f in facts if f["type"] == "drug"}
    assert history["on_systemic"] is bool(d.history.current) is True
    assert history["vegfr_pd"] is d.history.vegfr_pd
    assert history["surgery_planned_on_vegfr"] is True
    assert progression["on_therapy"] is (d.monitoring.therapy_start is not None)
    assert drugs["sorafenib"]["progressed_on"] and not drugs["sorafenib"]["stopped_intolerance"]
    assert safety["bp_uncontrolled"] is d.safety.bp_uncontrolled is True
    assert clinical["pregnancy_stale"] is d.safety.pregnancy_stale
    assert clinical["recent_hemorrhage"] is True and clinical["airway_invasion"] is False


def test_the_demo_summary_shows_the_derivations_reading():
    from plugin.thyroid.demo.summary import summarize

    record = _record()
    summary = summarize(record, AS_OF, derivation=derive(record, AS_OF))
    rows = {t["source"]: t for t in summary["therapies"]}
    assert rows["MS/lenv"]["current"] and not rows["MS/sora"]["current"]
    assert rows["MS/sora"]["progressedOn"] and rows["MS/sora"]["stoppedForIntolerance"]
    assert summary["safety"]["bloodPressure"]["source"] == "O/bp"
    assert summary["patient"]["age"] == 46


def test_each_derivation_field_is_computed_once_per_evaluation(monkeypatch):
    """Facts, patient-view cards, order cards and the demo summary read the call's derivation:
    the episode, the therapy history and the safety values are computed once."""
    from plugin.thyroid.cards.render import render
    from plugin.thyroid.demo.summary import summarize
    from plugin.thyroid.facts import derivation, history, progression, safety
    from plugin.thyroid.orders.cards import DraftOrder, cards_for_order
    from plugin.thyroid.patient_view import PatientViewService
    from plugin.thyroid.pipeline import flatten_prefetch

    calls: dict[str, int] = {}

    def counting(module, name):
        real = getattr(module, name)

        def wrapper(*args, **kwargs):
            calls[name] = calls.get(name, 0) + 1
            return real(*args, **kwargs)
        return wrapper

    for module, name in ((progression, "monitoring"), (history, "therapy_history"),
                         (safety, "safety_values"), (history, "is_current")):
        wrapper = counting(module, name)
        monkeypatch.setattr(module, name, wrapper)
        if hasattr(derivation, name):
            monkeypatch.setattr(derivation, name, wrapper)
    pv = _prefetch_with_lenvatinib("active", "2025-09-15", None)
    resources, notes = flatten_prefetch(pv["prefetch"])
    done = PatientViewService().pipeline.evaluate(resources, AS_OF, notes)
    once = {"monitoring": 1, "therapy_history": 1, "safety_values": 1}
    assert {k: calls[k] for k in once} == once
    reads = calls.get("is_current", 0)
    render(done.assessment, done.record, derivation=done.derivation)
    summarize(done.record, AS_OF, derivation=done.derivation)
    for order in (DraftOrder(ref="MedicationRequest/l", resource_type="MedicationRequest",
                             resource={}, label="lenvatinib", drugs=("lenvatinib",)),
                  DraftOrder(ref="MedicationRequest/i", resource_type="MedicationRequest",
                             resource={}, label="I-131", i131=True, activity_mbq=5550)):
        cards_for_order(order, done.assessment, done.record, "rair-01",
                        derivation=done.derivation)
    assert {k: calls[k] for k in once} == once
    assert calls.get("is_current", 0) == reads  # no reader re-decides "current"
