"""Scenarios (issue 9): blocks and BRAF V600E after a multikinase inhibitor."""

from __future__ import annotations

from sample_builder.blocks import js_ii_base
from sample_builder.patient import Patient
from sample_builder.registry import scenario

# --- issue 9: blocks and BRAF after MKI ---

def braf_after_lenvatinib(p: Patient, stopped: str, sums: tuple = (28, 36)) -> None:
    """JS-ii; lenvatinib 2025-01-10..2025-06-20 stopped for ``stopped``; BRAF V600E on a
    fusion-capable panel with the other genes negative; sums after stopping ``sums``."""
    js_ii_base(p)
    p.lesion_sum("2025-01-05", 40)
    p.status("2025-01-05", "worsened")
    p.therapy("lenvatinib", "2025-01-10", "2025-06-20", stopped=stopped)
    p.lesion_sum("2025-08-01", sums[0])
    p.lesion_sum("2026-07-15", sums[1])
    if sums[1] > sums[0]:
        p.status("2026-07-15", "worsened")
    p.variant("BRAF", p_hgvs="NP_004324.2:p.Val600Glu", c_hgvs="NM_004333.4:c.1799T>A",
              vaf=0.3, date="2024-12-01")
    p.negatives(("RET", "NTRK1", "NTRK2", "NTRK3", "ALK"), date="2024-12-01")
    p.bp("2026-11-10", 128, 78)


BRAF_V600E = [{"gene": "BRAF", "alteration": "V600E", "kind": "snv"}]


@scenario("braf-v600e-after-lenvatinib-pd",
          "BRAF V600E, PD after lenvatinib (stopped for progression): dabrafenib+trametinib "
          "preferred, cabozantinib on label",
          {"rairStatus": "YES", "rairCriteria": ["JS-ii"], "progression": "RECENT_PD",
           "action": "SYSTEMIC_LATER_LINE", "suggestMolecularTesting": False,
           "drivers": BRAF_V600E,
           "therapies": {"onLabel": [{"drug": "dabrafenib+trametinib", "preferred": True},
                                     {"drug": "cabozantinib", "preferred": False}],
                         "notEligible": [{"drug": "lenvatinib"}]},
           "rulesFired": ["G1", "G3"]},
          "§A4.12 (issue 9, supersedes G3): both on label; D+T preferred because ATA 2025 Rec 66 "
          "offers cabozantinib to tumours without an actionable driver (Rec 70B not retrieved).")
def _(p: Patient) -> None:
    braf_after_lenvatinib(p, "progression")


@scenario("braf-v600e-after-lenvatinib-intolerance",
          "BRAF V600E, PD after lenvatinib stopped for intolerance: D+T preferred (MDT confirms "
          "no satisfactory alternative); lenvatinib never preferred",
          {"rairStatus": "YES", "rairCriteria": ["JS-ii"], "progression": "RECENT_PD",
           "action": "SYSTEMIC_LATER_LINE", "suggestMolecularTesting": False,
           "drivers": BRAF_V600E,
           "therapies": {"onLabel": [{"drug": "dabrafenib+trametinib", "preferred": True},
                                     {"drug": "cabozantinib", "preferred": False},
                                     {"drug": "lenvatinib", "preferred": False}]},
           "rulesFired": ["G1", "G3"]},
          "§A4.12: cabozantinib's 'progressed following prior VEGFR-targeted therapy' is met; "
          "D+T's 'no satisfactory alternative' is for the MDT to confirm (said on the option); "
          "lenvatinib stays on label with 'stopped for intolerance on 2025-06-20; a re-challenge "
          "at a lower dose is an MDT decision'.")
def _(p: Patient) -> None:
    braf_after_lenvatinib(p, "intolerance")


@scenario("braf-v600e-lenvatinib-intolerance-no-pd",
          "BRAF V600E, lenvatinib stopped for intolerance, no progression since: monitor, "
          "no option",
          {"rairStatus": "YES", "rairCriteria": ["JS-ii"], "progression": "NO_PD",
           "action": "MONITOR", "suggestMolecularTesting": False, "drivers": BRAF_V600E,
           "therapiesAbsent": {"onLabel": ["dabrafenib+trametinib", "cabozantinib", "lenvatinib",
                                           "sorafenib"],
                               "guidelineSupportedOffLabel": ["cabozantinib"]},
           "rulesFired": ["D1"]},
          "§A4.12 / G2: intolerance without progression -> D1 monitoring; no drug is listed.")
def _(p: Patient) -> None:
    braf_after_lenvatinib(p, "intolerance", sums=(28, 28))


@scenario("pregnant-no-prior-rai",
          "Pregnant, no prior therapeutic RAI: RAI deferred, MDT review (not RAI evaluation)",
          {"rairStatus": "NOT_ESTABLISHED", "rairCriteria": [], "action": "MDT_REVIEW_REQUIRED",
           "suggestMolecularTesting": False,
           "warnings": [{"code": "W-PREG", "blocking": True}], "rulesFired": ["A2", "H4"]},
          "§A4.11 rule 4 (issue 9): where §A4.1 would give RAI_EVALUATION, pregnancy gives "
          "MDT_REVIEW_REQUIRED (RAI is contraindicated in pregnancy).")
def _(p: Patient) -> None:
    p.resources[0]["birthDate"] = "1994-06-06"
    p.lesion_sum("2026-09-01", 25)
    p.pregnancy("2026-11-10", True)
