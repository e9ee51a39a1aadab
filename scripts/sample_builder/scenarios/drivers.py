"""Scenarios: molecular drivers and first-line therapy."""

from __future__ import annotations

from sample_builder.blocks import js_ii_base, recent_pd
from sample_builder.patient import Patient
from sample_builder.registry import scenario

# --- drivers ---------------------------------------------------------------------------------

@scenario("braf-v600e-first-line",
          "BRAF V600E, JS-ii, recent PD: lenvatinib preferred first line",
          {"rairStatus": "YES", "rairCriteria": ["JS-ii"], "progression": "RECENT_PD",
           "action": "SYSTEMIC_FIRST_LINE", "suggestMolecularTesting": False,
           "drivers": [{"gene": "BRAF", "alteration": "V600E", "kind": "snv"}],
           "therapies": {"onLabel": [{"drug": "lenvatinib", "preferred": True},
                                     {"drug": "sorafenib"}],
                         "notEligible": [{"drug": "cabozantinib"},
                                         {"drug": "dabrafenib+trametinib"}],
                         "trialOnly": [{"drug": "dabrafenib+trametinib"}]},
           "therapiesAbsent": {"onLabel": ["dabrafenib+trametinib"],
                               "guidelineSupportedOffLabel": ["dabrafenib+trametinib"]},
           "rulesFired": ["F5", "F9"]},
          "F5 / Rec 70A: lenvatinib stays preferred; D+T is not on label first line (§A4.7: no PD "
          "on an MKI, lenvatinib/sorafenib label-eligible, poor lenvatinib candidacy not "
          "recorded), so it is notEligible with that reason; the redifferentiation trial pointer "
          "(F9, NCT03244956, the §A1 example) stays in trialOnly beside it.")
def _(p: Patient) -> None:
    js_ii_base(p)
    recent_pd(p)
    p.variant("BRAF", p_hgvs="NP_004324.2:p.Val600Glu", c_hgvs="NM_004333.4:c.1799T>A",
              vaf=0.31)


@scenario("ret-fusion-first-line",
          "CCDC6::RET fusion, JS-ii, recent PD: selpercatinib first line",
          {"rairStatus": "YES", "rairCriteria": ["JS-ii"], "progression": "RECENT_PD",
           "action": "SYSTEMIC_FIRST_LINE", "suggestMolecularTesting": False,
           "drivers": [{"gene": "RET", "alteration": "fusion", "kind": "fusion",
                        "partner": "CCDC6"}],
           "therapies": {"onLabel": [{"drug": "selpercatinib", "preferred": True},
                                     {"drug": "pralsetinib"}]},
           "warnings": [{"code": "W-ACCEL", "blocking": False, "drugs": ["pralsetinib"]},
                        {"code": "W-INFECTION", "blocking": False}],
           "rulesFired": ["F2"]},
          "F2 / Rec 68. BP 128/78 (controlled).")
def _(p: Patient) -> None:
    js_ii_base(p)
    recent_pd(p)
    p.variant("RET", fusion_partner="CCDC6",
              text="CCDC6::RET (RET/PTC1) fusion detected by RNA NGS")
    p.bp("2026-11-10", 128, 78)


@scenario("ntrk-fusion-first-line",
          "ETV6::NTRK3 fusion, JS-ii, recent PD: NTRK inhibitor first line",
          {"rairStatus": "YES", "rairCriteria": ["JS-ii"], "progression": "RECENT_PD",
           "action": "SYSTEMIC_FIRST_LINE", "suggestMolecularTesting": False,
           "drivers": [{"gene": "NTRK3", "alteration": "fusion", "kind": "fusion",
                        "partner": "ETV6"}],
           "therapies": {"onLabel": [{"drug": "larotrectinib", "preferred": True},
                                     {"drug": "entrectinib"}, {"drug": "repotrectinib"}]},
           "warnings": [{"code": "W-ACCEL", "blocking": False}],
           "rulesFired": ["F3"]},
          "F3 / Rec 67.")
def _(p: Patient) -> None:
    js_ii_base(p)
    recent_pd(p)
    p.variant("NTRK3", fusion_partner="ETV6", text="ETV6::NTRK3 fusion detected by RNA NGS")


@scenario("alk-fusion-first-line",
          "EML4::ALK fusion, JS-ii, recent PD: ALK inhibitor guideline-supported, off-label",
          {"rairStatus": "YES", "rairCriteria": ["JS-ii"], "progression": "RECENT_PD",
           "action": "SYSTEMIC_FIRST_LINE", "suggestMolecularTesting": False,
           "drivers": [{"gene": "ALK", "alteration": "fusion", "kind": "fusion",
                        "partner": "EML4"}],
           "therapies": {"guidelineSupportedOffLabel": [{"drug": "crizotinib"}],
                         "onLabel": [{"drug": "lenvatinib"}]},
           "warnings": [{"code": "W-OFF-LABEL", "blocking": False}],
           "rulesFired": ["F4"]},
          "F4 / Rec 69 (S-L): off-label ALK inhibitor; lenvatinib/sorafenib on label.")
def _(p: Patient) -> None:
    js_ii_base(p)
    recent_pd(p)
    p.variant("ALK", fusion_partner="EML4", text="EML4::ALK fusion detected by RNA NGS")


@scenario("nras-q61r-first-line",
          "NRAS Q61R only (fusion panel negative), JS-ii, recent PD: lenvatinib",
          {"rairStatus": "YES", "rairCriteria": ["JS-ii"], "progression": "RECENT_PD",
           "action": "SYSTEMIC_FIRST_LINE", "suggestMolecularTesting": False,
           "drivers": [{"gene": "NRAS", "alteration": "Q61R", "kind": "snv"}],
           "therapies": {"onLabel": [{"drug": "lenvatinib", "preferred": True}]},
           "rulesFired": ["F7"]},
          "F7: no approved RAS-targeted therapy; redifferentiation is trial only.")
def _(p: Patient) -> None:
    js_ii_base(p)
    recent_pd(p)
    p.variant("NRAS", p_hgvs="NP_002515.1:p.Gln61Arg", c_hgvs="NM_002524.4:c.182A>G", vaf=0.28)
    p.negatives()
