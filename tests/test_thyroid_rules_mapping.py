"""to_facts arithmetic, configurable thresholds, evidence/sources and the knowledge version."""

from __future__ import annotations

import dataclasses
import datetime as dt
import random
import re

import pytest
from test_thyroid_rules_builder import AS_OF, B, rair_pd
from test_thyroid_rules_random import gen

from plugin.thyroid.assessment.builder import assess
from plugin.thyroid.facts.builder import add_months, load_thresholds, mbq_text, to_facts
from plugin.thyroid.knowledge.loader import load_knowledge


def _facts(b: B, **kw) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for f in to_facts(b.build(), AS_OF, **kw):
        out.setdefault(f["type"], []).append(f)
    return out


def test_units_and_months() -> None:
    assert mbq_text(22200) == "22200 MBq (600 mCi)"
    assert mbq_text(22237) == "22237 MBq (601 mCi)"
    assert mbq_text(1000) == "1000 MBq (27.0 mCi)"
    assert add_months(dt.date(2026, 3, 31), -1) == dt.date(2026, 2, 28)
    assert add_months(dt.date(2026, 11, 27), -14) == dt.date(2025, 9, 27)


def test_cumulative_activity_is_integer_and_strict() -> None:
    rai = _facts(B().histology().rai("2020-01-01", 11100).rai("2021-01-01", 11100))["rai"][0]
    assert rai["cumulative_mbq"] == 22200 and isinstance(rai["cumulative_mbq"], int)
    assert rai["cumulative_equal"] and not rai["cumulative_over"]
    rai = _facts(B().histology().rai("2020-01-01", 11100).rai("2021-01-01", 11137))["rai"][0]
    assert rai["cumulative_over"] and not rai["cumulative_equal"]
    # an unknown activity makes the sum a lower bound: never "equal"
    rai = _facts(B().histology().rai("2020-01-01", 22200).rai("2021-01-01", None))["rai"][0]
    assert not rai["cumulative_equal"] and not rai["activity_complete"]


def test_facts_are_flat_json_scalars_without_none() -> None:
    rng = random.Random(7)
    for _ in range(100):
        for f in to_facts(gen(rng)[0].build(), AS_OF):
            assert isinstance(f["type"], str)
            for key, value in f.items():
                assert value is not None, (f["type"], key)
                if isinstance(value, list):
                    assert all(isinstance(v, str) for v in value), (f["type"], key)
                else:
                    assert isinstance(value, (str, int, float, bool)), (f["type"], key)


def test_future_dated_records_are_ignored() -> None:
    b = rair_pd().new_lesion("2027-01-01").sum("2027-02-01", 200)
    assert _facts(b)["progression"][0]["value"] == "RECENT_PD"
    assert _facts(b)["progression"][0]["comparisons"] == 1


def test_thresholds_are_configurable() -> None:
    th = load_thresholds(overrides={"cumulative_threshold_mbq": 5000})
    a = assess(
        B()
        .histology()
        .rai("2024-01-10", 5550)
        .tested()
        .sum("2025-01-01", 40)
        .sum("2026-06-01", 50)
        .build(),
        AS_OF,
        thresholds=th,
    )
    assert a.rair_criteria == ["JS-v"]
    assert re.fullmatch(r"[\w.]+\+[0-9a-f]{12}\.cfg-[0-9a-f]{8}", a.knowledge_version)
    # 13-month-old PD is recent by default, not with a 12-month window
    b = rair_pd()
    b.r.lesion_sums.clear()
    b.sum("2025-01-01", 40).sum("2025-10-27", 50)
    assert assess(b.build(), AS_OF).progression == "RECENT_PD"
    th12 = load_thresholds(overrides={"recent_pd_months": 12})
    assert assess(b.build(), AS_OF, thresholds=th12).progression == "PD_NOT_RECENT"
    with pytest.raises(KeyError):
        load_thresholds(overrides={"no_such_threshold": 1})
    assert dataclasses.is_dataclass(th)
    with pytest.raises(dataclasses.FrozenInstanceError):
        th.recent_pd_months = 3  # type: ignore[misc]


def test_knowledge_version_names_file_version_and_content_hash() -> None:
    v = load_knowledge().version
    assert re.fullmatch(r"[\w.]+\+[0-9a-f]{12}", v)
    assert v.startswith(load_thresholds().version + "+")


def test_evidence_and_sources_per_rule() -> None:
    a = assess(rair_pd().build(), AS_OF)
    assert any("2024-01-15" in line and "uptake none" in line for line in a.evidence["B2"])
    assert a.sources["B2"] == ["Observation/3"]
    assert any("5550 MBq (150 mCi)" in line for line in a.evidence["A1"])
    assert any("RECIST PD" in line and "50 mm" in line for line in a.evidence["C1"])
    # to_json stays exactly §A1
    assert list(a.to_json()) == [
        "evaluationDate",
        "rairStatus",
        "rairCriteria",
        "progression",
        "action",
        "suggestMolecularTesting",
        "drivers",
        "therapies",
        "warnings",
        "missingData",
        "rulesFired",
        "knowledgeVersion",
    ]


def test_data_quality_missing_items_reach_missing_data() -> None:
    a = assess(rair_pd().dq("unit of RAI activity (MedicationAdministration/x)").build(), AS_OF)
    assert "unit of RAI activity (MedicationAdministration/x)" in a.missing_data
    assert a.rair_status == "YES"  # a note never removes a met criterion


def test_histology_conflict_uses_the_most_aggressive() -> None:
    a = assess(rair_pd().histology("ATC").build(), AS_OF)
    assert a.rair_status == "NOT_APPLICABLE" and a.action == "MDT_REVIEW_REQUIRED"
