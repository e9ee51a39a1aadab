"""Issue 4, clinical QA of the order hooks, §2.6 / §3 / D1: a systemic drug the assessment does
not support gets a not-indicated warning, unless the order continues an ongoing course.
Through the Flask test client with the real reader and rules (helpers: issue_4_helpers.py)."""

from __future__ import annotations

import pytest
from issue_4_helpers import (
    RXNORM,
    add_resource,
    by_order,
    drug,
    i131,
    lactating,
    post,
    review_client,
)


@pytest.fixture
def client(tmp_path):
    return review_client(tmp_path)


# -- §2.6 / §3 / D1: a systemic drug the assessment does not support ---------------------------

NOT_INDICATED = "order-not-indicated"


def statement(rid, patient, rxnorm, *, status="active", start="2025-10-01", end=None):
    period = {"start": start} | ({"end": end} if end else {})
    return {"resourceType": "MedicationStatement", "id": rid, "status": status,
            "medicationCodeableConcept": {"coding": [{"system": RXNORM, "code": rxnorm}]},
            "subject": {"reference": f"Patient/{patient}"}, "effectivePeriod": period}


def add_statement(resource):
    def edit(prefetch):
        bundle = prefetch["medicationStatements"]
        bundle["entry"] = [*bundle.get("entry", []), {"resource": resource}]
        bundle["total"] = len(bundle["entry"])
    return edit


def test_lenvatinib_for_stable_rair_disease_gets_a_not_indicated_warning(client,
                                                                         assert_valid_response):
    """D1 / Rec 60A; §2.6 applies to RAIR YES + RECENT_PD or symptomatic; the lenvatinib US label
    requires progressive disease. Before the QA pass the order passed without a card."""
    body = assert_valid_response(post(client, "js-i-diagnostic-scan-no-uptake",
                                      [drug("lenv", "1603296")]))
    assessment = body["extension"]["rair-cds"]["assessment"]
    assert (assessment["rairStatus"], assessment["progression"], assessment["action"]) == (
        "YES", "NO_PD", "MONITOR")
    assert by_order(body)["MedicationRequest/lenv"] == [NOT_INDICATED]
    (card,) = body["cards"]
    assert card["indicator"] == "warning"
    assert len(card["summary"]) < 140 and "Lenvatinib" in card["summary"]
    for text in ("**YES** (JS-i)", "**NO_PD**", "**MONITOR**", "Rec 60A", "Rec 63B",
                 "Rule **D1**", "[S13]", "[S1]"):
        assert text in card["detail"], text
    assert card["source"]["label"] == "US label: LENVIMA (lenvatinib)"
    actions = [a for s in card["suggestions"] for a in s["actions"]]
    assert actions == [{"type": "delete", "resourceId": "MedicationRequest/lenv",
                        "description": actions[0]["description"]}]
    codes = {r["code"] for r in card["overrideReasons"]}
    assert {"continuation-of-therapy", "clinical-trial", "mdt-decision"} <= codes


@pytest.mark.parametrize(("name", "rxnorm", "status", "rule", "says"), [
    ("not-refractory-avid-stable", "495881", "NO", "B6", "not RAI-refractory"),
    ("cumulative-over-600-no-pd", "1603296", "NO", "B6", "not RAI-refractory"),
    ("not-established-no-post-therapy-scan", "1603296", "NOT_ESTABLISHED", "A5",
     "post-therapy whole-body scan after the last therapeutic RAI"),
    ("scan-low-tsh", "495881", "NOT_ESTABLISHED", "A3", "a valid radioiodine scan"),
    ("tg-only-no-structural-disease", "1603296", "NOT_ESTABLISHED", "A4",
     "structurally evident disease"),
    ("no-prior-therapeutic-rai", "1603296", "NOT_ESTABLISHED", "A2", "Rec 59A"),
    ("pd-not-recent", "1363268", "YES", "C3", "**UPDATE_IMAGING**"),
])
def test_systemic_drug_without_a_listed_option_is_flagged(client, assert_valid_response, name,
                                                          rxnorm, status, rule, says):
    """A5 / A2-A4 / B6 / C3: status NO or NOT_ESTABLISHED, or YES without recent progression:
    the assessment lists no therapy, so a VEGFR MKI order gets one warning saying why."""
    body = assert_valid_response(post(client, name, [drug("tki", rxnorm)]))
    assessment = body["extension"]["rair-cds"]["assessment"]
    assert assessment["rairStatus"] == status
    assert not any(assessment["therapies"].values())
    assert by_order(body)["MedicationRequest/tki"] == [NOT_INDICATED]
    (card,) = body["cards"]
    assert card["indicator"] == "warning"
    assert f"Rule **{rule}**" in card["detail"] and says in card["detail"]
    assert f"**{status}**" in card["detail"] and f"**{assessment['action']}**" in card["detail"]
    if status == "NOT_ESTABLISHED" and assessment["missingData"]:
        assert "Data that would establish the status" in card["detail"]


