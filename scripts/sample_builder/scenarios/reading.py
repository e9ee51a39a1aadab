"""Scenarios (issue 9): reading drivers and histology."""

from __future__ import annotations

from sample_builder.blocks import js_ii_base, ntrk3_fusion_pd_on_larotrectinib, recent_pd
from sample_builder.codes import ICDO3, LOINC, SNOMED, cc
from sample_builder.patient import Patient
from sample_builder.registry import scenario

# --- issue 9: reading drivers and histology ---
# DECISIONS §D4.13 (reading drivers) and §A4.14 (histology and eligibility gaps).

LEGACY_EXT = "http://hl7.org/fhir/StructureDefinition/"


def set_histology(p: Patient, morph: str, display: str) -> None:
    """Replace the ICD-O-3 morphology of the patient's thyroid-cancer Condition."""
    cond = next(r for r in p.resources if r["resourceType"] == "Condition")
    cond["code"]["coding"][1] = {"system": ICDO3, "code": morph, "display": display}
    cond["code"]["text"] = f"Thyroid carcinoma ({display.lower()})"


def legacy_braf_v600e(p: Patient, date: str) -> None:
    """BRAF V600E in the legacy R4 genetics-extension shape: ``observation-geneticsGene`` and the
    complex ``observation-geneticsAminoAcidChange`` with its ``Name`` / ``Type`` sub-extensions."""
    p.add({
        "resourceType": "Observation", "id": p.next_id("var"), "status": "final",
        "extension": [
            {"url": LEGACY_EXT + "observation-geneticsGene",
             "valueCodeableConcept": cc("http://www.genenames.org", "1097", "BRAF")},
            {"url": LEGACY_EXT + "observation-geneticsAminoAcidChange", "extension": [
                {"url": "Name", "valueCodeableConcept": {"text": "p.V600E"}},
                {"url": "Type", "valueCodeableConcept": cc(SNOMED, "36845000", "Missense")}]},
            {"url": LEGACY_EXT + "observation-geneticsGenomicSourceClass",
             "valueCodeableConcept": cc(LOINC, "LA6684-0", "somatic")},
        ],
        "code": cc(LOINC, "55233-1", "Genetic analysis master panel"),
        "subject": p.ref, "effectiveDateTime": date,
        "valueCodeableConcept": cc(LOINC, "LA9633-4", "Present"),
    })


@scenario("pdtc-poorly-differentiated",
          "Poorly differentiated carcinoma (8337/3), JS-ii, recent PD: MDT review",
          {"rairStatus": "YES", "rairCriteria": ["JS-ii"], "progression": "RECENT_PD",
           "action": "MDT_REVIEW_REQUIRED", "suggestMolecularTesting": False, "drivers": [],
           "therapies": {"onLabel": [{"drug": "lenvatinib", "preferred": True},
                                     {"drug": "sorafenib"}]},
           "warnings": [{"code": "W-HISTOLOGY-PDTC", "blocking": False}],
           "rulesFired": ["A1", "B2", "F1"]},
          "§A4.14: PDTC is follicular-cell-derived; the status and lists are computed as for DTC, "
          "W-HISTOLOGY-PDTC notes it is outside ATA 2025's DTC definition, and systemic therapy "
          "goes to MDT review first.")
def _(p: Patient) -> None:
    set_histology(p, "8337/3", "Poorly differentiated thyroid carcinoma")
    js_ii_base(p)
    recent_pd(p)
    p.negatives()


@scenario("no-birth-date",
          "No date of birth, JS-ii, recent PD, panel negative: lenvatinib stays listed",
          {"rairStatus": "YES", "rairCriteria": ["JS-ii"], "progression": "RECENT_PD",
           "action": "SYSTEMIC_FIRST_LINE", "suggestMolecularTesting": False, "drivers": [],
           "therapies": {"onLabel": [{"drug": "lenvatinib", "preferred": True},
                                     {"drug": "sorafenib"}]},
           "missingDataIncludes": ["date of birth (label age limits)"],
           "rulesFired": ["F1", "H1"]},
          "§A4.14: an unknown age keeps age-limited drugs in their lists; missingData asks for the "
          "date of birth.")
def _(p: Patient) -> None:
    del p.resources[0]["birthDate"]
    js_ii_base(p)
    recent_pd(p)
    p.negatives()


