"""The rule table: a small patient in -> the expected conclusions out, one row per rule ID at
least (DOMAIN.md Part B §2), with the edge cases of §5 and §A4. A completeness test checks that
every rule ``id`` in ``rules/thyroid/*.rules.yaml`` has a row and every row names a real ID."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import pytest
from test_thyroid_rules_builder import AS_OF, B, rair_pd, stable_avid

from plugin.thyroid.assessment.builder import assess, base_id
from plugin.thyroid.knowledge.loader import load_knowledge


@dataclasses.dataclass
class Row:
    ids: tuple[str, ...]
    name: str
    build: Callable[[], B]
    expect: dict
    region: str = "US"


NO_DRIVER_US = {"lenvatinib", "sorafenib"}


def _r(ids: str, name: str, build: Callable[[], B], region: str = "US", **expect) -> Row:
    return Row(tuple(ids.split()), name, build, expect, region)


ROWS = [
    # ---------------------------------------------------------------- A gates
    _r(
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
    _r(
        "A1",
        "histology unknown",
        lambda: rair_pd().__setattr__("r", rair_pd().r) or _no_histology(),
        status="NOT_ESTABLISHED",
        action="COMPLETE_DATA",
        criteria=[],
        warnings=[("W-DATA-MISSING", True)],
        missing=["histology"],
    ),
    _r(
        "A1",
        "poorly differentiated (§A4.14): classified as DTC, W-HISTOLOGY-PDTC, MDT review",
        lambda: _swap_histology(rair_pd(), "PDTC"),
        status="YES",
        action="MDT_REVIEW_REQUIRED",
        criteria=["JS-ii"],
        on_label={"lenvatinib", "sorafenib"},
        warnings=[("W-HISTOLOGY-PDTC", False)],
    ),
    _r(
        "A2b",
        "RAI judged not appropriate (§A4.14), RET fusion: RET inhibitors, not lenvatinib",
        lambda: _swap_histology(rair_pd(), "PTC")
        .flag("rai_ineligible", "2026-10-01")
        .variant("RET", "fusion", "fusion"),
        status="NOT_ESTABLISHED",
        action="MDT_REVIEW_REQUIRED",
        on_label={"selpercatinib", "pralsetinib"},
        not_eligible={"lenvatinib": "RAI-refractory", "sorafenib": "RAI-refractory"},
        preferred={"selpercatinib", "pralsetinib"},
    ),
    _r(
        "A1b",
        "anaplastic -> NOT_APPLICABLE",
        lambda: B().histology("ATC").variant("BRAF", "G469A"),
        status="NOT_APPLICABLE",
        action="MDT_REVIEW_REQUIRED",
        criteria=[],
        on_label=set(),
    ),
    _r(
        "A1b H3",
        "medullary with RET M918T -> NOT_APPLICABLE, selpercatinib",
        lambda: B().histology("MTC").variant("RET", "M918T"),
        status="NOT_APPLICABLE",
        action="MDT_REVIEW_REQUIRED",
        on_label={"selpercatinib"},
        not_eligible={"pralsetinib": "withdrawn"},
        no_warnings=["W-RET-POINT"],
    ),
    _r(
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
    _r(
        "A5",
        "RAI with unknown intent and activity -> COMPLETE_DATA, not RAI_EVALUATION",
        lambda: B().histology("PTC").rai("2024-01-10", None, "unknown", coded=False),
        status="NOT_ESTABLISHED",
        action="COMPLETE_DATA",
        warnings=[("W-DATA-MISSING", True)],
        missing=["intent and activity"],
    ),
    _r(
        "A3",
        "TSH 25 on the negative post-therapy scan: not valid",
        lambda: _scan_tsh(25),
        status="NOT_ESTABLISHED",
        action="COMPLETE_DATA",
        criteria=[],
        warnings=[("W-TSH", True)],
        missing=["valid radioiodine scan"],
    ),
    _r(
        "B2",
        "TSH 35 on the negative post-therapy scan: valid, JS-ii",
        lambda: _scan_tsh(35),
        status="YES",
        criteria=["JS-ii"],
        no_warnings=["W-TSH"],
    ),
    _r(
        "A3",
        "TSH exactly 30: not adequate (needs > 30)",
        lambda: _scan_tsh(30),
        status="NOT_ESTABLISHED",
        warnings=[("W-TSH", True)],
    ),
    _r(
        "A3",
        "contrast 7 weeks before the dose: W-IODINE",
        lambda: rair_pd().contrast("2023-11-22"),
        status="NOT_ESTABLISHED",
        action="COMPLETE_DATA",
        warnings=[("W-IODINE", True)],
        criteria=[],
    ),
    _r(
        "B2",
        "contrast 9 weeks before the dose: scan valid",
        lambda: rair_pd().contrast("2023-11-08"),
        status="YES",
        criteria=["JS-ii"],
        no_warnings=["W-IODINE"],
    ),
    _r(
        "B2",
        "contrast after the dose does not contaminate it",
        lambda: rair_pd().contrast("2024-01-12"),
        status="YES",
        no_warnings=["W-IODINE"],
    ),
    _r(
        "A4",
        "no structural disease (Tg only)",
        lambda: rair_pd().flag("structural_disease", "2026-10-01", False),
        status="NOT_ESTABLISHED",
        action="COMPLETE_DATA",
        criteria=[],
        warnings=[("W-TG-ONLY", False)],
        missing=["structurally evident disease"],
    ),
    _r(
        "A5",
        "no post-therapy scan after the last therapeutic RAI",
        lambda: _without_scans(rair_pd()),
        status="NOT_ESTABLISHED",
        action="COMPLETE_DATA",
        warnings=[("W-DATA-MISSING", True)],
        missing=["post-therapy whole-body scan after the last therapeutic RAI"],
    ),
    _r(
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
    _r(
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
    _r(
        "A5",
        "an unreadable resource prevents NO",
        lambda: stable_avid().dq("scan report (DiagnosticReport/x)"),
        status="NOT_ESTABLISHED",
        action="COMPLETE_DATA",
        missing=["scan report (DiagnosticReport/x)"],
        warnings=[("W-DATA-MISSING", True)],
    ),
    _r(
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
    _r(
        "A6",
        "summary activity conflicts with itemized sum",
        lambda: rair_pd().summary(7400),
        warnings=[("W-DATA-CONFLICT", False)],
        status="YES",
    ),
    _r(
        "A6",
        "summary activity without a unit",
        lambda: rair_pd().summary(None, 22.2, None),
        warnings=[("W-DATA-CONFLICT", False)],
    ),
    # ---------------------------------------------------------------- B classification
    _r(
        "B1",
        "diagnostic scan after therapy without uptake -> JS-i",
        lambda: _without_scans(rair_pd()).scan("2025-02-01", "diagnostic", "none"),
        status="YES",
        criteria=["JS-i"],
    ),
    _r(
        "A5",
        "diagnostic scan BEFORE any therapy does not count",
        lambda: _without_scans(rair_pd()).scan("2023-12-01", "diagnostic", "none"),
        status="NOT_ESTABLISHED",
        criteria=[],
    ),
    _r(
        "B2",
        "scan kind inferred from timing (day 5 after therapy)",
        lambda: _without_scans(rair_pd()).scan("2024-01-15", "unknown", "none"),
        status="YES",
        criteria=["JS-ii"],
    ),
    _r(
        "A5",
        "scan of unknown kind 30 days after therapy without uptake: kind missing",
        lambda: _without_scans(rair_pd()).scan("2024-02-10", "unknown", "none"),
        status="NOT_ESTABLISHED",
        missing=["kind (diagnostic or post-therapy)"],
    ),
    _r(
        "B3 D4",
        "mixed uptake with recent PD -> JS-iii, local therapy first",
        lambda: _without_scans(rair_pd()).scan("2024-01-15", uptake="some"),
        status="YES",
        criteria=["JS-iii"],
        action="LOCAL_THERAPY_FIRST",
        warnings=[("W-FRAMEWORK-DISCORDANCE", False)],
    ),
    _r(
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
    _r(
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
    _r(
        "B5",
        "exactly 22,200 MBq with PD, no scan: JS-v NOT met, W-THRESHOLD-EQUAL",
        lambda: _activity([5550, 5550, 5550, 5550]),
        status="NOT_ESTABLISHED",
        criteria=[],
        warnings=[("W-THRESHOLD-EQUAL", False), ("W-DATA-MISSING", True)],
    ),
    _r(
        "B5",
        "22,237 MBq (601 mCi) with PD, no scan: JS-v met",
        lambda: _activity([5550, 5550, 5550, 5587]),
        status="YES",
        criteria=["JS-v"],
        warnings=[("W-DATA-MISSING", False)],
        no_warnings=["W-THRESHOLD-EQUAL"],
    ),
    _r(
        "B5",
        "diagnostic activities are not summed",
        lambda: _activity([5550, 5550, 5550, 5550]).rai("2019-01-01", 185, "diagnostic"),
        status="NOT_ESTABLISHED",
        criteria=[],
        warnings=[("W-THRESHOLD-EQUAL", False)],
    ),
    _r(
        "B5b",
        "> 22,200 MBq without PD: JS-v not met, discordance",
        lambda: _activity([5550, 5550, 5550, 5587], pd=False).scan("2023-01-06", uptake="all"),
        status="NO",
        criteria=[],
        warnings=[("W-FRAMEWORK-DISCORDANCE", False)],
        action="MONITOR",
    ),
    _r(
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
    # ---------------------------------------------------------------- C progression
    _r(
        "C1 C2",
        "new lesion = PD",
        lambda: _no_sum_pd(rair_pd()).new_lesion("2026-09-01"),
        progression="RECENT_PD",
        status="YES",
    ),
    _r(
        "C1",
        "coded RECIST PD = PD",
        lambda: _no_sum_pd(rair_pd()).recist("2026-09-01", "PD"),
        progression="RECENT_PD",
    ),
    _r(
        "C1",
        "disease status worsened = PD",
        lambda: _no_sum_pd(rair_pd()).status("2026-09-01", "worsened"),
        progression="RECENT_PD",
    ),
    _r(
        "C1a",
        "20 -> 24 mm (+20%, +4 mm) is not PD",
        lambda: _sums(rair_pd(), (20, 24)),
        progression="NO_PD",
        action="MONITOR",
    ),
    _r(
        "C1a",
        "100 -> 119 mm (+19%) is not PD",
        lambda: _sums(rair_pd(), (100, 119)),
        progression="NO_PD",
    ),
    _r(
        "C1",
        "100 -> 120 mm (+20%, +20 mm) is PD",
        lambda: _sums(rair_pd(), (100, 120)),
        progression="RECENT_PD",
    ),
    _r(
        "C1",
        "25 -> 30 mm (+20%, +5 mm) is PD",
        lambda: _sums(rair_pd(), (25, 30)),
        progression="RECENT_PD",
    ),
    _r(
        "C1b G1",
        "nadir on therapy: PD while below the pre-treatment baseline",
        lambda: (
            _sums(rair_pd(), (60,), ("2025-01-01",))
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
    _r(
        "C1 A5",
        "sums before the episode are not comparators",
        lambda: _sums(rair_pd(), (30, 40), ("2023-06-01", "2025-01-01")),
        progression="UNKNOWN",
        status="YES",
        action="MONITOR",
        warnings=[("W-DATA-MISSING", False)],
        missing=["imaging to assess progression"],
    ),
    _r(
        "C1c",
        "a local therapy starts a new episode",
        lambda: _sums(rair_pd(), (30, 40, 41), ("2024-06-01", "2025-06-01", "2026-06-01")).local(
            "2025-03-01"
        ),
        progression="NO_PD",
    ),
    _r(
        "C2",
        "PD 13 months ago is recent",
        lambda: _sums(rair_pd(), (40, 50), ("2025-01-01", "2025-10-27")),
        progression="RECENT_PD",
        action="SYSTEMIC_FIRST_LINE",
    ),
    _r(
        "C3",
        "PD 15 months ago, nothing newer -> PD_NOT_RECENT, UPDATE_IMAGING",
        lambda: _sums(rair_pd(), (40, 50), ("2025-01-01", "2025-08-27")),
        progression="PD_NOT_RECENT",
        action="UPDATE_IMAGING",
        status="YES",
        on_label=set(),
    ),
    _r(
        "C4",
        "rising Tg with stable imaging is not PD",
        lambda: stable_avid().tg("2025-01-01", 2.0).tg("2026-06-01", 9.0),
        progression="NO_PD",
        status="NO",
        warnings=[("W-TG-ONLY", False)],
    ),
    # ---------------------------------------------------------------- D management
    _r(
        "D1 E2",
        "RAIR stable -> MONITOR, no testing",
        lambda: _sums(rair_pd(), (40, 41)),
        status="YES",
        progression="NO_PD",
        action="MONITOR",
        suggest=False,
        on_label=set(),
    ),
    _r(
        "D3",
        "RAIR symptomatic without PD -> first line now",
        lambda: _sums(rair_pd(), (40, 41)).flag("symptomatic", "2026-10-01"),
        action="SYSTEMIC_FIRST_LINE",
        on_label=NO_DRIVER_US,
    ),
    _r(
        "D3",
        "symptomatic after prior therapy -> later line",
        lambda: (
            _sums(rair_pd(), (40, 41))
            .flag("symptomatic", "2026-10-01")
            .therapy("lenvatinib", "2024-06-01", "2024-09-01", "intolerance")
        ),
        action="SYSTEMIC_LATER_LINE",
    ),
    _r(
        "D4",
        "oligoprogression -> LOCAL_THERAPY_FIRST",
        lambda: rair_pd().flag("oligoprogression", "2026-10-01"),
        action="LOCAL_THERAPY_FIRST",
    ),
    _r(
        "D4",
        "airway invasion -> MDT, W-BLEED blocking for lenvatinib/sorafenib",
        lambda: rair_pd().flag("airway_invasion", "2026-10-01"),
        action="MDT_REVIEW_REQUIRED",
        warnings=[("W-BLEED", True, ("lenvatinib", "sorafenib"))],
    ),
    # ---------------------------------------------------------------- E molecular
    _r(
        "E1 E3",
        "no testing on file -> ORDER_MOLECULAR_TESTING",
        lambda: _untested(rair_pd()),
        action="ORDER_MOLECULAR_TESTING",
        suggest=True,
        missing=["BRAF V600E, RET/NTRK/ALK fusion status (fusion-capable assay)"],
        preferred=set(),
        on_label=NO_DRIVER_US,
    ),
    _r(
        "E1 D3",
        "symptomatic with incomplete testing -> therapy now, testing still suggested",
        lambda: _untested(rair_pd()).flag("symptomatic", "2026-10-01"),
        action="SYSTEMIC_FIRST_LINE",
        suggest=True,
    ),
    _r(
        "E4 E1",
        "DNA-only 'no fusion' leaves fusion status unknown",
        lambda: (
            _untested(rair_pd())
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
    _r(
        "E5",
        "ATC without BRAF result -> expedited BRAF testing",
        lambda: B().histology("ATC"),
        suggest=True,
        action="MDT_REVIEW_REQUIRED",
        missing=["BRAF V600E (expedited IHC"],
    ),
    _r(
        "E6",
        "RET point mutation in PTC -> W-RET-POINT, MDT",
        lambda: rair_pd().variant("RET", "M918T"),
        action="MDT_REVIEW_REQUIRED",
        warnings=[("W-RET-POINT", True)],
        not_eligible={"selpercatinib": "no RET fusion"},
    ),
    # ---------------------------------------------------------------- F first line
    _r(
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
    _r(
        "F3",
        "NTRK3 fusion -> NTRK inhibitors preferred",
        lambda: rair_pd().variant("NTRK3", "fusion", "fusion", partner="ETV6"),
        on_label={"larotrectinib", "entrectinib", "repotrectinib", "lenvatinib", "sorafenib"},
        preferred={"larotrectinib", "entrectinib", "repotrectinib"},
        warnings=[("W-ACCEL", False, ("entrectinib", "repotrectinib"))],
    ),
    _r(
        "F4",
        "ALK fusion -> crizotinib off-label, guideline-supported",
        lambda: rair_pd().variant("ALK", "fusion", "fusion", partner="EML4"),
        off_label={"crizotinib"},
        preferred={"crizotinib"},
        on_label=NO_DRIVER_US,
        warnings=[("W-OFF-LABEL", False, ("crizotinib",))],
    ),
    _r(
        "F5 F8 F9",
        "BRAF V600E adult first line: lenvatinib preferred, D+T trial",
        lambda: rair_pd().variant("BRAF", "V600E"),
        on_label=NO_DRIVER_US,
        preferred={"lenvatinib"},
        trial={"dabrafenib+trametinib": "NCT03244956"},
        not_eligible={"vemurafenib": "off-label"},
        drivers=[{"gene": "BRAF", "alteration": "V600E", "kind": "snv"}],
    ),
    _r(
        "F5 H1",
        "BRAF V600E age 15: D+T on label (no satisfactory alternative)",
        lambda: _rebirth(rair_pd(age=15).variant("BRAF", "V600E")),
        on_label={"dabrafenib+trametinib"},
        not_eligible={"lenvatinib": "adults only", "sorafenib": "pediatric use not established"},
        warnings=[
            ("W-PEDS-AGE", True, ("lenvatinib", "sorafenib")),
            ("W-ACCEL", False, ("dabrafenib+trametinib",)),
        ],
    ),
    _r(
        "F6",
        "BRAF K601E: not V600E",
        lambda: rair_pd().variant("BRAF", "K601E"),
        warnings=[("W-BRAF-NONV600E", False)],
        preferred={"lenvatinib"},
        not_eligible={"dabrafenib+trametinib": "other than V600E"},
    ),
    _r(
        "F7",
        "NRAS Q61R: redifferentiation trial only",
        lambda: rair_pd().variant("NRAS", "Q61R"),
        trial={"trametinib": "NCT03244956"},
        preferred={"lenvatinib"},
    ),
    # ---------------------------------------------------------------- G later lines
    _r(
        "G1",
        "PD on lenvatinib (stopped for progression) -> cabozantinib",
        lambda: rair_pd().therapy("lenvatinib", "2024-06-01", "2026-06-15", "progression"),
        action="SYSTEMIC_LATER_LINE",
        on_label={"cabozantinib", "sorafenib"},
        preferred={"cabozantinib"},
        not_eligible={"lenvatinib": "progressed"},
    ),
    _r(
        "G2",
        "lenvatinib stopped for intolerance, no PD after it, symptomatic -> cabozantinib off-label",
        lambda: (
            _sums(rair_pd(), (40, 41))
            .flag("symptomatic", "2026-10-01")
            .therapy("lenvatinib", "2024-02-01", "2024-05-01", "intolerance")
        ),
        action="SYSTEMIC_LATER_LINE",
        off_label={"cabozantinib"},
        warnings=[("W-OFF-LABEL", False, ("cabozantinib",))],
    ),
    _r(
        "G1 G2",
        "§A4.12: PD after lenvatinib stopped for intolerance meets cabozantinib's label",
        lambda: rair_pd().therapy("lenvatinib", "2024-02-01", "2024-05-01", "intolerance"),
        action="SYSTEMIC_LATER_LINE",
        on_label={"cabozantinib", "lenvatinib", "sorafenib"},
        preferred={"cabozantinib"},
    ),
    _r(
        "G3",
        "BRAF V600E after PD on lenvatinib -> cabozantinib and D+T on label",
        lambda: (
            rair_pd()
            .variant("BRAF", "V600E")
            .therapy("lenvatinib", "2024-06-01", "2026-06-15", "progression")
        ),
        on_label={"cabozantinib", "dabrafenib+trametinib", "sorafenib"},
    ),
    _r(
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
    _r(
        "G5",
        "RET fusion found after lenvatinib -> selpercatinib in a later line",
        lambda: (
            rair_pd()
            .variant("RET", "fusion", "fusion")
            .therapy("lenvatinib", "2024-06-01", "2026-06-15", "progression")
        ),
        action="SYSTEMIC_LATER_LINE",
        preferred={"selpercatinib", "pralsetinib", "cabozantinib"},
    ),
    # ---------------------------------------------------------------- H special populations
    _r(
        "H1",
        "age 11 after VEGFR PD: cabozantinib below label age",
        lambda: _rebirth(
            rair_pd(age=11).therapy("sorafenib", "2024-06-01", "2026-06-15", "progression")
        ),
        not_eligible={"cabozantinib": "12"},
        warnings=[("W-PEDS-AGE", True)],
    ),
    _r(
        "H1",
        "age 12 after VEGFR PD: cabozantinib on label",
        lambda: _rebirth(
            rair_pd(age=12).therapy("sorafenib", "2024-06-01", "2026-06-15", "progression")
        ),
        on_label={"cabozantinib"},
        warnings=[("W-PEDS-AGE", True, ("lenvatinib", "sorafenib"))],
    ),
    _r(
        "H1",
        "age 17: lenvatinib and sorafenib not eligible",
        lambda: _rebirth(rair_pd(age=17)),
        on_label=set(),
        not_eligible={"lenvatinib": "adults only", "sorafenib": "pediatric"},
        warnings=[("W-PEDS-AGE", True, ("lenvatinib", "sorafenib"))],
    ),
    _r(
        "F1",
        "age 18: lenvatinib on label",
        lambda: _rebirth(rair_pd(age=18)),
        on_label=NO_DRIVER_US,
        no_warnings=["W-PEDS-AGE"],
    ),
    _r(
        "H1",
        "age 1 with RET fusion: selpercatinib below 2 years",
        lambda: _rebirth(rair_pd(age=1).variant("RET", "fusion", "fusion")),
        not_eligible={"selpercatinib": "2 years", "pralsetinib": "12"},
    ),
    _r(
        "H1",
        "age unknown (§A4.14): age-limited drugs stay in their lists; date of birth asked",
        lambda: rair_pd(age=None),
        on_label={"lenvatinib", "sorafenib"},
        missing=["date of birth (label age limits)"],
        no_warnings=["W-PEDS-AGE"],
    ),
    _r(
        "H2",
        "ATC with BRAF V600E -> D+T (ATC label)",
        lambda: B().histology("ATC").variant("BRAF", "V600E"),
        status="NOT_APPLICABLE",
        on_label={"dabrafenib+trametinib"},
        no_warnings=["W-ACCEL"],
    ),
    _r(
        "H2 H5",
        "ATC BRAF V600E in the EU -> W-LABEL-REGION",
        lambda: B().histology("ATC").variant("BRAF", "V600E"),
        region="EU",
        warnings=[("W-LABEL-REGION", False, ("dabrafenib+trametinib",))],
    ),
    _r(
        "H4",
        "pregnant with systemic therapy indicated -> MDT, W-PREG blocking",
        lambda: rair_pd(sex="female").pregnancy("2026-11-01", True),
        action="MDT_REVIEW_REQUIRED",
        warnings=[("W-PREG", True)],
    ),
    _r(
        "H4",
        "pregnant but stable -> MONITOR, W-PREG still blocking",
        lambda: _sums(rair_pd(sex="female"), (40, 41)).pregnancy("2026-11-01", True),
        action="MONITOR",
        warnings=[("W-PREG", True)],
    ),
    _r(
        "H4",
        "§A4.11 rule 4: lactation -> W-PREG blocking every offered TKI, MDT review",
        lambda: (
            rair_pd(sex="female").flag("lactation", "2026-11-01").pregnancy("2026-11-01", False)
        ),
        action="MDT_REVIEW_REQUIRED",
        warnings=[("W-PREG", True, ("lenvatinib", "sorafenib"))],
    ),
    _r(
        "H4",
        "female 40 without pregnancy status: ask for it",
        lambda: rair_pd(age=40, sex="female"),
        missing=["pregnancy status"],
    ),
    _r(
        "H5",
        "RET fusion in the EU -> W-LABEL-REGION for selpercatinib and pralsetinib",
        lambda: rair_pd().variant("RET", "fusion", "fusion"),
        region="EU",
        warnings=[("W-LABEL-REGION", False, ("pralsetinib", "selpercatinib"))],
    ),
    # ---------------------------------------------------------------- §2.9 drug warnings
    _r(
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
    _r(
        "F1",
        "QTc 480 ms -> W-QT on lenvatinib/sorafenib",
        lambda: rair_pd().qtc("2026-11-01", 480),
        warnings=[("W-QT", False, ("lenvatinib", "sorafenib"))],
    ),
    _r(
        "F1",
        "QTc 470 ms is not > 470",
        lambda: rair_pd().qtc("2026-11-01", 470),
        no_warnings=["W-QT"],
    ),
    _r(
        "F1",
        "hypokalaemia 3.4 -> W-QT",
        lambda: rair_pd().potassium("2026-11-01", 3.4),
        warnings=[("W-QT", False)],
    ),
    _r(
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
    _r(
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
    _r(
        "G1",
        "hemoptysis 4 months ago is not recent",
        lambda: (
            rair_pd()
            .therapy("lenvatinib", "2024-06-01", "2026-06-15", "progression")
            .flag("hemorrhage", "2026-07-15")
        ),
        no_warnings=["W-BLEED"],
    ),
    _r(
        "G1",
        "planned surgery on lenvatinib -> W-WOUND",
        lambda: _sums(rair_pd(), (40, 41)).therapy("lenvatinib", "2026-01-01").local("2027-01-10"),
        warnings=[("W-WOUND", False)],
    ),
]


# ------------------------------------------------------------------------ row helpers


def _no_histology() -> B:
    b = rair_pd()
    b.r.diagnoses.clear()
    return b


def _swap_histology(b: B, h: str) -> B:
    b.r.diagnoses.clear()
    return b.histology(h)


def _scan_tsh(tsh: float) -> B:
    return _without_scans(rair_pd()).scan("2024-01-15", tsh=tsh)


def _without_scans(b: B) -> B:
    b.r.scans.clear()
    return b


def _no_sum_pd(b: B) -> B:
    b.r.lesion_sums.clear()
    return b


def _sums(b: B, values: tuple, days: tuple = ("2025-01-01", "2026-06-01")) -> B:
    b.r.lesion_sums.clear()
    for day, v in zip(days, values, strict=True):
        b.sum(day, v)
    return b


def _untested(b: B) -> B:
    b.r.genes_tested.clear()
    return b


def _rebirth(b: B) -> B:
    """Ages in whole years on AS_OF: born the day after AS_OF, ``age`` years earlier."""
    age = AS_OF.year - b.r.birth_date.year
    b.r.birth_date = AS_OF.replace(year=AS_OF.year - age) - __import__("datetime").timedelta(days=1)
    return b


def _activity(mbqs: list[int], pd: bool = True) -> B:
    b = B().histology("PTC").tested().bp("2026-11-01", 120, 80)
    for i, mbq in enumerate(mbqs):
        b.rai(f"{2020 + i}-01-01", mbq)
    return b.sum("2024-01-01", 40).sum("2026-06-01", 50 if pd else 41)


# ------------------------------------------------------------------------ checks


def check(row: Row) -> None:
    a = assess(row.build().build(), AS_OF, region=row.region)
    j = a.to_json()
    e = row.expect
    ctx = f"{row.name}: {j}"
    for key, field in (
        ("status", "rairStatus"),
        ("criteria", "rairCriteria"),
        ("progression", "progression"),
        ("action", "action"),
        ("suggest", "suggestMolecularTesting"),
        ("drivers", "drivers"),
    ):
        if key in e:
            assert j[field] == e[key], f"{key}: {ctx}"
    t = j["therapies"]
    if "on_label" in e:
        assert {x["drug"] for x in t["onLabel"]} == set(e["on_label"]), f"onLabel: {ctx}"
    if "off_label" in e:
        assert {x["drug"] for x in t["guidelineSupportedOffLabel"]} == set(e["off_label"]), ctx
    if "preferred" in e:
        got = {x["drug"] for lst in t.values() for x in lst if x.get("preferred")}
        assert got == set(e["preferred"]), f"preferred: {ctx}"
    for drug, trial in e.get("trial", {}).items():
        assert {"drug": drug, "trial": trial} in t["trialOnly"], f"trial {drug}: {ctx}"
    for drug, reason in e.get("not_eligible", {}).items():
        hits = [x for x in t["notEligible"] if x["drug"] == drug]
        assert hits and reason in hits[0]["reason"], f"notEligible {drug}: {ctx}"
    for w in e.get("warnings", []):
        code, blocking = w[0], w[1]
        hits = [x for x in j["warnings"] if x["code"] == code and x["blocking"] == blocking]
        assert hits, f"warning {w}: {ctx}"
        if len(w) > 2:
            assert tuple(hits[0].get("drugs", [])) == tuple(w[2]), f"warning drugs {w}: {ctx}"
    for code in e.get("no_warnings", []):
        blocking_only = any(w[0] == code for w in e.get("warnings", []))
        if not blocking_only:
            assert all(x["code"] != code for x in j["warnings"]), f"no {code}: {ctx}"
    for phrase in e.get("missing", []):
        assert any(phrase in m for m in j["missingData"]), f"missing {phrase!r}: {ctx}"
    if "missing_exact" in e:
        assert j["missingData"] == e["missing_exact"], f"missingData: {ctx}"
    for rid in row.ids:
        assert rid in j["rulesFired"], f"{rid} not fired: {ctx}"
    # §A1 invariants on every row
    if j["rairStatus"] != "YES":
        assert j["rairCriteria"] == []


@pytest.mark.parametrize("row", ROWS, ids=[f"{' '.join(r.ids)}: {r.name}" for r in ROWS])
def test_rule_table(row: Row) -> None:
    check(row)


def test_every_rule_id_has_a_row_and_every_row_id_exists() -> None:
    rule_ids = {base_id(r.rule_id) for r in load_knowledge().engine.rules}
    row_ids = {i for row in ROWS for i in row.ids}
    assert rule_ids - row_ids == set(), "rule IDs without a row"
    assert row_ids - rule_ids == set(), "row IDs that no rule has"
