"""The rule table, H special populations and the §2.9 drug warnings (DOMAIN.md Part B §2;
machinery: tests/rules_table_helpers.py)."""

from __future__ import annotations

import pytest
from rules_table_helpers import NO_DRIVER_US, Row, check, rebirth, rule_row, sums
from test_thyroid_rules_builder import B, rair_pd

ROWS = [
    # ---------------------------------------------------------------- H special populations
    rule_row(
        "H1",
        "age 11 after VEGFR PD: cabozantinib below label age",
        lambda: rebirth(
            rair_pd(age=11).therapy("sorafenib", "2024-06-01", "2026-06-15", "progression")
        ),
        not_eligible={"cabozantinib": "12"},
        warnings=[("W-PEDS-AGE", True)],
    ),
    rule_row(
        "H1",
        "age 12 after VEGFR PD: cabozantinib on label",
        lambda: rebirth(
            rair_pd(age=12).therapy("sorafenib", "2024-06-01", "2026-06-15", "progression")
        ),
        on_label={"cabozantinib"},
        warnings=[("W-PEDS-AGE", True, ("lenvatinib", "sorafenib"))],
    ),
    rule_row(
        "H1",
        "age 17: lenvatinib and sorafenib not eligible",
        lambda: rebirth(rair_pd(age=17)),
        on_label=set(),
        not_eligible={"lenvatinib": "adults only", "sorafenib": "pediatric"},
        warnings=[("W-PEDS-AGE", True, ("lenvatinib", "sorafenib"))],
    ),
    rule_row(
        "F1",
        "age 18: lenvatinib on label",
        lambda: rebirth(rair_pd(age=18)),
        on_label=NO_DRIVER_US,
        no_warnings=["W-PEDS-AGE"],
    ),
    rule_row(
        "H1",
        "age 1 with RET fusion: selpercatinib below 2 years",
        lambda: rebirth(rair_pd(age=1).variant("RET", "fusion", "fusion")),
        not_eligible={"selpercatinib": "2 years", "pralsetinib": "12"},
    ),
    rule_row(
        "H1",
        "age unknown (§A4.14): age-limited drugs stay in their lists; date of birth asked",
        lambda: rair_pd(age=None),
        on_label={"lenvatinib", "sorafenib"},
        missing=["date of birth (label age limits)"],
        no_warnings=["W-PEDS-AGE"],
    ),
    rule_row(
        "H2",
        "ATC with BRAF V600E -> D+T (ATC label)",
        lambda: B().histology("ATC").variant("BRAF", "V600E"),
        status="NOT_APPLICABLE",
        on_label={"dabrafenib+trametinib"},
        no_warnings=["W-ACCEL"],
    ),
    rule_row(
        "H2 H5",
        "ATC BRAF V600E in the EU -> W-LABEL-REGION",
        lambda: B().histology("ATC").variant("BRAF", "V600E"),
        region="EU",
        warnings=[("W-LABEL-REGION", False, ("dabrafenib+trametinib",))],
    ),
    rule_row(
        "H4",
        "pregnant with systemic therapy indicated -> MDT, W-PREG blocking",
        lambda: rair_pd(sex="female").pregnancy("2026-11-01", True),
        action="MDT_REVIEW_REQUIRED",
        warnings=[("W-PREG", True)],
    ),
    rule_row(
        "H4",
        "pregnant but stable -> MONITOR, W-PREG still blocking",
        lambda: sums(rair_pd(sex="female"), (40, 41)).pregnancy("2026-11-01", True),
        action="MONITOR",
        warnings=[("W-PREG", True)],
    ),
    rule_row(
        "H4",
        "§A4.11 rule 4: lactation -> W-PREG blocking every offered TKI, MDT review",
        lambda: (
            rair_pd(sex="female").flag("lactation", "2026-11-01").pregnancy("2026-11-01", False)
        ),
        action="MDT_REVIEW_REQUIRED",
        warnings=[("W-PREG", True, ("lenvatinib", "sorafenib"))],
    ),
    rule_row(
        "H4",
        "female 40 without pregnancy status: ask for it",
        lambda: rair_pd(age=40, sex="female"),
        missing=["pregnancy status"],
    ),
    rule_row(
        "H5",
        "RET fusion in the EU -> W-LABEL-REGION for selpercatinib and pralsetinib",
        lambda: rair_pd().variant("RET", "fusion", "fusion"),
        region="EU",
        warnings=[("W-LABEL-REGION", False, ("pralsetinib", "selpercatinib"))],
    ),
    # ---------------------------------------------------------------- §2.9 drug warnings
    rule_row(
        "F2",
        "§A4.11 rule 1: uncontrolled BP blocks the RET inhibitors (label) and lenvatinib (DESIGN);"
        " fixable: selpercatinib stays preferred",
        lambda: rair_pd().variant("RET", "fusion", "fusion").bp("2026-11-20", 150, 95),
        action="SYSTEMIC_FIRST_LINE",
        preferred={"selpercatinib", "pralsetinib"},
        warnings=[
            ("W-HTN", True, ("lenvatinib", "pralsetinib", "selpercatinib")),
            ("W-HTN", False, ("sorafenib",)),
        ],
    ),
    rule_row(
        "F1",
        "QTc 480 ms -> W-QT on lenvatinib/sorafenib",
        lambda: rair_pd().qtc("2026-11-01", 480),
        warnings=[("W-QT", False, ("lenvatinib", "sorafenib"))],
    ),
    rule_row(
        "F1",
        "QTc 470 ms is not > 470",
        lambda: rair_pd().qtc("2026-11-01", 470),
        no_warnings=["W-QT"],
    ),
    rule_row(
        "F1",
        "hypokalaemia 3.4 -> W-QT",
        lambda: rair_pd().potassium("2026-11-01", 3.4),
        warnings=[("W-QT", False)],
    ),
    rule_row(
        "F1",
        "BP older than 90 days is missing",
        lambda: (
            B()
            .histology("PTC")
            .rai("2024-01-10", 5550)
            .scan("2024-01-15")
            .sum("2025-01-01", 40)
            .sum("2026-06-01", 50)
            .tested()
            .bp("2026-05-01", 150, 95)
        ),
        missing=["blood pressure"],
        no_warnings=["W-HTN"],
        warnings=[("W-HTN", False)],
    ),
    rule_row(
        "G1",
        "§A4.11 rule 5: recent hemoptysis blocks cabozantinib (label) and sorafenib (DESIGN): MDT",
        lambda: (
            rair_pd()
            .therapy("lenvatinib", "2024-06-01", "2026-06-15", "progression")
            .flag("hemorrhage", "2026-10-15")
        ),
        action="MDT_REVIEW_REQUIRED",
        preferred=set(),
        warnings=[("W-BLEED", True, ("cabozantinib", "sorafenib"))],
    ),
    rule_row(
        "G1",
        "hemoptysis 4 months ago is not recent",
        lambda: (
            rair_pd()
            .therapy("lenvatinib", "2024-06-01", "2026-06-15", "progression")
            .flag("hemorrhage", "2026-07-15")
        ),
        no_warnings=["W-BLEED"],
    ),
    rule_row(
        "G1",
        "planned surgery on lenvatinib -> W-WOUND",
        lambda: sums(rair_pd(), (40, 41)).therapy("lenvatinib", "2026-01-01").local("2027-01-10"),
        warnings=[("W-WOUND", False)],
    ),
]


@pytest.mark.parametrize("row", ROWS, ids=[f"{' '.join(r.ids)}: {r.name}" for r in ROWS])
def test_rule_table(row: Row) -> None:
    check(row)
