"""The rule table, A gates and B classification: one row per rule ID at least (DOMAIN.md Part B
§2), with the edge cases of §5 and §A4 (machinery: tests/rules_table_helpers.py)."""

from __future__ import annotations

import pytest
from rules_table_helpers import (
    NO_DRIVER_US,
    Row,
    check,
    no_histology,
    rule_row,
    scan_tsh,
    swap_histology,
    with_activity,
    without_scans,
)
from test_thyroid_rules_builder import B, rair_pd, stable_avid

ROWS = [
    # ---------------------------------------------------------------- A gates
    rule_row(
        "A1 B2 B7 B8 B9 C1 C1c C2 D2 D5 F1",
        "typical RAIR with recent PD, no driver",
        rair_pd,
        status="YES",
        criteria=["JS-ii"],
        progression="RECENT_PD",
        action="SYSTEMIC_FIRST_LINE",
        on_label=NO_DRIVER_US,
        preferred={"lenvatinib"},
        not_eligible={"cabozantinib": "no prior VEGFR", "selpercatinib": "no RET fusion"},
        warnings=[("W-HTN", False, ("lenvatinib", "sorafenib"))],
        missing_exact=[],
    ),
    rule_row(
        "A1",
        "histology unknown",
        lambda: rair_pd().__setattr__("r", rair_pd().r) or no_histology(),
        status="NOT_ESTABLISHED",
        action="COMPLETE_DATA",
        criteria=[],
        warnings=[("W-DATA-MISSING", True)],
        missing=["histology"],
    ),
    rule_row(
        "A1",
        "poorly differentiated (§A4.14): classified as DTC, W-HISTOLOGY-PDTC, MDT review",
        lambda: swap_histology(rair_pd(), "PDTC"),
        status="YES",
        action="MDT_REVIEW_REQUIRED",
        criteria=["JS-ii"],
        on_label={"lenvatinib", "sorafenib"},
        warnings=[("W-HISTOLOGY-PDTC", False)],
    ),
    rule_row(
        "A2b",
        "RAI judged not appropriate (§A4.14), RET fusion: RET inhibitors, not lenvatinib",
        lambda: swap_histology(rair_pd(), "PTC")
        .flag("rai_ineligible", "2026-10-01")
        .variant("RET", "fusion", "fusion"),
        status="NOT_ESTABLISHED",
        action="MDT_REVIEW_REQUIRED",
        on_label={"selpercatinib", "pralsetinib"},
        not_eligible={"lenvatinib": "RAI-refractory", "sorafenib": "RAI-refractory"},
        preferred={"selpercatinib", "pralsetinib"},
    ),
    rule_row(
        "A1b",
        "anaplastic -> NOT_APPLICABLE",
        lambda: B().histology("ATC").variant("BRAF", "G469A"),
        status="NOT_APPLICABLE",
        action="MDT_REVIEW_REQUIRED",
        criteria=[],
        on_label=set(),
    ),
    rule_row(
        "A1b H3",
        "medullary with RET M918T -> NOT_APPLICABLE, selpercatinib",
        lambda: B().histology("MTC").variant("RET", "M918T"),
        status="NOT_APPLICABLE",
        action="MDT_REVIEW_REQUIRED",
        on_label={"selpercatinib"},
        not_eligible={"pralsetinib": "withdrawn"},
        no_warnings=["W-RET-POINT"],
    ),
    rule_row(
        "A2",
        "no therapeutic RAI (uncoded 1000 MBq is diagnostic) + negative diagnostic scan",
        lambda: (
            B()
            .histology("FTC")
            .rai("2024-01-10", 1000, "unknown", coded=False)
            .scan("2024-01-12", "diagnostic", "none")
            .sum("2025-01-01", 40)
            .sum("2026-06-01", 50)
        ),
        status="NOT_ESTABLISHED",
        action="RAI_EVALUATION",
        criteria=[],
        warnings=[("W-FRAMEWORK-DISCORDANCE", False)],
    ),
    rule_row(
        "A5",
        "RAI with unknown intent and activity -> COMPLETE_DATA, not RAI_EVALUATION",
        lambda: B().histology("PTC").rai("2024-01-10", None, "unknown", coded=False),
        status="NOT_ESTABLISHED",
        action="COMPLETE_DATA",
        warnings=[("W-DATA-MISSING", True)],
        missing=["intent and activity"],
    ),
    rule_row(
        "A3",
        "TSH 25 on the negative post-therapy scan: not valid",
        lambda: scan_tsh(25),
        status="NOT_ESTABLISHED",
        action="COMPLETE_DATA",
        criteria=[],
        warnings=[("W-TSH", True)],
        missing=["valid radioiodine scan"],
    ),
    rule_row(
        "B2",
        "TSH 35 on the negative post-therapy scan: valid, JS-ii",
        lambda: scan_tsh(35),
        status="YES",
        criteria=["JS-ii"],
        no_warnings=["W-TSH"],
    ),
    rule_row(
        "A3",
        "TSH exactly 30: not adequate (needs > 30)",
        lambda: scan_tsh(30),
        status="NOT_ESTABLISHED",
        warnings=[("W-TSH", True)],
    ),
    rule_row(
        "A3",
        "contrast 7 weeks before the dose: W-IODINE",
        lambda: rair_pd().contrast("2023-11-22"),
        status="NOT_ESTABLISHED",
        action="COMPLETE_DATA",
        warnings=[("W-IODINE", True)],
        criteria=[],
    ),
    rule_row(
        "B2",
        "contrast 9 weeks before the dose: scan valid",
        lambda: rair_pd().contrast("2023-11-08"),
        status="YES",
        criteria=["JS-ii"],
        no_warnings=["W-IODINE"],
    ),
    rule_row(
        "B2",
        "contrast after the dose does not contaminate it",
        lambda: rair_pd().contrast("2024-01-12"),
        status="YES",
        no_warnings=["W-IODINE"],
    ),
    rule_row(
        "A4",
        "no structural disease (Tg only)",
        lambda: rair_pd().flag("structural_disease", "2026-10-01", False),
        status="NOT_ESTABLISHED",
        action="COMPLETE_DATA",
        criteria=[],
        warnings=[("W-TG-ONLY", False)],
        missing=["structurally evident disease"],
    ),
    rule_row(
        "A5",
        "no post-therapy scan after the last therapeutic RAI",
        lambda: without_scans(rair_pd()),
        status="NOT_ESTABLISHED",
        action="COMPLETE_DATA",
        warnings=[("W-DATA-MISSING", True)],
        missing=["post-therapy whole-body scan after the last therapeutic RAI"],
    ),
    rule_row(
        "A5",
        "a later therapeutic RAI without its post-therapy scan supersedes the earlier negative"
        " scan: not established (B1-B3 need a scan after the last RAI; README readings)",
        lambda: rair_pd().rai("2024-09-01", 5550),
        status="NOT_ESTABLISHED",
        criteria=[],
        action="COMPLETE_DATA",
        missing=["post-therapy whole-body scan after the last therapeutic RAI"],
        warnings=[("W-DATA-MISSING", True)],
    ),
    rule_row(
        "A5",
        "progression unknown (one sum) with avid disease",
        lambda: (
            B()
            .histology("PTC")
            .rai("2024-01-10", 5550)
            .scan("2024-01-15", uptake="all")
            .sum("2025-01-01", 40)
        ),
        status="NOT_ESTABLISHED",
        progression="UNKNOWN",
        action="COMPLETE_DATA",
        missing=["imaging to assess progression"],
    ),
    rule_row(
        "A5",
        "an unreadable resource prevents NO",
        lambda: stable_avid().dq("scan report (DiagnosticReport/x)"),
        status="NOT_ESTABLISHED",
        action="COMPLETE_DATA",
        missing=["scan report (DiagnosticReport/x)"],
        warnings=[("W-DATA-MISSING", True)],
    ),
    rule_row(
        "A5",
        "PD, uptake only on a diagnostic scan, an activity unknown: JS-v undecidable",
        lambda: (
            B()
            .histology("PTC")
            .rai("2023-01-10", 5550)
            .rai("2024-01-10", None, "therapeutic")
            .scan("2024-06-01", "diagnostic", "all")
            .sum("2025-01-01", 40)
            .sum("2026-06-01", 50)
        ),
        status="NOT_ESTABLISHED",
        missing=["activity (with unit)"],
        criteria=[],
    ),
    rule_row(
        "A6",
        "summary activity conflicts with itemized sum",
        lambda: rair_pd().summary(7400),
        warnings=[("W-DATA-CONFLICT", False)],
        status="YES",
    ),
    rule_row(
        "A6",
        "summary activity without a unit",
        lambda: rair_pd().summary(None, 22.2, None),
        warnings=[("W-DATA-CONFLICT", False)],
    ),
    # ---------------------------------------------------------------- B classification
    rule_row(
        "B1",
        "diagnostic scan after therapy without uptake -> JS-i",
        lambda: without_scans(rair_pd()).scan("2025-02-01", "diagnostic", "none"),
        status="YES",
        criteria=["JS-i"],
    ),
    rule_row(
        "A5",
        "diagnostic scan BEFORE any therapy does not count",
        lambda: without_scans(rair_pd()).scan("2023-12-01", "diagnostic", "none"),
        status="NOT_ESTABLISHED",
        criteria=[],
    ),
    rule_row(
        "B2",
        "scan kind inferred from timing (day 5 after therapy)",
        lambda: without_scans(rair_pd()).scan("2024-01-15", "unknown", "none"),
        status="YES",
        criteria=["JS-ii"],
    ),
    rule_row(
        "A5",
        "scan of unknown kind 30 days after therapy without uptake: kind missing",
        lambda: without_scans(rair_pd()).scan("2024-02-10", "unknown", "none"),
        status="NOT_ESTABLISHED",
        missing=["kind (diagnostic or post-therapy)"],
    ),
    rule_row(
        "B3 D4",
        "mixed uptake with recent PD -> JS-iii, local therapy first",
        lambda: without_scans(rair_pd()).scan("2024-01-15", uptake="some"),
        status="YES",
        criteria=["JS-iii"],
        action="LOCAL_THERAPY_FIRST",
        warnings=[("W-FRAMEWORK-DISCORDANCE", False)],
    ),
    rule_row(
        "B4",
        "PD 6 months after an avid therapy -> JS-iv, no late flag",
        lambda: (
            B()
            .histology("PTC")
            .rai("2025-06-01", 5550)
            .scan("2025-06-05", uptake="all")
            .sum("2025-07-01", 40)
            .sum("2025-12-01", 50)
            .tested()
        ),
        status="YES",
        criteria=["JS-iv"],
        no_warnings=["W-LATE-PD"],
        action="SYSTEMIC_FIRST_LINE",
    ),
    rule_row(
        "B4",
        "PD 13.5 months after an avid therapy -> JS-iv + W-LATE-PD",
        lambda: (
            B()
            .histology("PTC")
            .rai("2025-06-01", 5550)
            .scan("2025-06-05", uptake="all")
            .sum("2025-07-01", 40)
            .sum("2026-07-15", 50)
            .tested()
        ),
        status="YES",
        criteria=["JS-iv"],
        warnings=[("W-LATE-PD", False)],
    ),
    rule_row(
        "B5",
        "exactly 22,200 MBq with PD, no scan: JS-v NOT met, W-THRESHOLD-EQUAL",
        lambda: with_activity([5550, 5550, 5550, 5550]),
        status="NOT_ESTABLISHED",
        criteria=[],
        warnings=[("W-THRESHOLD-EQUAL", False), ("W-DATA-MISSING", True)],
    ),
    rule_row(
        "B5",
        "22,237 MBq (601 mCi) with PD, no scan: JS-v met",
        lambda: with_activity([5550, 5550, 5550, 5587]),
        status="YES",
        criteria=["JS-v"],
        warnings=[("W-DATA-MISSING", False)],
        no_warnings=["W-THRESHOLD-EQUAL"],
    ),
    rule_row(
        "B5",
        "diagnostic activities are not summed",
        lambda: with_activity([5550, 5550, 5550, 5550]).rai("2019-01-01", 185, "diagnostic"),
        status="NOT_ESTABLISHED",
        criteria=[],
        warnings=[("W-THRESHOLD-EQUAL", False)],
    ),
    rule_row(
        "B5b",
        "> 22,200 MBq without PD: JS-v not met, discordance",
        lambda: with_activity([5550, 5550, 5550, 5587], pd=False).scan("2023-01-06", uptake="all"),
        status="NO",
        criteria=[],
        warnings=[("W-FRAMEWORK-DISCORDANCE", False)],
        action="MONITOR",
    ),
    rule_row(
        "B6",
        "avid, stable -> NO, MONITOR",
        stable_avid,
        status="NO",
        criteria=[],
        progression="NO_PD",
        action="MONITOR",
        on_label=set(),
        missing_exact=[],
    ),
]


@pytest.mark.parametrize("row", ROWS, ids=[f"{' '.join(r.ids)}: {r.name}" for r in ROWS])
def test_rule_table(row: Row) -> None:
    check(row)
