"""Randomised checks: many generated patients, the engine's assessment against an independent
plain-Python expectation of the key outputs; §A1 vocabulary and invariants on every result; a
cold process whose first evaluation fires no rule; 8 threads agree with sequential runs."""

from __future__ import annotations

import datetime as dt
import json
import random
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from test_thyroid_rules_builder import AS_OF, B

from plugin.thyroid.assessment.builder import assess
from plugin.thyroid.assessment.model import ACTIONS, CRITERIA, PROGRESSIONS, RAIR_STATUSES

W_CODES = {
    "W-HTN",
    "W-QT",
    "W-BLEED",
    "W-PREG",
    "W-PEDS-AGE",
    "W-RET-POINT",
    "W-BRAF-NONV600E",
    "W-IODINE",
    "W-TSH",
    "W-DATA-MISSING",
    "W-DATA-CONFLICT",
    "W-FRAMEWORK-DISCORDANCE",
    "W-TG-ONLY",
    "W-LATE-PD",
    "W-ACCEL",
    "W-INFECTION",
    "W-OFF-LABEL",
    "W-LABEL-REGION",
    "W-WOUND",
    "W-THRESHOLD-EQUAL",
    "W-HISTOLOGY-PDTC",
}
ACTIVITIES = [1110, 3700, 5550, 5587, 7400, 11100]


def gen(rng: random.Random) -> tuple[B, dict]:
    """A random patient and the facts an independent reader needs to predict the result."""
    age = rng.choice([None, 1, 11, 12, 17, 18, 40, 66, 80])
    b = B(age=age, sex=rng.choice(["male", "female"]))
    hist = rng.choices(["PTC", "FTC", "OTC", "ATC", "MTC", "PDTC", None], [5, 2, 2, 1, 1, 1, 1])[0]
    b.histology(hist)
    n = rng.choice([0, 1, 2, 3, 4, 5])
    acts = [rng.choice(ACTIVITIES) for _ in range(n)]
    if n == 4 and rng.random() < 0.3:
        acts = [5550] * 4  # exactly 22,200 MBq
    for i, a in enumerate(acts):
        b.rai(f"{2019 + i}-03-01", a)
    last = dt.date(2019 + n - 1, 3, 1) if n else None
    scan = None
    if n and rng.random() < 0.8:
        uptake = rng.choice(["all", "some", "none", "unknown"])
        tsh = rng.choice([None, 20.0, 30.0, 31.0, 60.0])
        b.scan((last + dt.timedelta(days=5)).isoformat(), "post-therapy", uptake, tsh)
        contrast = rng.choice([None, 30, 56, 57, 90])
        if contrast is not None:
            b.contrast((last - dt.timedelta(days=contrast)).isoformat())
        scan = dict(uptake=uptake, tsh=tsh, contrast=contrast)
    sums = []
    start = dt.date(2024, 6, 1)
    for k in range(rng.choice([0, 1, 2, 3])):
        day = start + dt.timedelta(days=200 * k + rng.randrange(0, 150))
        mm = rng.choice([20, 24, 25, 30, 40, 48, 50, 60])
        sums.append((day, mm))
        b.sum(day.isoformat(), mm)
    new_lesion = None
    if rng.random() < 0.15:
        new_lesion = dt.date(2026, rng.choice([1, 6, 10]), 1)
        b.new_lesion(new_lesion.isoformat())
    mol = rng.choice(["none", "complete", "braf", "ret", "dna"])
    if mol == "complete":
        b.tested()
    elif mol == "braf":
        b.tested().variant("BRAF", "V600E")
    elif mol == "ret":
        b.tested().variant("RET", "fusion", "fusion", partner="CCDC6")
    elif mol == "dna":
        b.tested(fusion_capable=False)
    if rng.random() < 0.5:
        b.bp("2026-11-01", rng.choice([120, 150]), 80)
    return b, dict(hist=hist, acts=acts, scan=scan, sums=sums, new_lesion=new_lesion, age=age)


