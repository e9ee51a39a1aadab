"""Issue 9, histology and eligibility gaps (DECISIONS §D4.14): PDTC inside the framework,
``rair#rai-ineligible``, unknown age, NTRK resistance classes, the MTC card."""

from __future__ import annotations

import pytest
import yaml
from test_thyroid_rules_builder import AS_OF, B, rair_pd

from plugin.thyroid import clinical_model as cm
from plugin.thyroid.assessment.builder import assess
from plugin.thyroid.cards.render import render
from plugin.thyroid.knowledge.loader import default_folder
from plugin.thyroid.reading.record import read_record

LOINC = "http://loinc.org"
RAIR = "https://rair-cds.org/fhir/CodeSystem/concepts"


def _cc(system: str, code: str) -> dict:
    return {"coding": [{"system": system, "code": code}]}


# --- §A4.14: PDTC inside the framework ----------------------------------------------------------


def _condition(**code: object) -> dict:
    return {"resourceType": "Condition", "id": "c1", "subject": {"reference": "Patient/p1"},
            "code": code}


PDTC_ENCODINGS = {
    "ICD-O-3 8337/3": _condition(coding=[
        {"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": "C73"},
        {"system": "http://terminology.hl7.org/CodeSystem/icd-o-3", "code": "8337/3"}]),
    "text poorly differentiated": _condition(
        coding=[{"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": "C73"}],
        text="Poorly differentiated thyroid carcinoma"),
    "text insular": _condition(
        coding=[{"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": "C73"}],
        text="Insular carcinoma of thyroid"),
}


@pytest.mark.parametrize("name", sorted(PDTC_ENCODINGS))
def test_pdtc_is_assessed_as_dtc_with_mdt_review(name: str) -> None:
    (dx,) = read_record([PDTC_ENCODINGS[name]]).diagnoses
    assert dx.histology is cm.Histology.PDTC, name
    b = rair_pd()
    b.r.diagnoses[:] = [dx]
    a = assess(b.build(), AS_OF)
    j = a.to_json()
    assert (j["rairStatus"], j["rairCriteria"], j["action"]) == (
        "YES", ["JS-ii"], "MDT_REVIEW_REQUIRED"), j
    assert {"code": "W-HISTOLOGY-PDTC", "blocking": False} in j["warnings"], j
    assert {t["drug"] for t in j["therapies"]["onLabel"]} == {"lenvatinib", "sorafenib"}
    cards = render(a, b.build())
    assert all("histology unknown" not in (c.card.summary + c.card.detail).lower()
               for c in cards)
    status = next(c.card for c in cards if c.kind == "rai-status")
    assert "poorly differentiated" in status.summary, status.summary
    assert "outside ATA 2025's DTC definition" in status.detail


def test_stable_pdtc_is_monitored_not_sent_to_mdt() -> None:
    b = B().histology("PDTC").rai("2024-01-10", 5550).scan("2024-01-15").sum(
        "2025-01-01", 40).sum("2026-06-01", 41).tested()
    j = assess(b.build(), AS_OF).to_json()
    assert (j["rairStatus"], j["action"]) == ("YES", "MONITOR"), j
    assert any(w["code"] == "W-HISTOLOGY-PDTC" for w in j["warnings"])


# --- §A4.14: RAI judged not appropriate ---------------------------------------------------------


def _ineligible_obs(**value: object) -> dict:
    return {"resourceType": "Observation", "id": "ri", "status": "final",
            "code": _cc(RAIR, "rai-ineligible"), "effectiveDateTime": "2026-10-01",
            "subject": {"reference": "Patient/p1"}, **value}


INELIGIBLE_ENCODINGS = {
    "Observation valueBoolean true": _ineligible_obs(valueBoolean=True),
    "Observation present (no value)": _ineligible_obs(),
    "Condition": {"resourceType": "Condition", "id": "ri", "code": _cc(RAIR, "rai-ineligible"),
                  "clinicalStatus": _cc("http://terminology.hl7.org/CodeSystem/"
                                        "condition-clinical", "active"),
                  "subject": {"reference": "Patient/p1"}, "recordedDate": "2026-10-01"},
}


def _no_rai_ret_fusion() -> B:
    """RET fusion, RECENT_PD, no RAI ever given (no scans): A2 would say RAI_EVALUATION."""
    return (B().histology("PTC").sum("2025-01-01", 40).sum("2026-06-01", 50).tested()
            .bp("2026-11-01", 120, 80).variant("RET", "fusion", "fusion", partner="CCDC6"))


