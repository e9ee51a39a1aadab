"""Issue 4, clinical QA of the order hooks: regressions for the defects the review found.

Every test runs through the Flask test client with the real reader and rules (patient-view
samples under ``fhir_samples/thyroid``, some edited in place) and checks the response schema.
Each names the DOMAIN.md clause it protects.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from cds_hooks import create_app

SAMPLES = Path(__file__).resolve().parents[1] / "fhir_samples" / "thyroid"
SNOMED = "http://snomed.info/sct"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
RAIR = "https://rair-cds.org/fhir/CodeSystem/concepts"
UCUM = "http://unitsofmeasure.org"


@pytest.fixture
def client(tmp_path):
    app = create_app({
        "TESTING": True, "AUTH_MODE": "off", "EVALUATION_DATE": "2026-11-27",
        "FEEDBACK_DB": str(tmp_path / "feedback.sqlite3"), "FHIR_REQUIRE_AUTHORIZATION": False,
    })
    return app.test_client()


def sample(name):
    return json.loads((SAMPLES / f"patient-view.{name}.json").read_text(encoding="utf-8"))


def i131(rid, value=150, unit="mCi"):
    resource = {
        "resourceType": "MedicationRequest", "id": rid, "status": "draft", "intent": "order",
        "medicationCodeableConcept": {"coding": [{"system": SNOMED, "code": "111160004"}],
                                      "text": "Sodium iodide I-131"},
        "subject": {"reference": "Patient/x"},
    }
    if value is not None:
        resource["dosageInstruction"] = [{"doseAndRate": [{"doseQuantity": {
            "value": value, "unit": unit, "system": UCUM, "code": unit}}]}]
    return resource


def drug(rid, rxnorm):
    return {"resourceType": "MedicationRequest", "id": rid, "status": "draft", "intent": "order",
            "medicationCodeableConcept": {"coding": [{"system": RXNORM, "code": rxnorm}]},
            "subject": {"reference": "Patient/x"}}


def post(client, name, drafts, *, edit=None, hook="order-sign", selections=None):
    pv = sample(name)
    prefetch = copy.deepcopy(pv["prefetch"])
    if edit:
        edit(prefetch)
    context = {"userId": "Practitioner/qa", "patientId": pv["context"]["patientId"],
               "draftOrders": {"resourceType": "Bundle", "type": "collection",
                               "entry": [{"resource": r} for r in drafts]}}
    if selections:
        context["selections"] = selections
    service = "rair-order-select" if hook == "order-select" else "rair-order-sign"
    response = client.post(f"/cds-services/{service}", json={
        "hook": hook, "hookInstance": "0b7a4c7e-4d0e-4f53-9a51-3f1f0c8d2a10",
        "context": context, "prefetch": prefetch})
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def by_order(body):
    review = body["extension"]["rair-cds"]["orderReview"]
    return {r["order"]: r["cards"] for r in review}


def card_for(body, ref):
    """The cards whose delete action (or detail) names the draft ``ref``."""
    return [c for c in body["cards"] if f"`{ref}`" in c["detail"]]


def add_resource(resource):
    def edit(prefetch):
        for value in prefetch.values():
            if isinstance(value, dict) and value.get("resourceType") == "Bundle" and any(
                    e["resource"]["resourceType"] == "Observation" for e in value.get("entry", [])):
                value["entry"].append({"resource": resource})
                return
        raise AssertionError("no Observation bundle in the prefetch")
    return edit


def set_doses(doses):
    def edit(prefetch):
        for value in prefetch.values():
            if isinstance(value, dict) and value.get("resourceType") == "Bundle":
                for entry in value.get("entry", []):
                    res = entry["resource"]
                    if res.get("id") in doses:
                        res["dosage"]["dose"]["value"] = doses[res["id"]]
    return edit


def lactating(patient):
    return {"resourceType": "Observation", "id": "qa-lactating", "status": "final",
            "code": {"coding": [{"system": RAIR, "code": "lactating"}]},
            "subject": {"reference": f"Patient/{patient}"},
            "effectiveDateTime": "2026-11-01", "valueBoolean": True}


# -- H3 / §A4.2: the assessment's eligibility wins over the RET-fusion driver check ------------


def test_selpercatinib_for_mtc_gets_no_ret_fusion_card(client, assert_valid_response):
    """H3: selpercatinib's MTC indication is RET-*mutant* MTC; "no RET fusion documented" with an
    RNA fusion panel (and a delete) was the wrong message for an MTC patient."""
    body = assert_valid_response(post(client, "mtc-medullary", [drug("selp", "2370147")]))
    assert body["extension"]["rair-cds"]["assessment"]["rairStatus"] == "NOT_APPLICABLE"
    assert by_order(body)["MedicationRequest/selp"] == []


def test_a_drug_the_assessment_lists_on_label_gets_no_driver_gap_card(client,
                                                                      assert_valid_response):
    """§A4.2/H3: a drug in ``onLabel`` (here selpercatinib, RET-mutant MTC) is eligible; the
    order card must not contradict the assessment with a driver-missing warning."""
    variant = {
        "resourceType": "Observation", "id": "qa-ret-m918t", "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "69548-6"}]},
        "subject": {"reference": "Patient/rair-26"}, "effectiveDateTime": "2026-06-01",
        "valueCodeableConcept": {"coding": [{"system": "http://loinc.org", "code": "LA9633-4"}]},
        "component": [
            {"code": {"coding": [{"system": "http://loinc.org", "code": "48018-6"}]},
             "valueCodeableConcept": {"coding": [{"system": "http://www.genenames.org/geneId",
                                                  "code": "HGNC:9967", "display": "RET"}]}},
            {"code": {"coding": [{"system": "http://loinc.org", "code": "48005-3"}]},
             "valueCodeableConcept": {"text": "p.Met918Thr"}},
        ],
    }
    body = assert_valid_response(post(client, "mtc-medullary", [drug("selp", "2370147")],
                                      edit=add_resource(variant)))
    on_label = [o["drug"] for o in
                body["extension"]["rair-cds"]["assessment"]["therapies"]["onLabel"]]
    if "selpercatinib" not in on_label:
        pytest.skip("the assessment did not read the RET M918T variant from this sample")
    assert "order-driver-missing" not in by_order(body)["MedicationRequest/selp"]


# -- H4: pregnancy and lactation ----------------------------------------------------------------


def test_diagnostic_activity_i131_in_pregnancy_is_critical(client, assert_valid_response):
    """H4: RAI is contraindicated in pregnancy whatever the activity; a 2 mCi order used to pass
    silently because diagnostic-range orders returned before the pregnancy check."""
    body = assert_valid_response(post(client, "pregnant-systemic-indicated", [i131("dx", 2)]))
    cards = body["cards"]
    assert [(c["indicator"]) for c in cards] == ["critical"]
    assert "W-PREG" in cards[0]["summary"]
    assert "Rec 59B" not in cards[0]["detail"]  # not an empiric-therapy question at 2 mCi
    assert cards[0]["overrideReasons"]


def test_lactation_i131_and_tki_orders_are_blocked(client, assert_valid_response):
    """H4 as settled by §A4.11 rule 4 (issue 9): "pregnancy or lactation (W-PREG, blocking)". The
    issue-4 reading (lactation: a non-blocking caution) is superseded: every TKI and every I-131
    order, whatever the activity, gets the critical W-PREG card with a delete suggestion."""
    drafts = [i131("tx", 150), drug("lenv", "1603296"), i131("dx", 2)]
    body = assert_valid_response(post(client, "js-ii-post-therapy-no-uptake", drafts,
                                      edit=add_resource(lactating("rair-02"))))
    review = by_order(body)
    assert review["MedicationRequest/tx"] == ["order-i131-blocking"]
    assert review["MedicationRequest/lenv"] == ["order-blocking"]
    assert review["MedicationRequest/dx"] == ["order-i131-blocking"]
    for card in body["cards"]:
        assert card["indicator"] == "critical"
        assert "W-PREG" in card["summary"] and "lactation" in card["summary"]
        assert any(a["type"] == "delete" for s in card["suggestions"] for a in s["actions"])


def test_lactation_before_first_rai_blocks_i131(client, assert_valid_response):
    """H4 / §A4.11 rule 4: RAI is deferred in lactation even when RAI is otherwise expected (A2)."""
    body = assert_valid_response(post(client, "no-prior-therapeutic-rai", [i131("tx", 100)],
                                      edit=add_resource(lactating("rair-09"))))
    assert by_order(body)["MedicationRequest/tx"] == ["order-i131-blocking"]


# -- B3: JS-iii alone --------------------------------------------------------------------------


def test_i131_for_js_iii_alone_names_the_framework_discordance(client, assert_valid_response):
    """B3: with JS-iii the only criterion, Martinique supports RaIT for avid lesions while Rec 59B
    says no further empiric RAI; the warning must say both, not only Rec 59B."""
    body = assert_valid_response(post(client, "js-iii-some-lesions", [i131("tx", 100)]))
    (card,) = body["cards"]
    assert card["indicator"] == "warning"
    assert "W-FRAMEWORK-DISCORDANCE" in card["detail"]
    assert "RaIT for RAI-avid lesions" in card["detail"]
    assert "Rule **B3**" in card["detail"]


def test_i131_for_js_ii_does_not_carry_the_js_iii_note(client, assert_valid_response):
    body = assert_valid_response(post(client, "js-ii-post-therapy-no-uptake", [i131("tx", 100)]))
    assert "W-FRAMEWORK-DISCORDANCE" not in body["cards"][0]["detail"]


# -- §5 / B0.3: the cumulative threshold -------------------------------------------------------


@pytest.mark.parametrize(("ordered", "unit", "over"), [
    (450, "mCi", False),      # 150 + 450 = 600 mCi = 22,200 MBq: not over (strictly greater)
    (16650, "MBq", False),
    (451, "mCi", True),       # 601 mCi = 22,237 MBq: over
    (16.687, "GBq", True),
])
def test_cumulative_threshold_is_strictly_greater(client, assert_valid_response, ordered, unit,
                                                  over):
    """§5.1 / B0.3: exactly 22,200 MBq is not >22.2 GBq; 22,237 MBq is."""
    body = assert_valid_response(post(client, "js-ii-post-therapy-no-uptake",
                                      [i131("tx", ordered, unit)]))
    (card,) = body["cards"]
    assert (">22.2 GBq" in card["summary"]) is over
    if over:
        assert "22,237 MBq" in card["detail"]
    else:
        assert "exactly 22,200 MBq" in card["detail"] and "**not**" in card["detail"]


def test_unreadable_order_on_top_of_exactly_600_mci_passes_the_threshold(
        client, assert_valid_response):
    """§5 / B0.3: with 22,200 MBq already given, any further therapeutic activity is >22.2 GBq;
    the card used to say the total "cannot be computed"."""
    body = assert_valid_response(post(client, "js-ii-post-therapy-no-uptake",
                                      [i131("tx", None)],
                                      edit=set_doses({"rair-02-rai-3": 600})))
    (card,) = body["cards"]
    assert "already at 22,200 MBq" in card["detail"]
    assert "cannot be computed" not in card["detail"]


# -- A1b: ATC / MTC ----------------------------------------------------------------------------


def test_i131_for_mtc_gets_an_information_card_only(client, assert_valid_response):
    """A1b: NOT_APPLICABLE; the RAI-R rules do not apply and the action is MDT review. Before,
    the order passed without a word; now one info card (no interruption, no override)."""
    body = assert_valid_response(post(client, "mtc-medullary", [i131("tx", 100)]))
    (card,) = body["cards"]
    assert card["indicator"] == "info"
    assert "A1b" in card["detail"] and "MDT_REVIEW_REQUIRED" in card["detail"]


# -- alert fatigue -----------------------------------------------------------------------------


def test_two_drafts_of_the_preferred_drug_give_one_info_card(client, assert_valid_response):
    """Rule 5 (at most an info card): two drafts of selpercatinib gave two identical info
    cards."""
    drafts = [drug("s1", "2370147"),
              {**drug("s2", "2370147"), "medicationCodeableConcept": {
                  "text": "Retevmo 80 MG Oral Capsule"}}]
    body = assert_valid_response(post(client, "ret-fusion-first-line", drafts))
    assert [c["indicator"] for c in body["cards"]] == ["info"]
    suppressed = body["extension"]["rair-cds"]["suppressedCards"]
    assert suppressed == [{"order": "MedicationRequest/s2", "kind": "order-preferred",
                           "reason": "same information card shown for another draft"}]


def test_a_dose_change_between_select_and_sign_shows_the_card_again(client,
                                                                    assert_valid_response):
    """Issue 4: a card shown at order-select is not repeated at order-sign for the same content;
    a changed dose is new content."""
    name, ref = "js-ii-post-therapy-no-uptake", "MedicationRequest/tx"
    first = post(client, name, [i131("tx", 150)], hook="order-select", selections=[ref])
    assert by_order(assert_valid_response(first))[ref] == ["order-i131-rair"]
    same = post(client, name, [{**i131("tx", 150), "status": "active"}])
    assert by_order(assert_valid_response(same))[ref] == []
    changed = post(client, name, [i131("tx", 200)])
    assert by_order(assert_valid_response(changed))[ref] == ["order-i131-rair"]


def test_driver_gap_yields_to_an_on_label_listing():
    """§A4.2: the assessment decides eligibility; a drug it lists as on-label gets no
    driver-missing warning even when the order-card driver table finds no driver on file."""
    import datetime as dt

    from plugin.thyroid.assessment.model import Assessment, TherapyOption
    from plugin.thyroid.clinical_model import PatientRecord
    from plugin.thyroid.orders.cards import DraftOrder, cards_for_order

    assessment = Assessment(dt.date(2026, 11, 27), rair_status="YES", rair_criteria=["JS-ii"],
                            progression="RECENT_PD", action="SYSTEMIC_FIRST_LINE",
                            on_label=[TherapyOption("selpercatinib")])
    order = DraftOrder("MedicationRequest/s", "MedicationRequest", {}, "selpercatinib",
                       drugs=("selpercatinib",))
    assert cards_for_order(order, assessment, PatientRecord(), "p1") == []
    unlisted = Assessment(dt.date(2026, 11, 27), rair_status="YES", rair_criteria=["JS-ii"],
                          progression="RECENT_PD", action="SYSTEMIC_FIRST_LINE")
    kinds = [c.kind for c in cards_for_order(order, unlisted, PatientRecord(), "p1")]
    assert kinds == ["order-driver-missing"]


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