def expected(p: dict) -> dict:
    """Independent plain-Python reading of DOMAIN.md for the generated space."""
    total = sum(a for a in p["acts"] if a >= 1110)
    pd_days = []
    nadir = None
    for day, mm in sorted(p["sums"]):
        if nadir is not None and mm - nadir >= 5 and mm * 10 >= nadir * 12:
            pd_days.append(day)
        nadir = mm if nadir is None else min(nadir, mm)
    if p["new_lesion"]:
        pd_days.append(p["new_lesion"])
    pd = bool(pd_days)
    crit = set()
    s = p["scan"]
    if s:
        bad = s["uptake"] in ("none", "some") and (
            (s["tsh"] is not None and s["tsh"] <= 30)
            or (s["contrast"] is not None and s["contrast"] <= 56)
        )
        if not bad and s["uptake"] == "none":
            crit.add("JS-ii")
        if not bad and s["uptake"] == "some":
            crit.add("JS-iii")
        if s["uptake"] == "all" and pd:
            crit.add("JS-iv")
    if pd and total > 22200:
        crit.add("JS-v")
    cut = dt.date(2025, 9, 27)  # AS_OF minus 14 calendar months
    if pd:
        last = max(pd_days)
        newer_ok = any(day > last and day >= cut and day not in pd_days for day, _ in p["sums"])
        prog = "RECENT_PD" if last >= cut else "NO_PD" if newer_ok else "PD_NOT_RECENT"
    else:
        prog = "NO_PD" if len(p["sums"]) >= 2 else "UNKNOWN"
    return dict(total=total, pd=pd, crit=crit, two_sums=len(p["sums"]) >= 2, prog=prog)


def check_invariants(j: dict) -> None:
    assert j["rairStatus"] in RAIR_STATUSES
    assert j["progression"] in PROGRESSIONS
    assert j["action"] in ACTIONS
    assert set(j["rairCriteria"]) <= set(CRITERIA)
    if j["rairStatus"] != "YES":
        assert j["rairCriteria"] == []
    else:
        assert j["rairCriteria"]
    for w in j["warnings"]:
        assert w["code"] in W_CODES and isinstance(w["blocking"], bool)
    keys = [(w["code"], w["blocking"]) for w in j["warnings"]]
    assert len(keys) == len(set(keys)), "one entry per code per blocking state"
    placed = [t["drug"] for name, lst in j["therapies"].items() if name != "trialOnly" for t in lst]
    assert len(placed) == len(set(placed)), "a drug has one placement only"
    trial_drugs = [t["drug"] for t in j["therapies"]["trialOnly"]]
    assert len(trial_drugs) == len(set(trial_drugs))
    # The only drug string allowed in two lists is a trial pointer (F9, rules/README.md 2a): it
    # sits in trialOnly beside a notEligible entry, never beside a proposed one.
    proposed = {
        t["drug"] for n in ("onLabel", "guidelineSupportedOffLabel") for t in j["therapies"][n]
    }
    assert not proposed & set(trial_drugs), "a proposed drug is not also trial-only"
    for name in ("trialOnly", "notEligible"):
        assert not any(t.get("preferred") for t in j["therapies"][name])
    assert all(t.get("trial", "").startswith("NCT") for t in j["therapies"]["trialOnly"])
    assert all(t.get("reason") for t in j["therapies"]["notEligible"])
    if j["rairStatus"] in ("NO", "NOT_ESTABLISHED"):
        assert j["therapies"]["onLabel"] == [] and not j["suggestMolecularTesting"]
    if j["rairStatus"] == "NOT_APPLICABLE":
        assert j["action"] == "MDT_REVIEW_REQUIRED"
    assert all(isinstance(m, str) and m for m in j["missingData"])