@pytest.mark.parametrize("name", sorted(INELIGIBLE_ENCODINGS))
def test_rai_ineligible_read_in_each_encoding(name: str) -> None:
    b = _no_rai_ret_fusion()
    b.r.rai_ineligible[:] = read_record([INELIGIBLE_ENCODINGS[name]]).rai_ineligible
    a = assess(b.build(), AS_OF)
    j = a.to_json()
    assert (j["rairStatus"], j["action"]) == ("NOT_ESTABLISHED", "MDT_REVIEW_REQUIRED"), j
    assert "A2b" in j["rulesFired"]
    on = {t["drug"]: t for t in j["therapies"]["onLabel"]}
    assert set(on) == {"selpercatinib", "pralsetinib"} and on["selpercatinib"]["preferred"]
    ne = {t["drug"]: t["reason"] for t in j["therapies"]["notEligible"]}
    assert "RAI-refractory" in ne["lenvatinib"] and "RAI-refractory" in ne["sorafenib"]
    cards = {c.kind: c.card for c in render(a, b.build())}
    assert "RAI judged not appropriate" in cards["rai-status"].summary
    assert cards["therapy-options"].summary.startswith("Systemic options: selpercatinib")


def test_rai_ineligible_false_changes_nothing() -> None:
    b = _no_rai_ret_fusion()
    b.r.rai_ineligible[:] = read_record([_ineligible_obs(valueBoolean=False)]).rai_ineligible
    assert assess(b.build(), AS_OF).action == "RAI_EVALUATION"


def _ineligible(b: B) -> B:
    return b.flag("rai_ineligible", "2026-10-01")


@pytest.mark.parametrize(
    ("label", "build", "on_label", "not_eligible"),
    [
        ("no driver, no prior TKI", lambda: _ineligible(rair_pd()), set(),
         {"lenvatinib", "sorafenib", "cabozantinib"}),
        ("after lenvatinib PD: cabozantinib (RAI-refractory or ineligible)",
         lambda: _ineligible(rair_pd().therapy("lenvatinib", "2025-02-01", "2026-06-15",
                                               "progression")),
         {"cabozantinib"}, {"lenvatinib", "sorafenib"}),
        ("NTRK fusion: NTRK inhibitors", lambda: _ineligible(
            rair_pd().variant("NTRK3", "fusion", "fusion", partner="ETV6")),
         {"larotrectinib", "entrectinib", "repotrectinib"}, {"lenvatinib", "sorafenib"}),
        ("BRAF V600E: dabrafenib+trametinib (tumour-agnostic)", lambda: _ineligible(
            rair_pd().variant("BRAF", "V600E")),
         {"dabrafenib+trametinib"}, {"lenvatinib", "sorafenib"}),
    ],
)
def test_rai_ineligible_lists_follow_each_label(label, build, on_label, not_eligible) -> None:
    b = build()
    a = assess(b.build(), AS_OF)
    j = a.to_json()
    assert (j["rairStatus"], j["action"]) == ("NOT_ESTABLISHED", "MDT_REVIEW_REQUIRED"), label
    assert {t["drug"] for t in j["therapies"]["onLabel"]} == on_label, (label, j)
    assert not_eligible <= {t["drug"] for t in j["therapies"]["notEligible"]}, (label, j)
    therapy = next(c.card for c in render(a, b.build()) if c.kind == "therapy-options")
    if not on_label:  # says why, never a bare "no on-label option"
        assert "RAI is judged not appropriate" in therapy.summary, therapy.summary


def test_rai_ineligible_scan_gap_is_not_complete_data() -> None:
    b = _ineligible(B().histology("PTC").rai("2024-01-10", 5550).sum("2025-01-01", 40)
                    .sum("2026-06-01", 50).tested())
    j = assess(b.build(), AS_OF).to_json()
    assert (j["rairStatus"], j["action"]) == ("NOT_ESTABLISHED", "MDT_REVIEW_REQUIRED"), j


@pytest.mark.parametrize(("hist", "status"), [("ATC", "NOT_APPLICABLE"), ("MTC", "NOT_APPLICABLE"),
                                              (None, "NOT_ESTABLISHED")])
def test_atc_mtc_and_missing_histology_come_first(hist, status) -> None:
    b = _ineligible(B().histology(hist).rai("2024-01-10", 5550).scan("2024-01-15").tested())
    j = assess(b.build(), AS_OF).to_json()
    assert j["rairStatus"] == status and "A2b" not in j["rulesFired"], j
    assert j["action"] == ("COMPLETE_DATA" if hist is None else "MDT_REVIEW_REQUIRED"), j