def test_an_ongoing_course_of_the_same_drug_is_a_continuation(client, assert_valid_response):
    """A patient already on lenvatinib (stable on it, D1) whose prescription is re-entered: no
    card, and the held-back card is listed with its reason."""
    body = assert_valid_response(post(
        client, "js-i-diagnostic-scan-no-uptake", [drug("lenv", "1603296")],
        edit=add_statement(statement("on-lenv", "rair-01", "1603296"))))
    assert body["extension"]["rair-cds"]["assessment"]["action"] == "MONITOR"
    assert body["cards"] == []
    (held,) = body["extension"]["rair-cds"]["suppressedCards"]
    assert held["order"] == "MedicationRequest/lenv" and held["kind"] == NOT_INDICATED
    assert "continuation of current therapy" in held["reason"]
    assert "MedicationStatement/on-lenv" in held["reason"]


@pytest.mark.parametrize(("status", "end"), [
    ("completed", "2026-06-01"),   # stopped: a restart is a new decision
    ("active", "2026-06-01"),      # course ended before the evaluation date
    ("stopped", None),
])
def test_a_finished_course_is_not_a_continuation(client, assert_valid_response, status, end):
    body = assert_valid_response(post(
        client, "js-i-diagnostic-scan-no-uptake", [drug("lenv", "1603296")],
        edit=add_statement(statement("old-lenv", "rair-01", "1603296", status=status,
                                     start="2025-10-01", end=end))))
    assert by_order(body)["MedicationRequest/lenv"] == [NOT_INDICATED]


def test_an_ongoing_course_of_another_drug_is_not_a_continuation(client, assert_valid_response):
    """On lenvatinib, a sorafenib order is a switch, not a continuation."""
    body = assert_valid_response(post(
        client, "js-i-diagnostic-scan-no-uptake", [drug("sora", "495881")],
        edit=add_statement(statement("on-lenv", "rair-01", "1603296"))))
    assert by_order(body)["MedicationRequest/sora"] == [NOT_INDICATED]


def test_a_renewal_with_prior_prescription_is_a_continuation(client, assert_valid_response):
    order = {**drug("lenv", "1603296"),
             "priorPrescription": {"reference": "MedicationRequest/lenv-2025"}}
    body = assert_valid_response(post(client, "not-refractory-avid-stable", [order]))
    assert body["cards"] == []
    (held,) = body["extension"]["rair-cds"]["suppressedCards"]
    assert "MedicationRequest/lenv-2025" in held["reason"]


def test_a_continuous_course_needs_a_prior_exposure(client, assert_valid_response):
    """``courseOfTherapyType`` continuous is a continuation only when the record shows the drug
    before; on its own it describes a new long-term prescription."""
    course = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/"
                                    "medicationrequest-course-of-therapy",
                          "code": "continuous"}]}
    order = {**drug("lenv", "1603296"), "courseOfTherapyType": course}
    fresh = assert_valid_response(post(client, "js-i-diagnostic-scan-no-uptake", [order]))
    assert by_order(fresh)["MedicationRequest/lenv"] == [NOT_INDICATED]
    before = assert_valid_response(post(
        client, "js-i-diagnostic-scan-no-uptake", [order],
        edit=add_statement(statement("old-lenv", "rair-01", "1603296", status="completed",
                                     start="2025-10-01", end="2026-06-01"))))
    assert before["cards"] == []
    assert before["extension"]["rair-cds"]["suppressedCards"][0]["kind"] == NOT_INDICATED


def test_an_existing_drug_card_is_not_duplicated(client, assert_valid_response):
    """One card per drug per order: selpercatinib without a RET fusion for stable disease keeps
    the driver-missing warning only."""
    body = assert_valid_response(post(client, "js-i-diagnostic-scan-no-uptake",
                                      [drug("selp", "2370147")]))
    assert by_order(body)["MedicationRequest/selp"] == ["order-driver-missing"]


def test_lactation_blocks_even_a_not_indicated_drug(client, assert_valid_response):
    """§A4.11 rule 4: in lactation W-PREG blocks every TKI (``all_drugs``), also one the
    assessment does not offer (stable disease): the critical card, not a caution."""
    body = assert_valid_response(post(client, "js-i-diagnostic-scan-no-uptake",
                                      [drug("lenv", "1603296")],
                                      edit=add_resource(lactating("rair-01"))))
    assert by_order(body)["MedicationRequest/lenv"] == ["order-blocking"]
    assert "W-PREG" in body["cards"][0]["summary"]


@pytest.mark.parametrize(("name", "drafts"), [
    ("mtc-medullary", [drug("tki", "1603296")]),            # A1b: NOT_APPLICABLE has its paths
    ("atc-braf-v600e", [drug("tki", "1603296")]),
    ("js-iv-progression-despite-uptake", [drug("tki", "1603296")]),  # systemic indicated
    ("js-i-diagnostic-scan-no-uptake", [i131("tki", 150)]),  # I-131: its own rules
])
def test_not_indicated_card_stays_out_of_other_paths(client, assert_valid_response, name, drafts):
    body = assert_valid_response(post(client, name, drafts))
    assert NOT_INDICATED not in by_order(body)["MedicationRequest/tki"]
