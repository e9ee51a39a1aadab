"""Scenarios: safety warnings and blocks (pregnancy, blood pressure, QTc, …)."""

from __future__ import annotations

from sample_builder.blocks import js_ii_base, recent_pd
from sample_builder.codes import RAIR, cc
from sample_builder.patient import Patient
from sample_builder.registry import scenario

# --- safety ----------------------------------------------------------------------------------

@scenario("pregnant-systemic-indicated",
          "Pregnant, RAIR with recent PD, no actionable driver: no TKI or RAI now, MDT review",
          {"rairStatus": "YES", "rairCriteria": ["JS-ii"], "progression": "RECENT_PD",
           "action": "MDT_REVIEW_REQUIRED", "suggestMolecularTesting": False,
           "therapies": {"onLabel": [{"drug": "lenvatinib", "preferred": False},
                                     {"drug": "sorafenib", "preferred": False}]},
           "warnings": [{"code": "W-PREG", "blocking": True,
                         "drugs": ["lenvatinib", "sorafenib"]}], "rulesFired": ["H4"]},
          "§A4.11 rule 4 (issue 9): W-PREG blocks every offered TKI (a non-fixable block), so "
          "no drug is preferred; SYSTEMIC_FIRST_LINE becomes MDT_REVIEW_REQUIRED and the therapy "
          "card says 'Pregnancy or lactation: no TKI or RAI now; MDT review'.")
def _(p: Patient) -> None:
    js_ii_base(p)
    recent_pd(p)
    p.negatives()
    p.pregnancy("2026-11-01", True)


@scenario("ret-fusion-uncontrolled-bp",
          "RET fusion with BP 162/98: control blood pressure, then selpercatinib (still preferred)",
          {"rairStatus": "YES", "rairCriteria": ["JS-ii"], "progression": "RECENT_PD",
           "action": "SYSTEMIC_FIRST_LINE", "suggestMolecularTesting": False,
           "therapies": {"onLabel": [{"drug": "selpercatinib", "preferred": True},
                                     {"drug": "pralsetinib", "preferred": True}]},
           "warnings": [{"code": "W-HTN", "blocking": True,
                         "drugs": ["selpercatinib", "pralsetinib", "lenvatinib"]},
                        {"code": "W-HTN", "blocking": False, "drugs": ["sorafenib"]}]},
          "§A4.11 rule 1 (issue 9): W-HTN is a FIXABLE block, by label for selpercatinib and "
          "pralsetinib ('do not initiate ... uncontrolled hypertension'), DESIGN for lenvatinib; "
          "sorafenib keeps a caution. Preferred does not move to another drug and the action is "
          "unchanged: the next step reads 'Control blood pressure before starting selpercatinib'. "
          "§A4.8 BP >= 140/90.")
def _(p: Patient) -> None:
    js_ii_base(p)
    recent_pd(p)
    p.variant("RET", fusion_partner="CCDC6", text="CCDC6::RET fusion detected by RNA NGS")
    p.bp("2026-11-10", 162, 98)


@scenario("hemoptysis-cabozantinib",
          "PD on lenvatinib with hemoptysis last month: every on-label option blocked, MDT review",
          {"rairStatus": "YES", "rairCriteria": ["JS-ii"], "progression": "RECENT_PD",
           "action": "MDT_REVIEW_REQUIRED", "suggestMolecularTesting": False,
           "therapies": {"onLabel": [{"drug": "cabozantinib", "preferred": False},
                                     {"drug": "sorafenib", "preferred": False}],
                         "notEligible": [{"drug": "lenvatinib"}]},
           "warnings": [{"code": "W-BLEED", "blocking": True,
                         "drugs": ["cabozantinib", "sorafenib"]}], "rulesFired": ["G1"]},
          "Active hemoptysis Condition 2026-10-20 (< 3 months, §A4.8). §A4.11 rule 5 (issue 9): "
          "W-BLEED blocks cabozantinib (label: recent hemorrhage) and sorafenib (DESIGN pending "
          "MDT); every on-label option is then under a non-fixable block, so the action is "
          "MDT_REVIEW_REQUIRED (rule 3), never 'options: sorafenib'.")
