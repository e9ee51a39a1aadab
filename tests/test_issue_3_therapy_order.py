"""Therapy lists read in the guideline's order: preferred first, then DECISIONS §K2.6/§K3 order.

Regression: with a RET fusion both RET inhibitors are preferred (F2), and the lists were sorted
by name, so pralsetinib (accelerated approval, boxed warning) led ahead of selpercatinib
(traditional approval) on the status card and the therapy card.
"""

from __future__ import annotations

import json
from pathlib import Path

SAMPLES = Path(__file__).resolve().parents[1] / "fhir_samples" / "thyroid"


def _evaluate(make_app, scenario: str) -> tuple[dict, list[str]]:
    app = make_app(PLUGINS=["plugin.thyroid"], EVALUATION_DATE="2026-11-27")
    request = json.loads((SAMPLES / f"patient-view.{scenario}.json").read_text(encoding="utf-8"))
    body = app.test_client().post("/cds-services/rair-patient-view", json=request).get_json()
    return body["extension"]["rair-cds"]["assessment"], [c["summary"] for c in body["cards"]]


def test_ret_fusion_lists_selpercatinib_before_pralsetinib_and_both_as_preferred(make_app):
    assessment, summaries = _evaluate(make_app, "ret-fusion-first-line")

    on_label = assessment["therapies"]["onLabel"]
    assert [t["drug"] for t in on_label] == ["selpercatinib", "pralsetinib", "lenvatinib",
                                             "sorafenib"]
    assert [t.get("preferred", False) for t in on_label] == [True, True, False, False]
    therapy_card = next(s for s in summaries if s.startswith("Systemic options"))
    assert therapy_card.startswith("Systemic options: selpercatinib, pralsetinib (preferred)")


def test_no_actionable_driver_lists_lenvatinib_first_then_sorafenib(make_app):
    assessment, _ = _evaluate(make_app, "nras-q61r-first-line")

    drugs = [t["drug"] for t in assessment["therapies"]["onLabel"]]
    assert drugs[:2] == ["lenvatinib", "sorafenib"]