@pytest.mark.parametrize("seed", range(4))
def test_random_patients_agree_with_plain_python(seed: int) -> None:
    rng = random.Random(seed)
    seen = set()
    for _ in range(150):
        b, p = gen(rng)
        j = assess(b.build(), AS_OF).to_json()
        check_invariants(j)
        ctx = f"{p} -> {j}"
        if p["hist"] in ("ATC", "MTC"):
            assert j["rairStatus"] == "NOT_APPLICABLE", ctx
            continue
        if p["hist"] is None:
            assert j["rairStatus"] == "NOT_ESTABLISHED", ctx
            continue
        if p["hist"] == "PDTC":  # §A4.14: classified as DTC, flagged, MDT before systemic therapy
            assert any(w["code"] == "W-HISTOLOGY-PDTC" for w in j["warnings"]), ctx
            assert j["action"] not in ("SYSTEMIC_FIRST_LINE", "SYSTEMIC_LATER_LINE"), ctx
        e = expected(p)
        seen.add(j["rairStatus"])
        if e["total"] == 0:
            assert (j["rairStatus"], j["action"]) == ("NOT_ESTABLISHED", "RAI_EVALUATION"), ctx
            continue
        assert set(j["rairCriteria"]) == e["crit"], ctx
        assert ("JS-v" in j["rairCriteria"]) == (e["pd"] and e["total"] > 22200), ctx
        assert (j["rairStatus"] == "YES") == bool(e["crit"]), ctx
        assert any(w["code"] == "W-THRESHOLD-EQUAL" for w in j["warnings"]) == (
            e["total"] == 22200
        ), ctx
        if j["rairStatus"] == "NO":  # never NO without the evidence for it
            assert p["scan"]["uptake"] == "all" and e["prog"] == "NO_PD", ctx
        if not e["crit"] and not (
            p["scan"] and p["scan"]["uptake"] == "all" and e["prog"] == "NO_PD"
        ):
            assert j["rairStatus"] == "NOT_ESTABLISHED", ctx
            assert j["action"] == "COMPLETE_DATA", ctx
        assert j["progression"] == e["prog"], ctx
        age = p["age"]
        on_label = {t["drug"] for t in j["therapies"]["onLabel"]}
        if "lenvatinib" in on_label:  # §A4.14: an unknown age keeps the drug listed
            assert age is None or age >= 18, ctx
        if age is None and j["action"] != "MDT_REVIEW_REQUIRED":
            assert any("date of birth" in m for m in j["missingData"]), ctx
        if j["action"] in ("SYSTEMIC_FIRST_LINE", "SYSTEMIC_LATER_LINE", "ORDER_MOLECULAR_TESTING"):
            assert j["rairStatus"] == "YES", ctx
    assert "YES" in seen and "NOT_ESTABLISHED" in seen


def _patients(count: int = 60) -> list:
    rng = random.Random(99)
    return [gen(rng)[0].build() for _ in range(count)]


def test_eight_threads_match_sequential() -> None:
    records = _patients()
    sequential = [json.dumps(assess(r, AS_OF).to_json(), sort_keys=True) for r in records]
    with ThreadPoolExecutor(max_workers=8) as pool:
        threaded = list(
            pool.map(lambda r: json.dumps(assess(r, AS_OF).to_json(), sort_keys=True), records * 3)
        )
    assert threaded == sequential * 3


def test_cold_process_first_evaluation_fires_nothing() -> None:
    code = (
        "import datetime as dt\n"
        "from plugin.thyroid.assessment.builder import assess\n"
        "from plugin.thyroid.knowledge.loader import load_knowledge\n"
        "from plugin.thyroid.clinical_model import PatientRecord\n"
        "e = load_knowledge().engine\n"
        "r = e.evaluate([{'type': 'unmatched'}])\n"
        "assert r.fired == [] and r.derived == [], r\n"
        "print(assess(PatientRecord(), dt.date(2026, 11, 27)).rair_status)\n"
    )
    root = Path(__file__).resolve().parents[1]
    for _ in range(3):
        done = subprocess.run(
            [sys.executable, "-c", code], cwd=root, capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip() == "NOT_ESTABLISHED"
