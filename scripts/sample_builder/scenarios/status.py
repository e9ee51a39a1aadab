"""Scenarios: RAI-refractory status by criterion."""

from __future__ import annotations

from sample_builder.blocks import js_ii_base, recent_pd
from sample_builder.patient import Patient
from sample_builder.registry import scenario

# --- RAI-refractory status by criterion -----------------------------------------------------


@scenario("js-i-diagnostic-scan-no-uptake",
          "JS-i: no uptake on a diagnostic scan after therapy; stable disease",
          {"rairStatus": "YES", "rairCriteria": ["JS-i"], "progression": "NO_PD",
           "action": "MONITOR", "suggestMolecularTesting": False, "drivers": [],
           "rulesFired": ["B1"]},
          "Avid on the 2023 post-therapy scan; the 2025 rhTSH diagnostic scan (TSH 110) shows no "
          "uptake. Sums 22 -> 23 mm: no PD, so D1 monitoring and no testing (E2).")
def _(p: Patient) -> None:
    p.rai("2023-05-10", 100)
    p.scan("2023-05-17", "post-therapy", "all", tsh=92)
    p.rai("2025-09-13", 4, intent="diagnostic")
    p.scan("2025-09-15", "diagnostic", "no", tsh=110)
    p.lesion_sum("2025-09-20", 22)
    p.lesion_sum("2026-09-20", 23)


@scenario("js-ii-post-therapy-no-uptake",
          "JS-ii: no uptake on the post-therapy scan; recent PD; not yet tested",
          {"rairStatus": "YES", "rairCriteria": ["JS-ii"], "progression": "RECENT_PD",
           "action": "ORDER_MOLECULAR_TESTING", "suggestMolecularTesting": True, "drivers": [],
           "rulesFired": ["B2", "C1", "C2", "E1"]},
          "150 mCi in 2024, post-therapy scan negative (TSH 85). Sums 30 -> 38 mm (+27 %, +8 mm) "
          "in June 2026. No molecular result: E1 before systemic therapy.")
def _(p: Patient) -> None:
    js_ii_base(p)
    recent_pd(p)


@scenario("js-iii-some-lesions",
          "JS-iii: uptake in some lesions only, recent PD",
          {"rairStatus": "YES", "rairCriteria": ["JS-iii"], "progression": "RECENT_PD",
           "action": "LOCAL_THERAPY_FIRST", "suggestMolecularTesting": True,
           "warnings": [{"code": "W-FRAMEWORK-DISCORDANCE", "blocking": False}],
           "rulesFired": ["B3"]},
          "Mixed uptake on the post-therapy scan; §A4.1 step 5 (JS-iii with RECENT_PD) gives "
          "local therapy first; E1 still fires (no molecular result).")
def _(p: Patient) -> None:
    p.rai("2024-04-02", 150)
    p.scan("2024-04-09", "post-therapy", "some", tsh=76)
    recent_pd(p, ("2025-02-01", 26), ("2026-07-01", 33))


@scenario("js-iv-progression-despite-uptake",
          "JS-iv: progression within 12 months despite avid RAI; no actionable driver",
          {"rairStatus": "YES", "rairCriteria": ["JS-iv"], "progression": "RECENT_PD",
           "action": "SYSTEMIC_FIRST_LINE", "suggestMolecularTesting": False, "drivers": [],
           "therapies": {"onLabel": [{"drug": "lenvatinib", "preferred": True},
                                     {"drug": "sorafenib"}],
                         "notEligible": [{"drug": "cabozantinib"}]},
           "warnings": [{"code": "W-HTN", "blocking": False}],
           "rulesFired": ["B4", "C1", "C2", "F1"]},
          "150 mCi Feb 2025 with uptake in all lesions; sums 25 -> 32 mm in Jan 2026 (11 months "
          "after RAI, no W-LATE-PD). Fusion-capable panel negative: F1, lenvatinib preferred.")
def _(p: Patient) -> None:
    p.rai("2025-02-03", 150)
    p.scan("2025-02-10", "post-therapy", "all", tsh=88)
    recent_pd(p, ("2025-05-01", 25), ("2026-01-15", 32))
    p.negatives(date="2026-03-01")


@scenario("js-v-cumulative-601-mci",
          "JS-v: PD after 601 mCi (22,237 MBq) cumulative, no scan reports",
          {"rairStatus": "YES", "rairCriteria": ["JS-v"], "progression": "RECENT_PD",
           "action": "SYSTEMIC_FIRST_LINE", "suggestMolecularTesting": False,
           "therapies": {"onLabel": [{"drug": "lenvatinib", "preferred": True}]},
           "warnings": [{"code": "W-DATA-MISSING", "blocking": False}],
           "rulesFired": ["B5", "C1"]},
          "150+150+150+151 mCi = 22,237 MBq > 22,200 MBq with PD (B5). Uptake unknown while a "
          "criterion is met: W-DATA-MISSING informational (§2.9).")
def _(p: Patient) -> None:
    for date, mci in (("2016-04-12", 150), ("2018-06-20", 150), ("2020-09-08", 150),
                      ("2022-11-15", 151)):
        p.rai(date, mci)
    recent_pd(p, ("2023-06-01", 40), ("2026-08-01", 50))
    p.negatives(date="2026-09-01")


