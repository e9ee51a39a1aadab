"""Scenarios: later lines of therapy after progression on a first drug."""

from __future__ import annotations

from sample_builder.blocks import js_ii_base, ntrk3_fusion_pd_on_larotrectinib
from sample_builder.patient import Patient
from sample_builder.registry import scenario

# --- later lines -----------------------------------------------------------------------------

@scenario("cabozantinib-after-lenvatinib",
          "PD on lenvatinib (stopped for progression): cabozantinib second line",
          {"rairStatus": "YES", "rairCriteria": ["JS-ii"], "progression": "RECENT_PD",
           "action": "SYSTEMIC_LATER_LINE", "suggestMolecularTesting": False,
           "therapies": {"onLabel": [{"drug": "cabozantinib"}]},
           "rulesFired": ["G1"]},
          "Lenvatinib 2025-01-10..2026-07-20; nadir 28 mm (June 2025), 36 mm July 2026 "
          "(+29 %, +8 mm; C1b). Fusion-capable panel negative.")
def _(p: Patient) -> None:
    js_ii_base(p)
    p.lesion_sum("2025-01-05", 40)
    p.status("2025-01-05", "worsened")
    p.lesion_sum("2025-06-01", 28)
    p.lesion_sum("2026-07-15", 36)
    p.status("2026-07-15", "worsened")
    p.therapy("lenvatinib", "2025-01-10", "2026-07-20", stopped="progression")
    p.negatives(date="2024-12-01")


@scenario("ntrk-resistance-repotrectinib",
          "ETV6::NTRK3 with PD on larotrectinib and NTRK3 G623R: repotrectinib",
          {"rairStatus": "YES", "rairCriteria": ["JS-ii"], "progression": "RECENT_PD",
           "action": "SYSTEMIC_LATER_LINE", "suggestMolecularTesting": False,
           "therapies": {"onLabel": [{"drug": "repotrectinib"}],
                         "notEligible": [{"drug": "larotrectinib"}, {"drug": "entrectinib"}]},
           "rulesFired": ["G4"]},
          "G4: acquired solvent-front resistance mutation after larotrectinib.")
def _(p: Patient) -> None:
    ntrk3_fusion_pd_on_larotrectinib(p)
    p.variant("NTRK3", p_hgvs="NP_001012338.1:p.Gly623Arg", date="2026-08-20", vaf=0.12,
              text="NTRK3 G623R (solvent-front) acquired resistance mutation")