def _(p: Patient) -> None:
    js_ii_base(p)
    p.lesion_sum("2025-01-05", 40)
    p.lesion_sum("2025-06-01", 28)
    p.lesion_sum("2026-07-15", 36)
    p.status("2026-07-15", "worsened")
    p.therapy("lenvatinib", "2025-01-10", "2026-07-20", stopped="progression")
    p.negatives(date="2024-12-01")
    p.hemoptysis("2026-10-20")


@scenario("ret-point-mutation",
          "RET M918T point mutation in 'papillary' carcinoma: MDT review",
          {"rairStatus": "YES", "rairCriteria": ["JS-ii"], "progression": "RECENT_PD",
           "action": "MDT_REVIEW_REQUIRED", "suggestMolecularTesting": False,
           "drivers": [{"gene": "RET", "alteration": "M918T", "kind": "snv"}],
           "warnings": [{"code": "W-RET-POINT", "blocking": True}], "rulesFired": ["E6"]},
          "E6: not a fusion; pathology review for MTC and germline RET testing (VAF 0.48).")
def _(p: Patient) -> None:
    js_ii_base(p)
    recent_pd(p)
    p.variant("RET", p_hgvs="NP_066124.1:p.Met918Thr", c_hgvs="NM_020975.6:c.2753T>C", vaf=0.48)
    p.negatives(("BRAF", "NTRK1", "NTRK2", "NTRK3", "ALK"))


@scenario("child-ret-fusion",
          "Child aged 10 with a RET fusion: selpercatinib (>= 2 y); adult-only drugs not eligible",
          {"rairStatus": "YES", "rairCriteria": ["JS-ii"], "progression": "RECENT_PD",
           "action": "SYSTEMIC_FIRST_LINE", "suggestMolecularTesting": False,
           "drivers": [{"gene": "RET", "alteration": "fusion", "kind": "fusion",
                        "partner": "CCDC6"}],
           "therapies": {"onLabel": [{"drug": "selpercatinib", "preferred": True}],
                         "notEligible": [{"drug": "lenvatinib"}, {"drug": "sorafenib"},
                                         {"drug": "pralsetinib"}]},
           "warnings": [{"code": "W-PEDS-AGE", "blocking": True}], "rulesFired": ["H1"]},
          "H1, §A4.6: lenvatinib adults only, sorafenib not established, pralsetinib >= 12.")
def _(p: Patient) -> None:
    p.rai("2024-03-01", 50)
    p.scan("2024-03-08", "post-therapy", "no", tsh=70)
    recent_pd(p, ("2025-01-15", 24), ("2026-06-10", 31))
    p.variant("RET", fusion_partner="CCDC6", text="CCDC6::RET fusion detected by RNA NGS")


@scenario("atc-braf-v600e",
          "Anaplastic carcinoma with BRAF V600E: not applicable, urgent MDT",
          {"rairStatus": "NOT_APPLICABLE", "rairCriteria": [], "action": "MDT_REVIEW_REQUIRED",
           "suggestMolecularTesting": False,
           "drivers": [{"gene": "BRAF", "alteration": "V600E", "kind": "snv"}],
           "therapies": {"onLabel": [{"drug": "dabrafenib+trametinib"}]},
           "rulesFired": ["A1b", "H2"]},
          "A1b, H2: D+T US label for BRAF V600E ATC (2018).")
def _(p: Patient) -> None:
    p.variant("BRAF", p_hgvs="NP_004324.2:p.Val600Glu", c_hgvs="NM_004333.4:c.1799T>A",
              date="2026-11-05")


@scenario("mtc-medullary",
          "Medullary carcinoma: outside the RAI-refractory framework",
          {"rairStatus": "NOT_APPLICABLE", "rairCriteria": [], "action": "MDT_REVIEW_REQUIRED",
           "suggestMolecularTesting": False, "rulesFired": ["A1b"]},
          "A1b, H3: MTC pathway.")
def _(p: Patient) -> None:
    p.lesion_sum("2026-05-01", 30)


@scenario("pd-not-recent",
          "JS-ii with the last PD 17 months ago and no newer imaging: update imaging",
          {"rairStatus": "YES", "rairCriteria": ["JS-ii"], "progression": "PD_NOT_RECENT",
           "action": "UPDATE_IMAGING", "suggestMolecularTesting": False, "rulesFired": ["C3"]},
          "PD 2025-07-01, > 14 months before 2026-11-27 (C3).")
