"""Issue 9 clinical review: hard cases and combinations the bundled samples miss.

Table-driven: each row is one patient built with the rule-test builder, the docs/DECISIONS.md
clause (§A4.x = §D4.x) or the rules/README.md safer reading it protects, and the conclusions the
contract requires.
Each row failed before its fix (named in the row's clause).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
from test_issue_9_blocks import BP_HIGH, braf, len_pd, ret
from test_thyroid_rules_builder import AS_OF, B, rair_pd

from plugin.thyroid.assessment.builder import assess
from plugin.thyroid.cards.render import render
from plugin.thyroid.orders.cards import DraftOrder, cards_for_order


def exhausted(b: B) -> B:
    """PD on lenvatinib, then cabozantinib, then sorafenib (no driver)."""
    return (b.therapy("lenvatinib", "2023-01-01", "2024-06-01", "progression")
            .therapy("cabozantinib", "2024-07-01", "2025-06-01", "progression")
            .therapy("sorafenib", "2025-07-01", "2026-06-15", "progression"))


@dataclass
class Row:
    clause: str
    build: Callable[[], B]
    action: str
    # (code, blocking, exact sorted drugs); the entry must exist
    warnings: list[tuple[str, bool, list[str]]] = field(default_factory=list)
    preferred: set[str] | None = None


ROWS = [
    # fix: assess.build_assessment names every proposed drug in a patient-level block
    Row("§A4.11.2 airway invasion + RET fusion: W-BLEED names the RET inhibitors it holds",
        lambda: ret(rair_pd()).flag("airway_invasion", "2026-10-01"), "MDT_REVIEW_REQUIRED",
        [("W-BLEED", True, ["lenvatinib", "pralsetinib", "selpercatinib", "sorafenib"])],
        preferred=set()),
    Row("§A4.11.2 RET point mutation: W-RET-POINT names the drugs it holds",
        lambda: rair_pd().variant("RET", "M918T"), "MDT_REVIEW_REQUIRED",
        [("W-RET-POINT", True, ["lenvatinib", "sorafenib"])], preferred=set()),
    Row("§A4.11.4 pregnant + RET fusion + BP 162/98: W-PREG holds all four; W-HTN stays fixable",
        lambda: ret(rair_pd(age=30, sex="female")).pregnancy("2026-11-01", True).bp(*BP_HIGH),
        "MDT_REVIEW_REQUIRED",
        [("W-PREG", True, ["lenvatinib", "pralsetinib", "selpercatinib", "sorafenib"]),
         ("W-HTN", True, ["lenvatinib", "pralsetinib", "selpercatinib"])], preferred=set()),
    # fix: D2:no-option (management.rules.yaml) + ``if_no_option`` in assess._resolve_action
    Row("safer reading: child of 10, no driver, RECENT_PD: nothing to offer -> MDT review",
        lambda: rair_pd(age=10), "MDT_REVIEW_REQUIRED",
        [("W-PEDS-AGE", True, ["lenvatinib", "sorafenib"])]),
    Row("safer reading: PD on lenvatinib, cabozantinib and sorafenib -> MDT review",
        lambda: exhausted(rair_pd()), "MDT_REVIEW_REQUIRED"),
    # controls: the fixes leave these alone
    Row("control: recent hemorrhage + RET fusion: selpercatinib (not a VEGFR MKI) stays"
        " preferred; lenvatinib/sorafenib blocked",
        lambda: ret(rair_pd()).flag("hemorrhage", "2026-10-15"), "SYSTEMIC_FIRST_LINE",
        [("W-BLEED", True, ["lenvatinib", "sorafenib"])],
        preferred={"selpercatinib", "pralsetinib"}),
    Row("control: child of 10 with RET fusion and BP 162/98: selpercatinib fixable block",
        lambda: ret(rair_pd(age=10)).bp(*BP_HIGH), "SYSTEMIC_FIRST_LINE",
        [("W-HTN", True, ["selpercatinib"])], preferred={"selpercatinib"}),
    Row("control: BRAF V600E, PD on D+T after lenvatinib: cabozantinib preferred",
        lambda: len_pd(braf(rair_pd())).therapy("dabrafenib+trametinib", "2026-07-01",
                                                "2026-11-01", "progression"),
        "SYSTEMIC_LATER_LINE", preferred={"cabozantinib"}),
]


@pytest.mark.parametrize("row", ROWS, ids=[r.clause[:72] for r in ROWS])
def test_hard_case(row: Row) -> None:
    a = assess(row.build().build(), AS_OF)
    j = a.to_json()
    ctx = json.dumps(j)
    assert j["action"] == row.action, ctx
    for code, blocking, drugs in row.warnings:
        match = [w for w in j["warnings"] if (w["code"], w["blocking"]) == (code, blocking)]
        assert match and sorted(match[0].get("drugs", [])) == drugs, ctx
    if row.preferred is not None:
        proposed = j["therapies"]["onLabel"] + j["therapies"]["guidelineSupportedOffLabel"]
        assert {t["drug"] for t in proposed if t.get("preferred")} == row.preferred, ctx
    # §A4.11: the JSON reading ("in the drugs of a blocking warning") agrees with Warning.holds
    blocked = {d for w in j["warnings"] if w["blocking"] for d in w.get("drugs", [])}
    for option in a.on_label + a.guideline_supported_off_label:
        if a.held(option.drug):
            assert option.drug in blocked, ctx


def test_no_option_cards_do_not_point_to_options_that_do_not_exist() -> None:
    rec = rair_pd(age=10).build()
    cards = {rc.kind: rc.card for rc in render(assess(rec, AS_OF), rec)}
    assert "see options" not in cards["rai-status"].summary
    therapy = cards["therapy-options"].summary
    assert "see guideline-supported and trial options" not in therapy
    assert "MDT review" in therapy


# -- order hooks agree with patient-view (§A4.16) ------------------------------------------


def _i131(mbq: int) -> DraftOrder:
    return DraftOrder("MedicationRequest/i131", "MedicationRequest", {}, "I-131", (), True, mbq,
                      "therapeutic")


def _order_cards(b: B, order: DraftOrder) -> list:
    rec = b.build()
    return cards_for_order(order, assess(rec, AS_OF), rec, "p1")


def test_i131_order_uses_the_rules_cumulative_activity() -> None:
    """Two same-day 11,100 MBq records (one dose) and one dated after the evaluation date: the
    rules count 11,100 MBq, so 11,100 + 3,700 ordered is 14,800 MBq, not "above 22.2 GBq"."""
    b = (B().histology("PTC").rai("2024-01-10", 11100).rai("2024-01-10", 11100)
         .rai("2027-01-10", 3700).scan("2024-01-15").sum("2025-01-01", 40)
         .sum("2026-06-01", 50).tested().bp("2026-11-01", 120, 80))
    assert "11100 MBq" in " ".join(assess(b.build(), AS_OF).evidence.get("A1", []))
    (card,) = _order_cards(b, _i131(3700))
    assert "14,800 MBq" in card.card.detail, card.card.detail
    assert "not above 22,200 MBq" in card.card.detail and "22.2 GBq" not in card.card.summary


def test_i131_order_when_rai_was_judged_not_appropriate() -> None:
    """§A4.14: patient-view says "RAI judged not appropriate; MDT review"; the order card must
    not say "status not established: 0 data item(s) would settle it" as an info card."""
    b = (B().histology("PTC").sum("2025-01-01", 40).sum("2026-06-01", 50).tested()
         .bp("2026-11-01", 120, 80).flag("rai_ineligible", "2025-01-01"))
    b = ret(b)
    (card,) = _order_cards(b, _i131(5550))
    assert card.kind == "order-i131-rai-ineligible"
    assert card.card.indicator == "warning"
    assert "not appropriate" in card.card.summary and "data item" not in card.card.summary
    assert any(a.type == "delete" for s in card.card.suggestions or [] for a in s.actions)


def test_lactation_is_named_on_the_w_preg_cards() -> None:
    """§A4.11.4: W-PREG blocks for lactation too; a breastfeeding (not pregnant) patient's cards
    must not read "Pregnancy: ..." alone."""
    rec = rair_pd(age=30, sex="female").flag("lactation", "2026-11-01").build()
    cards = {rc.kind: rc.card for rc in render(assess(rec, AS_OF), rec)}
    assert "lactation" in cards["warning-W-PREG"].summary.lower()
    assert "lactation" in cards["rai-status"].summary.lower()


@pytest.mark.parametrize("build", [
    lambda: braf(rair_pd()),                       # first line: vemurafenib notEligible (F8)
    lambda: len_pd(braf(rair_pd())),               # after lenvatinib PD (§A4.12)
])
def test_w_off_label_only_for_an_offered_drug(build) -> None:
    """§A4.16: "A W-OFF-LABEL caution is shown only for a drug that is offered"; vemurafenib is
    listed as not eligible, so no W-OFF-LABEL names it (assessment and cards)."""
    rec = build().build()
    a = assess(rec, AS_OF)
    offered = {o.drug for o in a.on_label + a.guideline_supported_off_label}
    for w in a.warnings:
        if w.code == "W-OFF-LABEL":
            assert set(w.drugs) <= offered, w
    assert "vemurafenib" in {o.drug for o in a.not_eligible}
    cards = render(a, rec)
    assert not any("W-OFF-LABEL" in rc.card.detail and "vemurafenib" in rc.card.detail
                   for rc in cards)


@pytest.mark.parametrize(("build", "drug", "mdt"), [
    (lambda: B().histology("PDTC").rai("2024-01-10", 5550).scan("2024-01-15")
     .sum("2025-01-01", 40).sum("2026-06-01", 50).tested().bp("2026-11-01", 120, 80),
     "lenvatinib", True),                                  # §A4.14 PDTC: MDT review
    (lambda: rair_pd(), "lenvatinib", False),              # control: F1, no MDT
])
def test_preferred_order_card_keeps_the_mdt_review(build, drug, mdt) -> None:
    """§A4.16: patient-view asks for MDT review before systemic therapy (PDTC); the order card
    for the preferred drug must say so, not only "matches the preferred option"."""
    order = DraftOrder("MedicationRequest/d1", "MedicationRequest", {}, drug, (drug,))
    (card,) = _order_cards(build(), order)
    assert card.kind == "order-preferred"
    assert ("MDT review" in card.card.summary) is mdt, card.card.summary
