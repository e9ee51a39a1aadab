"""Issue 9, items 1, 2, 7 and 9: blocks that really block (DECISIONS §D4.11) and BRAF V600E after
a multikinase inhibitor (§A4.12), from the assessment to the cards and the order hooks.

Table-driven: each row is one patient (the rule-test builder), the §A4 clause it protects and the
conclusions the contract requires. Every row failed before issue 9 (the old readings: W-PREG with
no drugs, W-HTN moving ``preferred``, cabozantinib preferred for BRAF V600E, "options: sorafenib"
after a hemoptysis, RAI_EVALUATION in pregnancy, lactation not blocking, ...).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from test_thyroid_rules_builder import AS_OF, B, rair_pd

from plugin.thyroid.assessment.builder import assess, build_assessment
from plugin.thyroid.cards.render import render

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "fhir_samples" / "thyroid"
BP_HIGH = ("2026-11-20", 162, 98)


def ret(b: B) -> B:
    return b.variant("RET", "fusion", "fusion", partner="CCDC6")


def braf(b: B) -> B:
    return b.variant("BRAF", "V600E")


def len_pd(b: B) -> B:
    return b.therapy("lenvatinib", "2024-06-01", "2026-06-15", "progression")


def len_intolerance(b: B) -> B:
    """Lenvatinib stopped for intolerance in 2024; the June 2026 PD (rair_pd) follows it."""
    return b.therapy("lenvatinib", "2024-02-01", "2024-05-01", "intolerance")


def stable(b: B) -> B:
    b.r.lesion_sums.clear()
    return b.sum("2025-01-01", 40).sum("2026-06-01", 41)


def js_iii() -> B:
    return (B().histology("PTC").rai("2024-01-10", 5550).scan("2024-01-15", uptake="some")
            .sum("2025-01-01", 40).sum("2026-06-01", 50).tested().bp("2026-11-01", 120, 80))


def no_rai_female() -> B:
    return B(age=32, sex="female").histology("PTC").sum("2026-09-01", 25)


@dataclass
class Row:
    clause: str
    build: Callable[[], B]
    action: str
    preferred: set[str] = field(default_factory=set)
    on_label: set[str] | None = None
    warnings: list[tuple] = field(default_factory=list)  # (code, blocking, drugs or None)
    reasons: dict[str, str] = field(default_factory=dict)  # drug -> text in its reason
    missing: list[str] = field(default_factory=list)
    not_missing: list[str] = field(default_factory=list)
    all_held: bool | None = None


ROWS = [
    Row("§A4.11.1 RET fusion, BP 162/98: fixable W-HTN (label) on both RET inhibitors and"
        " lenvatinib (DESIGN); preferred and the action unchanged; sorafenib a caution",
        lambda: ret(rair_pd()).bp(*BP_HIGH), "SYSTEMIC_FIRST_LINE",
        preferred={"selpercatinib", "pralsetinib"},
        warnings=[("W-HTN", True, ["lenvatinib", "pralsetinib", "selpercatinib"]),
                  ("W-HTN", False, ["sorafenib"])], all_held=False),
    Row("§A4.11.1 no driver, BP uncontrolled: lenvatinib stays preferred (DESIGN block)",
        lambda: rair_pd().bp(*BP_HIGH), "SYSTEMIC_FIRST_LINE", preferred={"lenvatinib"},
        warnings=[("W-HTN", True, ["lenvatinib"]), ("W-HTN", False, ["sorafenib"])]),
    Row("§A4.11.1 after lenvatinib PD, BP uncontrolled: cabozantinib blocked (DESIGN), still"
        " preferred", lambda: len_pd(rair_pd()).bp(*BP_HIGH), "SYSTEMIC_LATER_LINE",
        preferred={"cabozantinib"}, warnings=[("W-HTN", True, ["cabozantinib"])]),
    Row("§A4.11.4 pregnant, systemic therapy indicated: W-PREG lists every offered TKI; none"
        " preferred; MDT review", lambda: rair_pd(age=30, sex="female").pregnancy(
            "2026-11-01", True), "MDT_REVIEW_REQUIRED", preferred=set(),
        on_label={"lenvatinib", "sorafenib"},
        warnings=[("W-PREG", True, ["lenvatinib", "sorafenib"])], all_held=True),
    Row("§A4.11.4 lactation is W-PREG blocking too",
        lambda: rair_pd(sex="female").flag("lactation", "2026-11-01"), "MDT_REVIEW_REQUIRED",
        warnings=[("W-PREG", True, ["lenvatinib", "sorafenib"])], all_held=True),
    Row("§A4.11.4 pregnant without prior RAI: not RAI_EVALUATION but MDT review",
        lambda: no_rai_female().pregnancy("2026-11-10", True), "MDT_REVIEW_REQUIRED",
        warnings=[("W-PREG", True, None)]),
    Row("§A4.11.4 pregnant and stable: still MONITOR",
        lambda: stable(rair_pd(age=30, sex="female")).pregnancy("2026-11-01", True), "MONITOR",
        warnings=[("W-PREG", True, None)]),
    Row("§A4.11.4 pregnant, testing incomplete: ORDER_MOLECULAR_TESTING stays",
        lambda: _untested(rair_pd(age=30, sex="female")).pregnancy("2026-11-01", True),
        "ORDER_MOLECULAR_TESTING", warnings=[("W-PREG", True, None)]),
    Row("§A4.11.4 pregnancy prompt: female of unknown age, systemic therapy indicated",
        lambda: rair_pd(age=None, sex="female"), "SYSTEMIC_FIRST_LINE",
        missing=["pregnancy status"]),
    Row("§A4.11.4 pregnancy prompt before RAI: female 32 without prior RAI",
        no_rai_female, "RAI_EVALUATION", missing=["pregnancy status"]),
    Row("§A4.11.4 no pregnancy prompt for a man without prior RAI",
        lambda: B(age=32, sex="male").histology("PTC").sum("2026-09-01", 25),
        "RAI_EVALUATION", not_missing=["pregnancy status"]),
    Row("§A4.11.5 hemoptysis after lenvatinib PD: cabozantinib (label) and sorafenib (DESIGN)"
        " blocked; every on-label option held -> MDT review",
        lambda: len_pd(rair_pd()).flag("hemorrhage", "2026-10-15"), "MDT_REVIEW_REQUIRED",
        preferred=set(), on_label={"cabozantinib", "sorafenib"},
        warnings=[("W-BLEED", True, ["cabozantinib", "sorafenib"])], all_held=True),
    Row("§A4.11.2 airway invasion holds every systemic drug: RET inhibitors not preferred",
        lambda: ret(rair_pd()).flag("airway_invasion", "2026-10-01"), "MDT_REVIEW_REQUIRED",
        preferred=set(), all_held=True,
        # the patient-level block names every drug it holds (issue 9 clinical review)
        warnings=[("W-BLEED", True, ["lenvatinib", "pralsetinib", "selpercatinib", "sorafenib"])]),
    Row("§A4.11.2 RET point mutation holds every systemic drug",
        lambda: _ret_point(rair_pd()), "MDT_REVIEW_REQUIRED", preferred=set(),
        warnings=[("W-RET-POINT", True, None)], all_held=True),
    Row("§A4.11.6 JS-iii + RECENT_PD before any systemic therapy: local therapy first",
        js_iii, "LOCAL_THERAPY_FIRST"),
    Row("§A4.11.6 JS-iii + RECENT_PD after lenvatinib: later-line systemic therapy",
        lambda: len_pd(js_iii()), "SYSTEMIC_LATER_LINE", preferred={"cabozantinib"}),
    Row("§A4.12 BRAF V600E after lenvatinib PD: D+T preferred, cabozantinib on label",
        lambda: len_pd(braf(rair_pd())), "SYSTEMIC_LATER_LINE",
        preferred={"dabrafenib+trametinib"},
        on_label={"dabrafenib+trametinib", "cabozantinib", "sorafenib"}),
    Row("§A4.12 BRAF V600E, PD after lenvatinib stopped for intolerance: D+T preferred with the"
        " MDT's 'no satisfactory alternative'; lenvatinib never preferred, with its reason",
        lambda: len_intolerance(braf(rair_pd())), "SYSTEMIC_LATER_LINE",
        preferred={"dabrafenib+trametinib"},
        on_label={"dabrafenib+trametinib", "cabozantinib", "lenvatinib", "sorafenib"},
        reasons={"dabrafenib+trametinib": "no satisfactory alternative",
                 "lenvatinib": "stopped for intolerance on 2024-05-01; a re-challenge at a"
                               " lower dose is an MDT decision"}),
    Row("§A4.12 BRAF V600E, intolerance and NO_PD: MONITOR, no option listed",
        lambda: stable(len_intolerance(braf(rair_pd()))), "MONITOR", on_label=set()),
    Row("§A4.12 after PD on D+T: cabozantinib preferred with the COSMIC-311 note",
        lambda: len_pd(braf(rair_pd())).therapy(
            "dabrafenib+trametinib", "2024-01-01", "2024-05-01", "progression"),
        "SYSTEMIC_LATER_LINE", preferred={"cabozantinib"},
        reasons={"cabozantinib": "COSMIC-311 excluded prior BRAF inhibitors"}),
    Row("§A4.12 a drug stopped for intolerance is never preferred: pralsetinib takes over",
        lambda: ret(rair_pd()).therapy("selpercatinib", "2025-01-01", "2025-03-01",
                                       "intolerance"),
        "SYSTEMIC_LATER_LINE", preferred={"pralsetinib"},
        reasons={"selpercatinib": "stopped for intolerance"}),
]


def _untested(b: B) -> B:
    b.r.genes_tested.clear()
    return b


def _ret_point(b: B) -> B:
    b.r.genes_tested.clear()
    return b.tested(("BRAF", "NTRK1", "NTRK2", "NTRK3", "ALK")).variant("RET", "M918T")


@pytest.mark.parametrize("row", ROWS, ids=[r.clause[:70] for r in ROWS])
def test_assessment(row: Row) -> None:
    a = assess(row.build().build(), AS_OF)
    j = a.to_json()
    ctx = json.dumps(j)
    assert j["action"] == row.action, ctx
    proposed = j["therapies"]["onLabel"] + j["therapies"]["guidelineSupportedOffLabel"]
    if row.preferred or row.on_label is not None or row.all_held:
        assert {t["drug"] for t in proposed if t.get("preferred")} == row.preferred, ctx
    if row.on_label is not None:
        assert {t["drug"] for t in j["therapies"]["onLabel"]} == row.on_label, ctx
    for code, blocking, drugs in row.warnings:
        match = [w for w in j["warnings"] if (w["code"], w["blocking"]) == (code, blocking)]
        assert match, ctx
        if drugs is not None:
            assert sorted(match[0].get("drugs", [])) == sorted(drugs), ctx
    for drug, text in row.reasons.items():
        (option,) = [t for t in proposed if t["drug"] == drug]
        assert text in option.get("reason", ""), ctx
    for phrase in row.missing:
        assert any(phrase in m for m in j["missingData"]), ctx
    for phrase in row.not_missing:
        assert not any(phrase in m for m in j["missingData"]), ctx
    if row.all_held is not None:
        assert a.every_option_held() is row.all_held


# -- the generic resolution (build_assessment): preferred passes to the next tier --


def _facts(*warnings: dict) -> list[dict]:
    base = [
        {"type": "status", "value": "YES", "tier": "criterion_met", "rule": "B2"},
        {"type": "action", "value": "SYSTEMIC_FIRST_LINE", "tier": "systemic_therapy",
         "rule": "D2"},
        {"type": "therapy", "drug": "lenvatinib", "list": "onLabel", "tier": "on_label",
         "rule": "F1"},
        {"type": "therapy", "drug": "sorafenib", "list": "onLabel", "tier": "on_label",
         "rule": "F1"},
        {"type": "preferred", "drug": "lenvatinib", "tier": "first_choice", "rule": "F1"},
        {"type": "preferred", "drug": "sorafenib", "tier": "next_choice", "rule": "F1"},
        {"type": "action_override", "value": "MDT_REVIEW_REQUIRED", "rule": "G1",
         "replaces": ["SYSTEMIC_FIRST_LINE"], "if_all_blocked": True},
    ]
    return base + [{"type": "warning", "rule": "F1", "blocking": True, **w} for w in warnings]


@pytest.mark.parametrize(("warnings", "preferred", "action"), [
    ((), {"lenvatinib"}, "SYSTEMIC_FIRST_LINE"),
    # a non-fixable block: preferred passes to the next option of the same tier
    (({"code": "W-BLEED", "drug": "lenvatinib"},), {"sorafenib"}, "SYSTEMIC_FIRST_LINE"),
    # a fixable block never moves preferred
    (({"code": "W-HTN", "drug": "lenvatinib", "fixable": True},), {"lenvatinib"},
     "SYSTEMIC_FIRST_LINE"),
    # every on-label option under a non-fixable block: the override applies
    (({"code": "W-BLEED", "drug": "lenvatinib"}, {"code": "W-BLEED", "drug": "sorafenib"}),
     set(), "MDT_REVIEW_REQUIRED"),
    # fixable blocks on every option: no override
    (({"code": "W-HTN", "drug": "lenvatinib", "fixable": True},
      {"code": "W-HTN", "drug": "sorafenib", "fixable": True}), {"lenvatinib"},
     "SYSTEMIC_FIRST_LINE"),
])
def test_preferred_and_override_resolution(warnings, preferred, action) -> None:
    facts = _facts(*warnings)
    a = build_assessment(AS_OF, facts, sorted({f["rule"] for f in facts}), [], "test")
    assert {o.drug for o in a.on_label if o.preferred} == preferred
    assert a.action == action


# -- cards (rules/thyroid/cards.yaml texts) ---------------------------------------------


def _cards(b: B) -> dict:
    rec = b.build()
    return {rc.kind: rc.card for rc in render(assess(rec, AS_OF), rec)}


def test_fixable_block_next_step_leads_with_blood_pressure() -> None:
    cards = _cards(ret(rair_pd()).bp(*BP_HIGH))
    status, therapy = cards["rai-status"], cards["therapy-options"]
    assert "control blood pressure before starting selpercatinib" in status.summary
    assert status.detail.startswith(
        "**Next step: Control blood pressure before starting selpercatinib")
    assert therapy.summary.startswith("Systemic options: selpercatinib, pralsetinib (preferred")
    assert "blood pressure" in therapy.summary
    assert cards["warning-W-HTN"].indicator == "critical"


@pytest.mark.parametrize(("build", "summary"), [
    (lambda: rair_pd(age=30, sex="female").pregnancy("2026-11-01", True),
     "Pregnancy or lactation: no TKI or RAI now; MDT review"),
    (lambda: len_pd(rair_pd()).flag("hemorrhage", "2026-10-15"),
     "Bleeding risk: every on-label option blocked (hemorrhage or invasion); MDT review"),
])
def test_every_option_blocked_therapy_card_says_why(build, summary) -> None:
    cards = _cards(build())
    assert cards["therapy-options"].summary == summary
    for card in cards.values():
        assert "(preferred)" not in card.summary and "options: sorafenib" not in card.summary
    assert "tumour board review required" in cards["rai-status"].summary


def test_option_notes_are_on_the_therapy_card() -> None:
    detail = _cards(len_intolerance(braf(rair_pd())))["therapy-options"].detail
    assert "no satisfactory alternative" in detail
    assert "stopped for intolerance on 2024-05-01" in detail
    detail = _cards(len_pd(braf(rair_pd())).therapy(
        "dabrafenib+trametinib", "2024-01-01", "2024-05-01", "progression"))[
        "therapy-options"].detail
    assert "COSMIC-311 excluded prior BRAF inhibitors" in detail


# -- order hooks agree with the assessment --------------------------------------------------


@pytest.fixture
def thyroid_client(make_app):
    """The real thyroid plugin (conftest's ``make_app`` defaults to the toy plugin)."""
    return make_app(PLUGINS=["plugin.thyroid"], EVALUATION_DATE="2026-11-27").test_client()


def _order(client, sample: str, rid: str, rxnorm: str) -> dict:
    pv = json.loads((SAMPLES / f"patient-view.{sample}.json").read_text(encoding="utf-8"))
    draft = {"resourceType": "MedicationRequest", "id": rid, "status": "draft",
             "intent": "order", "subject": {"reference": f"Patient/{pv['context']['patientId']}"},
             "medicationCodeableConcept": {"coding": [{
                 "system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": rxnorm}]}}
    response = client.post("/cds-services/rair-order-sign", json={
        "hook": "order-sign", "hookInstance": "9b7a4c7e-4d0e-4f53-9a51-3f1f0c8d2a19",
        "context": {"userId": "Practitioner/qa", "patientId": pv["context"]["patientId"],
                    "draftOrders": {"resourceType": "Bundle", "type": "collection",
                                    "entry": [{"resource": draft}]}},
        "prefetch": copy.deepcopy(pv["prefetch"])})
    assert response.status_code == 200, response.get_json()
    return response.get_json()


@pytest.mark.parametrize(("sample", "rxnorm", "code"), [
    ("ret-fusion-uncontrolled-bp", "2370147", "W-HTN"),      # selpercatinib, fixable block
    ("ret-fusion-uncontrolled-bp", "2394936", "W-HTN"),      # pralsetinib (label, issue 9)
    ("hemoptysis-cabozantinib", "495881", "W-BLEED"),        # sorafenib (DESIGN, issue 9)
    ("hemoptysis-cabozantinib", "1363268", "W-BLEED"),       # cabozantinib (label)
    # W-PREG lists the offered TKIs and holds every drug: an unoffered one is blocked too
    ("pregnant-systemic-indicated", "2370147", "W-PREG"),
])
def test_order_hooks_flag_what_the_assessment_blocks(thyroid_client, sample, rxnorm, code,
                                                      assert_valid_response) -> None:
    body = assert_valid_response(_order(thyroid_client, sample, "d1", rxnorm))
    review = body["extension"]["rair-cds"]["orderReview"]
    assert review[0]["cards"] == ["order-blocking"]
    assert body["cards"][0]["indicator"] == "critical" and code in body["cards"][0]["summary"]


# -- item 7 and the rules README ---------------------------------------------------------

README = (ROOT / "rules" / "README.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("needle", [
    "pralsetinib hypertension", "lenvatinib hypertension", "cabozantinib hypertension",
    "cabozantinib hemorrhage", "lenvatinib hemorrhage", "sorafenib hemorrhage"])
def test_label_wording_is_recorded_for_every_block(needle: str) -> None:
    section = README.split("## Label wording", 1)[1].split("\n## ", 1)[0].lower()
    assert needle in section


def test_settled_readings_left_the_sign_off_list() -> None:
    readings = README.split("## Readings where DOMAIN.md is silent", 1)[1].split("\n## ", 1)[0]
    for settled in ("D+T first line in BRAF V600E DTC", "Pregnancy prompt age (H4)"):
        assert settled not in readings
    assert "## Issue 9" in README