@scenario("exactly-600-mci-not-met",
          "600 mCi exactly (22,200 MBq) with PD: JS-v not met, uptake unknown",
          {"rairStatus": "NOT_ESTABLISHED", "rairCriteria": [], "progression": "RECENT_PD",
           "action": "COMPLETE_DATA", "suggestMolecularTesting": False,
           "warnings": [{"code": "W-THRESHOLD-EQUAL", "blocking": False},
                        {"code": "W-DATA-MISSING", "blocking": True}],
           "missingData": "non-empty"},
          "4 x 150 mCi = 22,200 MBq is not > 22,200 MBq (B0.3, §5). No scan report: A5.")
def _(p: Patient) -> None:
    for date in ("2016-04-12", "2018-06-20", "2020-09-08", "2022-11-15"):
        p.rai(date, 150)
    recent_pd(p, ("2023-06-01", 40), ("2026-08-01", 50))
    p.negatives(date="2026-09-01")


@scenario("not-refractory-avid-stable",
          "Not RAI-refractory: avid post-therapy scan, stable disease",
          {"rairStatus": "NO", "rairCriteria": [], "progression": "NO_PD", "action": "MONITOR",
           "suggestMolecularTesting": False, "rulesFired": ["B6"]},
          "100 mCi in 2024 with uptake in all lesions; sums 18 -> 17 mm.")
def _(p: Patient) -> None:
    p.rai("2024-06-01", 100)
    p.scan("2024-06-08", "post-therapy", "all", tsh=64)
    p.lesion_sum("2025-01-10", 18)
    p.lesion_sum("2026-07-10", 17)
    p.status("2026-07-10", "stable")


@scenario("not-established-no-post-therapy-scan",
          "Not established: therapeutic RAI but no post-therapy scan report; PD",
          {"rairStatus": "NOT_ESTABLISHED", "rairCriteria": [], "progression": "RECENT_PD",
           "action": "COMPLETE_DATA", "suggestMolecularTesting": False,
           "warnings": [{"code": "W-DATA-MISSING", "blocking": True}],
           "missingData": "non-empty", "rulesFired": ["A5"]},
          "150 mCi in 2025, PD in 2026, no scan of any kind: A5 (never NO).")
def _(p: Patient) -> None:
    p.rai("2025-03-01", 150)
    recent_pd(p, ("2025-06-01", 30), ("2026-09-01", 37))


@scenario("no-prior-therapeutic-rai",
          "A2: diagnostic tracer only, no therapeutic RAI",
          {"rairStatus": "NOT_ESTABLISHED", "rairCriteria": [], "action": "RAI_EVALUATION",
           "suggestMolecularTesting": False, "rulesFired": ["A2"]},
          "A 2 mCi (74 MBq) diagnostic dose and a negative diagnostic scan; no therapeutic "
          "administration (ATA 2025 Rec 59A).")
def _(p: Patient) -> None:
    p.rai("2025-10-01", 2, intent="diagnostic")
    p.scan("2025-10-03", "diagnostic", "no", tsh=60)
    p.lesion_sum("2025-10-05", 21)


@scenario("scan-after-iodinated-contrast",
          "A3: negative post-therapy scan within 8 weeks of iodinated contrast",
          {"rairStatus": "NOT_ESTABLISHED", "rairCriteria": [], "progression": "RECENT_PD",
           "action": "COMPLETE_DATA", "suggestMolecularTesting": False,
           "warnings": [{"code": "W-IODINE", "blocking": True}],
           "missingData": "non-empty", "rulesFired": ["A3"]},
          "Contrast CT 2024-12-10, 150 mCi 2025-01-20 (41 days later), negative scan 2025-01-27.")
def _(p: Patient) -> None:
    p.contrast("2024-12-10")
    p.rai("2025-01-20", 150)
    p.scan("2025-01-27", "post-therapy", "no", tsh=90)
    recent_pd(p, ("2025-04-01", 30), ("2026-08-15", 37))


@scenario("scan-low-tsh",
          "A3: negative post-therapy scan with inadequate TSH stimulation (12 mIU/L)",
          {"rairStatus": "NOT_ESTABLISHED", "rairCriteria": [], "progression": "NO_PD",
           "action": "COMPLETE_DATA", "suggestMolecularTesting": False,
           "warnings": [{"code": "W-TSH", "blocking": True}],
           "missingData": "non-empty", "rulesFired": ["A3"]},
          "TSH 12 mIU/L on the scan (goal > 30); sums stable.")
def _(p: Patient) -> None:
    p.rai("2024-09-10", 100)
    p.scan("2024-09-17", "post-therapy", "no", tsh=12)
    p.lesion_sum("2025-03-01", 20)
    p.lesion_sum("2026-06-01", 21)


@scenario("tg-only-no-structural-disease",
          "A4: rising thyroglobulin, no structurally evident disease",
          {"rairStatus": "NOT_ESTABLISHED", "rairCriteria": [], "action": "COMPLETE_DATA",
           "suggestMolecularTesting": False,
           "warnings": [{"code": "W-TG-ONLY", "blocking": False}], "rulesFired": ["A4"]},
          "Tg 2.1 -> 5.4 -> 11.8 ng/mL, TgAb negative, imaging without structural disease.")
def _(p: Patient) -> None:
    p.rai("2023-04-03", 100)
    p.scan("2023-04-10", "post-therapy", "no", tsh=95)
    p.tg("2025-03-01", 2.1)
    p.tg("2025-12-01", 5.4)
    p.tg("2026-09-01", 11.8)
    p.tg_ab("2026-09-01", 0.9)
    p.flag("structural-disease", "2026-09-05", False)