def _(p: Patient) -> None:
    js_ii_base(p, "2023-10-02", "2023-10-09")
    recent_pd(p, ("2024-08-01", 30), ("2025-07-01", 37))


@scenario("oligoprogression",
          "JS-ii with a single progressing site: local therapy first",
          {"rairStatus": "YES", "rairCriteria": ["JS-ii"], "progression": "RECENT_PD",
           "action": "LOCAL_THERAPY_FIRST", "suggestMolecularTesting": False,
           "rulesFired": ["D4"]},
          "rair#oligoprogression true (D4, §A4.1 step 5). Panel negative.")
def _(p: Patient) -> None:
    js_ii_base(p)
    recent_pd(p)
    p.flag("oligoprogression", "2026-06-10", True)
    p.negatives()


@scenario("symptomatic-untested",
          "Symptomatic RAIR with recent PD, not yet tested: treat without delay, test in parallel",
          {"rairStatus": "YES", "rairCriteria": ["JS-ii"], "progression": "RECENT_PD",
           "action": "SYSTEMIC_FIRST_LINE", "suggestMolecularTesting": True,
           "rulesFired": ["E1"]},
          "§A4.1 step 6: symptomatic -> therapy action; the testing card still shows (D3).")
def _(p: Patient) -> None:
    js_ii_base(p)
    recent_pd(p)
    p.flag("symptomatic-disease", "2026-11-01", True)


@scenario("cumulative-over-600-no-pd",
          "B5b: 650 mCi cumulative with avid, stable disease: not refractory",
          {"rairStatus": "NO", "rairCriteria": [], "progression": "NO_PD", "action": "MONITOR",
           "suggestMolecularTesting": False,
           "warnings": [{"code": "W-FRAMEWORK-DISCORDANCE", "blocking": False}],
           "rulesFired": ["B5b"]},
          "Cumulative 24,050 MBq without PD never makes RAIR (B5b, §5.2).")
def _(p: Patient) -> None:
    for date, mci in (("2017-03-01", 200), ("2019-05-01", 150), ("2021-06-01", 150),
                      ("2023-09-01", 150)):
        p.rai(date, mci)
    p.scan("2023-09-08", "post-therapy", "all", tsh=80)
    p.lesion_sum("2024-03-01", 20)
    p.lesion_sum("2026-08-01", 20)


@scenario("unitless-activity",
          "RAI activity recorded without a unit; JS-ii met from the post-therapy scan",
          {"rairStatus": "YES", "rairCriteria": ["JS-ii"], "progression": "RECENT_PD",
           "action": "ORDER_MOLECULAR_TESTING", "suggestMolecularTesting": True,
           "warnings": [{"code": "W-DATA-CONFLICT", "blocking": False}],
           "missingData": "non-empty", "rulesFired": ["A6"]},
          "A6: '150' with no unit is never guessed; data-quality note and W-DATA-CONFLICT.")
def _(p: Patient) -> None:
    p.rai("2024-03-01", 150, unit=None)
    p.scan("2024-03-08", "post-therapy", "no", tsh=85)
    recent_pd(p)


@scenario("unitless-cumulative-summary",
          "Summary cumulative activity '22.2' without a unit: itemized 300 mCi wins (A6)",
          {"rairStatus": "YES", "rairCriteria": ["JS-ii"], "progression": "RECENT_PD",
           "action": "ORDER_MOLECULAR_TESTING", "suggestMolecularTesting": True,
           "warnings": [{"code": "W-DATA-CONFLICT", "blocking": False}],
           "rulesFired": ["A6", "B2"]},
          "§5.4: a unitless 22.2 is 600 mCi if GBq and meaningless if mCi; never guessed. The "
          "itemized 2 x 150 mCi (11,100 MBq) is used.")
def _(p: Patient) -> None:
    p.rai("2022-05-02", 150)
    p.rai("2024-03-01", 150)
    p.scan("2024-03-08", "post-therapy", "no", tsh=85)
    p._obs("cum", cc(RAIR, "cumulative-activity", "Cumulative I-131 activity"), "2026-01-10",
           valueQuantity={"value": 22.2})
    recent_pd(p)
