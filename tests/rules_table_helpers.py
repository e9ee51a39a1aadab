"""The rule table's machinery (tests/test_thyroid_rules_table*.py): a :class:`Row` is a small
patient in and the expected conclusions out; :func:`check` assesses the patient and compares.
The row helpers below edit a builder patient (tests/test_thyroid_rules_builder.py)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from test_thyroid_rules_builder import AS_OF, B, rair_pd

from plugin.thyroid.assessment.builder import assess


@dataclasses.dataclass
class Row:
    ids: tuple[str, ...]
    name: str
    build: Callable[[], B]
    expect: dict
    region: str = "US"


NO_DRIVER_US = {"lenvatinib", "sorafenib"}


def rule_row(ids: str, name: str, build: Callable[[], B], region: str = "US", **expect) -> Row:
    return Row(tuple(ids.split()), name, build, expect, region)


# ------------------------------------------------------------------------ row helpers


def no_histology() -> B:
    b = rair_pd()
    b.r.diagnoses.clear()
    return b


def swap_histology(b: B, h: str) -> B:
    b.r.diagnoses.clear()
    return b.histology(h)


def scan_tsh(tsh: float) -> B:
    return without_scans(rair_pd()).scan("2024-01-15", tsh=tsh)


def without_scans(b: B) -> B:
    b.r.scans.clear()
    return b


def no_sum_pd(b: B) -> B:
    b.r.lesion_sums.clear()
    return b


def sums(b: B, values: tuple, days: tuple = ("2025-01-01", "2026-06-01")) -> B:
    b.r.lesion_sums.clear()
    for day, v in zip(days, values, strict=True):
        b.sum(day, v)
    return b


def untested(b: B) -> B:
    b.r.genes_tested.clear()
    return b


def rebirth(b: B) -> B:
    """Ages in whole years on AS_OF: born the day after AS_OF, ``age`` years earlier."""
    age = AS_OF.year - b.r.birth_date.year
    b.r.birth_date = AS_OF.replace(year=AS_OF.year - age) - __import__("datetime").timedelta(days=1)
    return b


def with_activity(mbqs: list[int], pd: bool = True) -> B:
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
