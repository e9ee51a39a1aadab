"""The rule table, C progression, D management and E molecular testing (DOMAIN.md Part B §2;
machinery: tests/rules_table_helpers.py)."""

from __future__ import annotations

import pytest
from rules_table_helpers import NO_DRIVER_US, Row, check, no_sum_pd, rule_row, sums, untested
from test_thyroid_rules_builder import B, rair_pd, stable_avid

ROWS = [
    # ---------------------------------------------------------------- C progression
    rule_row(
        "C1 C2",
        "new lesion = PD",
        lambda: no_sum_pd(rair_pd()).new_lesion("2026-09-01"),
        progression="RECENT_PD",
        status="YES",
    ),
    rule_row(
        "C1",
        "coded RECIST PD = PD",
        lambda: no_sum_pd(rair_pd()).recist("2026-09-01", "PD"),
        progression="RECENT_PD",
    ),
    rule_row(
        "C1",
        "disease status worsened = PD",
        lambda: no_sum_pd(rair_pd()).status("2026-09-01", "worsened"),
        progression="RECENT_PD",
    ),
    rule_row(
        "C1a",
        "20 -> 24 mm (+20%, +4 mm) is not PD",
        lambda: sums(rair_pd(), (20, 24)),
        progression="NO_PD",
        action="MONITOR",
    ),
    rule_row(
        "C1a",
        "100 -> 119 mm (+19%) is not PD",
        lambda: sums(rair_pd(), (100, 119)),
        progression="NO_PD",
    ),
    rule_row(
        "C1",
        "100 -> 120 mm (+20%, +20 mm) is PD",
        lambda: sums(rair_pd(), (100, 120)),
        progression="RECENT_PD",
    ),
    rule_row(
        "C1",
        "25 -> 30 mm (+20%, +5 mm) is PD",
        lambda: sums(rair_pd(), (25, 30)),
        progression="RECENT_PD",
    ),
    rule_row(
        "C1b G1",
        "nadir on therapy: PD while below the pre-treatment baseline",
        lambda: (
            sums(rair_pd(), (60,), ("2025-01-01",))
            .therapy("lenvatinib", "2025-06-01")
            .sum("2025-09-01", 30)
            .sum("2026-06-01", 37)
        ),
        progression="RECENT_PD",
        action="SYSTEMIC_LATER_LINE",
        on_label={"sorafenib", "cabozantinib"},
        not_eligible={"lenvatinib": "progressed on this drug"},
        preferred={"cabozantinib"},
    ),
    rule_row(
        "C1 A5",
        "sums before the episode are not comparators",
        lambda: sums(rair_pd(), (30, 40), ("2023-06-01", "2025-01-01")),
        progression="UNKNOWN",
        status="YES",
        action="MONITOR",
        warnings=[("W-DATA-MISSING", False)],
        missing=["imaging to assess progression"],
    ),
    rule_row(
        "C1c",
        "a local therapy starts a new episode",
        lambda: sums(rair_pd(), (30, 40, 41), ("2024-06-01", "2025-06-01", "2026-06-01")).local(
            "2025-03-01"
        ),
        progression="NO_PD",
    ),
    rule_row(
        "C2",
        "PD 13 months ago is recent",
        lambda: sums(rair_pd(), (40, 50), ("2025-01-01", "2025-10-27")),
        progression="RECENT_PD",
        action="SYSTEMIC_FIRST_LINE",
    ),
    rule_row(
        "C3",
        "PD 15 months ago, nothing newer -> PD_NOT_RECENT, UPDATE_IMAGING",
        lambda: sums(rair_pd(), (40, 50), ("2025-01-01", "2025-08-27")),
        progression="PD_NOT_RECENT",
        action="UPDATE_IMAGING",
        status="YES",
        on_label=set(),
    ),
    rule_row(
        "C4",
        "rising Tg with stable imaging is not PD",
        lambda: stable_avid().tg("2025-01-01", 2.0).tg("2026-06-01", 9.0),
        progression="NO_PD",
        status="NO",
        warnings=[("W-TG-ONLY", False)],
    ),
    # ---------------------------------------------------------------- D management
    rule_row(
        "D1 E2",
        "RAIR stable -> MONITOR, no testing",
        lambda: sums(rair_pd(), (40, 41)),
        status="YES",
        progression="NO_PD",
        action="MONITOR",
        suggest=False,
        on_label=set(),
    ),
    rule_row(
        "D3",
        "RAIR symptomatic without PD -> first line now",
        lambda: sums(rair_pd(), (40, 41)).flag("symptomatic", "2026-10-01"),
        action="SYSTEMIC_FIRST_LINE",
        on_label=NO_DRIVER_US,
    ),
    rule_row(
        "D3",
        "symptomatic after prior therapy -> later line",
        lambda: (
            sums(rair_pd(), (40, 41))
            .flag("symptomatic", "2026-10-01")
            .therapy("lenvatinib", "2024-06-01", "2024-09-01", "intolerance")
        ),
        action="SYSTEMIC_LATER_LINE",
    ),
    rule_row(
        "D4",
        "oligoprogression -> LOCAL_THERAPY_FIRST",
        lambda: rair_pd().flag("oligoprogression", "2026-10-01"),
        action="LOCAL_THERAPY_FIRST",
    ),
    rule_row(
        "D4",
        "airway invasion -> MDT, W-BLEED blocking for lenvatinib/sorafenib",
        lambda: rair_pd().flag("airway_invasion", "2026-10-01"),
        action="MDT_REVIEW_REQUIRED",
        warnings=[("W-BLEED", True, ("lenvatinib", "sorafenib"))],
    ),
    # ---------------------------------------------------------------- E molecular
    rule_row(
        "E1 E3",
        "no testing on file -> ORDER_MOLECULAR_TESTING",
        lambda: untested(rair_pd()),
        action="ORDER_MOLECULAR_TESTING",
        suggest=True,
        missing=["BRAF V600E, RET/NTRK/ALK fusion status (fusion-capable assay)"],
        preferred=set(),
        on_label=NO_DRIVER_US,
    ),
    rule_row(
        "E1 D3",
        "symptomatic with incomplete testing -> therapy now, testing still suggested",
        lambda: untested(rair_pd()).flag("symptomatic", "2026-10-01"),
        action="SYSTEMIC_FIRST_LINE",
        suggest=True,
    ),
    rule_row(
        "E4 E1",
        "DNA-only 'no fusion' leaves fusion status unknown",
        lambda: (
            untested(rair_pd())
            .tested(fusion_capable=False)
            .variant(
                "RET", "fusion", "fusion", present=False, fusion_capable=False, fusion_only=True
            )
        ),
        action="ORDER_MOLECULAR_TESTING",
        suggest=True,
        missing=["DNA-only panel"],
        not_eligible={"selpercatinib": "RET fusion status unknown"},
    ),
    rule_row(
        "E5",
        "ATC without BRAF result -> expedited BRAF testing",
        lambda: B().histology("ATC"),
        suggest=True,
        action="MDT_REVIEW_REQUIRED",
        missing=["BRAF V600E (expedited IHC"],
    ),
    rule_row(
        "E6",
        "RET point mutation in PTC -> W-RET-POINT, MDT",
        lambda: rair_pd().variant("RET", "M918T"),
        action="MDT_REVIEW_REQUIRED",
        warnings=[("W-RET-POINT", True)],
        not_eligible={"selpercatinib": "no RET fusion"},
    ),
]


@pytest.mark.parametrize("row", ROWS, ids=[f"{' '.join(r.ids)}: {r.name}" for r in ROWS])
def test_rule_table(row: Row) -> None:
    check(row)