# --- §A4.14: age unknown -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("label", "build", "expected"),
    [
        ("no driver", lambda: rair_pd(age=None), {"lenvatinib", "sorafenib"}),
        ("RET fusion", lambda: rair_pd(age=None).variant("RET", "fusion", "fusion"),
         {"lenvatinib", "sorafenib", "selpercatinib", "pralsetinib"}),
        ("after lenvatinib PD", lambda: rair_pd(age=None).therapy(
            "lenvatinib", "2025-02-01", "2026-06-15", "progression"),
         {"cabozantinib", "sorafenib"}),
    ],
)
def test_unknown_age_keeps_age_limited_drugs(label, build, expected) -> None:
    b = build()
    a = assess(b.build(), AS_OF)
    j = a.to_json()
    assert {t["drug"] for t in j["therapies"]["onLabel"]} == expected, (label, j)
    assert "date of birth (label age limits)" in j["missingData"], j
    assert all(w["code"] != "W-PEDS-AGE" for w in j["warnings"])
    for c in render(a, b.build()):
        assert "no on-label option" not in c.card.summary.lower(), c.card.summary


# --- §A4.14 / G4: NTRK resistance classes (data in rules/) ---------------------------------------


def _ntrk_after_larotrectinib(gene: str, change: str | None, off_target: bool = False) -> B:
    b = rair_pd().variant(gene, "fusion", "fusion", partner="ETV6").therapy(
        "larotrectinib", "2025-01-01", "2026-06-15", "progression")
    if change:
        b.variant(gene, change)
    if off_target:
        b.variant("BRAF", "V600E")
    return b


def _classes() -> dict:
    data = yaml.safe_load((default_folder() / "therapies.yaml").read_text(encoding="utf-8"))
    return data["ntrk_resistance"]["classes"]


RESISTANCE = [(cls, gene, change) for cls, genes in sorted(_classes().items())
              for gene, changes in sorted(genes.items()) for change in changes]


def test_resistance_table_covers_the_contract() -> None:
    c = _classes()
    assert c["solvent_front"] == {"NTRK1": ["G595R"], "NTRK2": ["G639R"], "NTRK3": ["G623R"]}
    assert c["gatekeeper"] == {"NTRK1": ["F589L"], "NTRK3": ["F617L"]}
    assert c["xdfg"] == {"NTRK1": ["G667C", "G667A", "G667S"],
                         "NTRK3": ["G696C", "G696A", "G696S"]}


@pytest.mark.parametrize(("cls", "gene", "change"), RESISTANCE)
def test_ntrk_resistance_class_decides_repotrectinib(cls: str, gene: str, change: str) -> None:
    j = assess(_ntrk_after_larotrectinib(gene, change).build(), AS_OF).to_json()
    repo = next(t for t in j["therapies"]["onLabel"] if t["drug"] == "repotrectinib")
    ne = {t["drug"] for t in j["therapies"]["notEligible"]}
    assert {"larotrectinib", "entrectinib"} <= ne, j
    if cls == "xdfg":
        assert "limited expected activity" in repo["reason"] and not repo.get("preferred"), j
        assert j["action"] == "MDT_REVIEW_REQUIRED", j
    else:
        assert repo.get("preferred") and "reason" not in repo, j
        assert j["action"] == "SYSTEMIC_LATER_LINE", j


def test_off_target_braf_after_ntrk_inhibitor_limits_repotrectinib() -> None:
    b = _ntrk_after_larotrectinib("NTRK3", None, off_target=True)
    a = assess(b.build(), AS_OF)
    j = a.to_json()
    repo = next(t for t in j["therapies"]["onLabel"] if t["drug"] == "repotrectinib")
    assert "limited expected activity" in repo["reason"], j
    assert j["action"] == "MDT_REVIEW_REQUIRED", j
    status = next(c.card for c in render(a, b.build()) if c.kind == "rai-status")
    assert "repotrectinib: limited expected activity" in status.summary, status.summary


def test_ntrk_fusion_before_any_inhibitor_keeps_repotrectinib_preferred() -> None:
    j = assess(rair_pd().variant("NTRK1", "fusion", "fusion").variant("BRAF", "V600E").build(),
               AS_OF).to_json()
    prefs = {t["drug"] for t in j["therapies"]["onLabel"] if t.get("preferred")}
    assert {"larotrectinib", "entrectinib", "repotrectinib"} <= prefs, j


# --- §A4.14: the MTC card ------------------------------------------------------------------------


def test_mtc_card_names_work_up_and_options() -> None:
    b = B().histology("MTC").variant("RET", "M918T")
    a = assess(b.build(), AS_OF)
    status = next(c.card for c in render(a, b.build()) if c.kind == "rai-status")
    text = status.summary + status.detail
    for phrase in ("germline RET testing", "calcitonin", "CEA", "selpercatinib (US >= 2 years)",
                   "cabozantinib (capsules)", "vandetanib", "MTC pathway"):
        assert phrase in text, phrase