@scenario("braf-v600e-legacy-extension",
          "BRAF V600E in the legacy R4 amino-acid-change extension, JS-ii, recent PD",
          {"rairStatus": "YES", "rairCriteria": ["JS-ii"], "progression": "RECENT_PD",
           "action": "SYSTEMIC_FIRST_LINE", "suggestMolecularTesting": False,
           "drivers": [{"gene": "BRAF", "alteration": "V600E", "kind": "snv"}],
           "therapies": {"onLabel": [{"drug": "lenvatinib", "preferred": True}],
                         "trialOnly": [{"drug": "dabrafenib+trametinib"}]},
           "rulesFired": ["F5"]},
          "§A4.13: p.V600E in the Name sub-extension of observation-geneticsAminoAcidChange is "
          "BRAF V600E (never 'BRAF unknown' and never W-BRAF-NONV600E). RET/NTRK/ALK negative "
          "on an RNA fusion panel.")
def _(p: Patient) -> None:
    js_ii_base(p)
    recent_pd(p)
    legacy_braf_v600e(p, "2026-08-20")
    p.negatives(("RET", "NTRK1", "NTRK2", "NTRK3", "ALK"))


@scenario("braf-v600e-dna-only",
          "BRAF V600E on a DNA-only panel, JS-ii, recent PD: RNA fusion testing not done",
          {"rairStatus": "YES", "rairCriteria": ["JS-ii"], "progression": "RECENT_PD",
           "action": "ORDER_MOLECULAR_TESTING", "suggestMolecularTesting": True,
           "drivers": [{"gene": "BRAF", "alteration": "V600E", "kind": "snv"}],
           "rulesFired": ["E1"]},
          "§A4.13: a DNA-only BRAF V600E is a known driver, but fusion status stays unknown (E4) "
          "until a fusion-capable assay is on file; the testing card says so.")
def _(p: Patient) -> None:
    js_ii_base(p)
    recent_pd(p)
    p.variant("BRAF", p_hgvs="NP_004324.2:p.Val600Glu", c_hgvs="NM_004333.4:c.1799T>A",
              rna=False)


@scenario("rai-ineligible-ret-fusion",
          "RAI judged not appropriate, CCDC6::RET fusion, recent PD: MDT review, RET inhibitors",
          {"rairStatus": "NOT_ESTABLISHED", "rairCriteria": [], "progression": "RECENT_PD",
           "action": "MDT_REVIEW_REQUIRED", "suggestMolecularTesting": False,
           "drivers": [{"gene": "RET", "alteration": "fusion", "kind": "fusion",
                        "partner": "CCDC6"}],
           "therapies": {"onLabel": [{"drug": "selpercatinib", "preferred": True},
                                     {"drug": "pralsetinib", "preferred": True}],
                         "notEligible": [{"drug": "lenvatinib"}, {"drug": "sorafenib"}]},
           "rulesFired": ["A2b", "F2"]},
          "§A4.14: rair#rai-ineligible (no RAI given): NOT_ESTABLISHED, MDT review (never "
          "RAI_EVALUATION); selpercatinib/pralsetinib ('RAI-refractory if RAI is appropriate') on "
          "label, lenvatinib/sorafenib (RAI-refractory labels) not eligible.")
def _(p: Patient) -> None:
    p.flag("rai-ineligible", "2026-09-01", True)
    recent_pd(p)
    p.variant("RET", fusion_partner="CCDC6", text="CCDC6::RET fusion detected by RNA NGS")
    p.bp("2026-11-10", 126, 80)


@scenario("ntrk-resistance-xdfg",
          "ETV6::NTRK3 with PD on larotrectinib and NTRK3 G696A (xDFG): MDT review",
          {"rairStatus": "YES", "rairCriteria": ["JS-ii"], "progression": "RECENT_PD",
           "action": "MDT_REVIEW_REQUIRED", "suggestMolecularTesting": False,
           "therapies": {"onLabel": [{"drug": "repotrectinib", "preferred": False}],
                         "notEligible": [{"drug": "larotrectinib"}, {"drug": "entrectinib"}]},
           "rulesFired": ["G4"]},
          "§A4.14 / G4: an xDFG substitution: repotrectinib listed with 'limited expected "
          "activity' and MDT review (classes in rules/thyroid/therapies.yaml).")
def _(p: Patient) -> None:
    ntrk3_fusion_pd_on_larotrectinib(p)
    p.variant("NTRK3", p_hgvs="NP_001012338.1:p.Gly696Ala", date="2026-08-20", vaf=0.1,
              text="NTRK3 G696A (xDFG) acquired resistance mutation")
