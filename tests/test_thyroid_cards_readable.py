"""Cards a clinician reads in seconds (DECISIONS §D4.16), measured on every bundled sample.

Every ``patient-view`` sample and every order scenario goes through the real service (reader,
rules, cards) with the samples' evaluation date. The tests measure the median card detail, and
check that each patient-view card opens with its reason in one sentence, keeps its own evidence,
cites only the rules that decided it with titles that apply, and that a warning names only its
own drugs.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import statistics
from pathlib import Path

import pytest

from plugin.thyroid.assessment.model import Assessment, TherapyOption, Warning
from plugin.thyroid.cards.render import load_templates, render
from plugin.thyroid.clinical_model import CancerDiagnosis, Histology, PatientRecord
from plugin.thyroid.orders.service import ORDER_SELECT_ID, ORDER_SIGN_ID
from plugin.thyroid.samples import SAMPLES_DIR, evaluation_date, sample_index

ORDERS = json.loads((SAMPLES_DIR / "orders" / "index.json").read_text(encoding="utf-8"))
RULE_ID = re.compile(r"\b(A[1-6]b?|B[1-9]b?|C[1-4][abc]?|D[1-5]|E[1-6]b?|F[1-9]|G[1-5]|H[1-5]"
                     r"|W-[A-Z0-9-]+)\b")
MEDIAN_MAX = 900


@pytest.fixture(scope="module")
def responses(tmp_path_factory) -> dict[str, list[dict]]:
    """``{"pv:<sample>" | "order:<scenario>": cards}`` for every bundled sample."""
    from cds_hooks import create_app

    tmp = tmp_path_factory.mktemp("readable")

    def client(**extra):
        config = {"TESTING": True, "PLUGINS": ["plugin.thyroid"],
                  "FEEDBACK_DB": str(tmp / "feedback.sqlite3"),
                  "EVALUATION_DATE": evaluation_date(), "AUTH_MODE": "off",
                  "FHIR_REQUIRE_AUTHORIZATION": False, **extra}
        return create_app(config).test_client()

    out: dict[str, list[dict]] = {}
    pv = client()
    for sample in sample_index():
        body = json.loads(Path(sample["request"]).read_text(encoding="utf-8"))
        res = pv.post("/cds-services/rair-patient-view", json=body)
        assert res.status_code == 200, sample["name"]
        out[f"pv:{sample['name']}"] = res.get_json()["cards"]
    for scenario in ORDERS["scenarios"]:
        body = json.loads((SAMPLES_DIR / "orders" / scenario["request"]).read_text("utf-8"))
        service = ORDER_SELECT_ID if body["hook"] == "order-select" else ORDER_SIGN_ID
        res = client(**scenario.get("config", {})).post(f"/cds-services/{service}", json=body)
        if res.status_code == 200:
            out[f"order:{scenario['name']}"] = res.get_json()["cards"]
    return out


def _patient_view(responses):
    return {k: v for k, v in responses.items() if k.startswith("pv:")}


def _block(detail: str, head: str) -> list[str]:
    """The bullet lines of the ``**head:**`` block of a detail."""
    for para in detail.split("\n\n"):
        if para.startswith(f"**{head}:**"):
            return [x for x in para.splitlines()[1:] if x.startswith("- ")]
    return []


def test_median_card_detail_is_at_most_900_characters(responses):
    lengths = [len(c.get("detail") or "") for cards in responses.values() for c in cards]
    pv = [len(c.get("detail") or "") for cards in _patient_view(responses).values()
          for c in cards]
    median = statistics.median(lengths)
    print(f"\n{len(lengths)} cards over {len(responses)} samples: median detail {median:g} "
          f"characters (patient-view {statistics.median(pv):g}, max {max(lengths)})")
    assert len(responses) >= 50  # every patient-view sample and the order scenarios
    assert median <= MEDIAN_MAX


def test_every_card_opens_with_its_reason_in_one_sentence(responses):
    for name, cards in _patient_view(responses).items():
        for card in cards:
            first = card["detail"].split("\n\n")[0]
            assert "\n" not in first, (name, card["summary"], first)
            assert not first.startswith(("**Rules", "**Evidence", "**Also", "- ")), (name, first)
            inner = re.findall(r"[.!?] +[A-Z]", first.rstrip())
            assert not inner, (name, first)
            assert len(first) <= 300, (name, first)


def test_every_card_names_its_rule_and_source(responses):
    for name, cards in responses.items():
        for card in cards:
            assert card["source"]["label"].strip(), name
            assert RULE_ID.search(card["detail"]), (name, card["summary"])


def test_no_card_repeats_another_cards_evidence(responses):
    def norm(line: str) -> str:
        return re.sub(r" \([A-H][1-9][a-c]?\)$", "", line.strip())

    for name, cards in _patient_view(responses).items():
        seen: dict[str, str] = {}
        for card in cards:
            for line in _block(card["detail"], "Evidence"):
                key = norm(line)
                assert key not in seen, (name, line, seen.get(key), card["summary"])
                seen[key] = card["summary"]


def test_rule_lists_name_only_rules_that_apply(responses):
    for name, cards in _patient_view(responses).items():
        for card in cards:
            assert len(_block(card["detail"], "Rules")) <= 6, (name, card["summary"])
    # a RET fusion: the therapy card neither says "No actionable driver" nor lists the
    # cabozantinib rule (G1) that only explains why cabozantinib is not eligible
    for sample in ("ret-fusion-first-line", "ntrk-fusion-first-line", "alk-fusion-first-line",
                   "ret-fusion-uncontrolled-bp", "child-ret-fusion", "braf-v600e-first-line"):
        for card in responses[f"pv:{sample}"]:
            assert "No actionable driver" not in card["detail"], (sample, card["summary"])
        therapy = next(c for c in responses[f"pv:{sample}"]
                       if c["summary"].startswith("Systemic options"))
        assert not any(x.startswith("- **G1**") for x in _block(therapy["detail"], "Rules"))
    # no actionable driver: the title applies and is said
    therapy = next(c for c in responses["pv:js-iv-progression-despite-uptake"]
                   if c["summary"].startswith("Systemic options"))
    assert "No actionable driver" in therapy["detail"]


def test_a_warning_names_only_its_own_drugs(responses):
    # a selpercatinib block: the selpercatinib sentence, never lenvatinib's 73 % text
    a = Assessment(
        evaluation_date=dt.date(2026, 11, 27), rair_status="YES", rair_criteria=["JS-ii"],
        progression="RECENT_PD", action="SYSTEMIC_FIRST_LINE",
        on_label=[TherapyOption("selpercatinib", preferred=True, rule="F2"),
                  TherapyOption("lenvatinib", rule="F1")],
        warnings=[Warning("W-HTN", True, ("selpercatinib",), rule="F2"),
                  Warning("W-HTN", False, ("lenvatinib",), rule="F1")],
        rules_fired=["B2", "C1", "C2", "F1", "F2"])
    cards = {rc.kind: rc.card for rc in render(a, _record())}
    critical = cards["warning-W-HTN"]
    assert critical.summary.startswith("Control blood pressure before starting selpercatinib")
    assert "Selpercatinib: do not initiate" in critical.detail
    assert "73 %" not in critical.detail and "Lenvatinib:" not in critical.detail
    assert "LENVIMA" not in critical.detail
    # the RET-fusion sample's therapy card: the RET inhibitors lead, lenvatinib's text is not said
    therapy = next(c for c in responses["pv:ret-fusion-first-line"]
                   if c["summary"].startswith("Systemic options"))
    assert "73 %" not in therapy["detail"]
    assert "Selpercatinib: do not initiate" in therapy["detail"]


def _record() -> PatientRecord:
    return PatientRecord(patient_source="Patient/p1", birth_date=dt.date(1960, 1, 1),
                         diagnoses=[CancerDiagnosis("Condition/c1", Histology.PTC)])


def test_an_off_label_caution_is_shown_only_for_offered_drugs():
    a = Assessment(
        evaluation_date=dt.date(2026, 11, 27), rair_status="YES", rair_criteria=["JS-ii"],
        progression="RECENT_PD", action="SYSTEMIC_FIRST_LINE",
        on_label=[TherapyOption("lenvatinib", rule="F1")],
        guideline_supported_off_label=[TherapyOption("crizotinib", preferred=True, rule="F4")],
        not_eligible=[TherapyOption("vemurafenib", reason="off-label in thyroid cancer",
                                    rule="F8")],
        warnings=[Warning("W-OFF-LABEL", False, ("crizotinib", "vemurafenib"), rule="F4")],
        rules_fired=["B2", "C1", "C2", "F4", "F8"])
    details = [rc.card.detail or "" for rc in render(a, _record())]
    assert any("W-OFF-LABEL" in d and "crizotinib" in d for d in details)
    for detail in details:
        for line in detail.splitlines():
            assert not ("W-OFF-LABEL" in line and "vemurafenib" in line), line
    # nothing offered: no off-label caution at all
    a.guideline_supported_off_label = []
    a.warnings = [Warning("W-OFF-LABEL", False, ("vemurafenib",), rule="F8")]
    assert not any("W-OFF-LABEL" in (rc.card.detail or "") for rc in render(a, _record()))


def test_the_braf_sample_has_no_vemurafenib_off_label_caution(responses):
    for card in responses["pv:braf-v600e-first-line"]:
        assert "W-OFF-LABEL" not in card["detail"], card["summary"]


def test_each_per_drug_warning_text_names_its_own_drug_only():
    t = load_templates()
    drugs = [d for d in t["drugs"] if "+" not in d]
    for code, texts in t["warning_drug_messages"].items():
        assert code in t["warnings"], code
        for drug, text in texts.items():
            if drug in ("other", "common"):
                continue
            assert drug in t["drugs"], (code, drug)
            assert text.startswith(drug.capitalize() + ":"), (code, drug)
            others = [d for d in drugs if d != drug and d in text.lower()]
            assert not others, (code, drug, others)
