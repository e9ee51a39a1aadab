"""The rule table, F first line and G later lines (DOMAIN.md Part B §2; machinery:
tests/rules_table_helpers.py)."""

from __future__ import annotations

import pytest
from rules_table_helpers import NO_DRIVER_US, Row, check, rebirth, rule_row, sums
from test_thyroid_rules_builder import rair_pd

ROWS = [
    # ---------------------------------------------------------------- F first line
    rule_row(
        "F2",
        "RET fusion -> selpercatinib, pralsetinib preferred",
        lambda: rair_pd().variant("RET", "fusion", "fusion", partner="CCDC6"),
        on_label={"selpercatinib", "pralsetinib", "lenvatinib", "sorafenib"},
        preferred={"selpercatinib", "pralsetinib"},
        drivers=[{"gene": "RET", "alteration": "fusion", "kind": "fusion", "partner": "CCDC6"}],
        warnings=[
            ("W-ACCEL", False, ("pralsetinib",)),
            ("W-INFECTION", False, ("pralsetinib",)),
            ("W-HTN", False, ("lenvatinib", "pralsetinib", "selpercatinib", "sorafenib")),
        ],
    ),
    rule_row(
        "F3",
        "NTRK3 fusion -> NTRK inhibitors preferred",
        lambda: rair_pd().variant("NTRK3", "fusion", "fusion", partner="ETV6"),
        on_label={"larotrectinib", "entrectinib", "repotrectinib", "lenvatinib", "sorafenib"},
        preferred={"larotrectinib", "entrectinib", "repotrectinib"},
        warnings=[("W-ACCEL", False, ("entrectinib", "repotrectinib"))],
    ),
    rule_row(
        "F4",
        "ALK fusion -> crizotinib off-label, guideline-supported",
        lambda: rair_pd().variant("ALK", "fusion", "fusion", partner="EML4"),
        off_label={"crizotinib"},
        preferred={"crizotinib"},
        on_label=NO_DRIVER_US,
        warnings=[("W-OFF-LABEL", False, ("crizotinib",))],
    ),
    rule_row(
        "F5 F8 F9",
        "BRAF V600E adult first line: lenvatinib preferred, D+T trial",
        lambda: rair_pd().variant("BRAF", "V600E"),
        on_label=NO_DRIVER_US,
        preferred={"lenvatinib"},
        trial={"dabrafenib+trametinib": "NCT03244956"},
        not_eligible={"vemurafenib": "off-label"},
        drivers=[{"gene": "BRAF", "alteration": "V600E", "kind": "snv"}],
    ),
    rule_row(
        "F5 H1",
        "BRAF V600E age 15: D+T on label (no satisfactory alternative)",
        lambda: rebirth(rair_pd(age=15).variant("BRAF", "V600E")),
        on_label={"dabrafenib+trametinib"},
        not_eligible={"lenvatinib": "adults only", "sorafenib": "pediatric use not established"},
        warnings=[
            ("W-PEDS-AGE", True, ("lenvatinib", "sorafenib")),
            ("W-ACCEL", False, ("dabrafenib+trametinib",)),
        ],
    ),
    rule_row(
        "F6",
        "BRAF K601E: not V600E",
        lambda: rair_pd().variant("BRAF", "K601E"),
        warnings=[("W-BRAF-NONV600E", False)],
        preferred={"lenvatinib"},
        not_eligible={"dabrafenib+trametinib": "other than V600E"},
    ),
    rule_row(
        "F7",
        "NRAS Q61R: redifferentiation trial only",
        lambda: rair_pd().variant("NRAS", "Q61R"),
        trial={"trametinib": "NCT03244956"},
        preferred={"lenvatinib"},
    ),
    # ---------------------------------------------------------------- G later lines
    rule_row(
        "G1",
        "PD on lenvatinib (stopped for progression) -> cabozantinib",
        lambda: rair_pd().therapy("lenvatinib", "2024-06-01", "2026-06-15", "progression"),
        action="SYSTEMIC_LATER_LINE",
        on_label={"cabozantinib", "sorafenib"},
        preferred={"cabozantinib"},
        not_eligible={"lenvatinib": "progressed"},
    ),
    rule_row(
        "G2",
        "lenvatinib stopped for intolerance, no PD after it, symptomatic -> cabozantinib off-label",
        lambda: (
            sums(rair_pd(), (40, 41))
            .flag("symptomatic", "2026-10-01")
            .therapy("lenvatinib", "2024-02-01", "2024-05-01", "intolerance")
        ),
        action="SYSTEMIC_LATER_LINE",
        off_label={"cabozantinib"},
        warnings=[("W-OFF-LABEL", False, ("cabozantinib",))],
    ),
    rule_row(
        "G1 G2",
        "§A4.12: PD after lenvatinib stopped for intolerance meets cabozantinib's label",
        lambda: rair_pd().therapy("lenvatinib", "2024-02-01", "2024-05-01", "intolerance"),
        action="SYSTEMIC_LATER_LINE",
        on_label={"cabozantinib", "lenvatinib", "sorafenib"},
        preferred={"cabozantinib"},
    ),
    rule_row(
        "G3",
        "BRAF V600E after PD on lenvatinib -> cabozantinib and D+T on label",
        lambda: (
            rair_pd()
            .variant("BRAF", "V600E")
            .therapy("lenvatinib", "2024-06-01", "2026-06-15", "progression")
        ),
        on_label={"cabozantinib", "dabrafenib+trametinib", "sorafenib"},
    ),
    rule_row(
        "G4",
        "NTRK resistance mutation after larotrectinib -> repotrectinib only",
        lambda: (
            rair_pd()
            .variant("NTRK1", "fusion", "fusion", partner="TPM3")
            .variant("NTRK1", "G595R")
            .therapy("larotrectinib", "2025-01-01", "2026-06-15", "progression")
        ),
        not_eligible={"larotrectinib": "", "entrectinib": "resistance"},
        preferred={"repotrectinib"},
    ),
    rule_row(
        "G5",
        "RET fusion found after lenvatinib -> selpercatinib in a later line",
        lambda: (
            rair_pd()
            .variant("RET", "fusion", "fusion")
            .therapy("lenvatinib", "2024-06-01", "2026-06-15", "progression")
        ),
        action="SYSTEMIC_LATER_LINE",
        # G5: the driver-targeted agent; cabozantinib on label, not preferred (Rec 66 is for
        # tumours without an actionable driver, §A4.12)
        on_label={"selpercatinib", "pralsetinib", "cabozantinib", "sorafenib"},
        preferred={"selpercatinib", "pralsetinib"},
    ),
]


@pytest.mark.parametrize("row", ROWS, ids=[f"{' '.join(r.ids)}: {r.name}" for r in ROWS])
def test_rule_table(row: Row) -> None:
    check(row)
