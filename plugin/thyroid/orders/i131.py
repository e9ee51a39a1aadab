"""I-131 order cards (rules O1 of ``rules/thyroid/orders.rules.yaml``; DECISIONS §D4.10, §K5,
§K0.3): the rendering of what the order rules concluded for an I-131 order.

The rules choose the card (the winning candidate); this module words it:

* ``order-i131-rair``: I-131 therapy for RAIR disease (ATA 2025 Rec 59B), with a *delete* and a
  referral suggestion; warning (critical with ``ORDER_I131_CRITICAL``).
* ``order-i131-not-established``: the data that would establish the status (info; warning past
  22.2 GBq); not when no therapeutic RAI was ever given (A2: RAI is then expected).
* ``order-i131-rai-ineligible``: I-131 although a clinician judged RAI not appropriate
  (``rair#rai-ineligible``, §A4.14): warning with a *delete* suggestion, MDT review.
* ``order-i131-cumulative``: status NO / not applicable, cumulative activity past 22.2 GBq (info).
* ``order-i131-blocking``: I-131 in pregnancy (H4); for RAIR disease it also says Rec 59B, so the
  clinician reads one card for the order, not two.

A diagnostic-activity I-131 order gets no card.

The activity given so far is the derivation's (:mod:`plugin.thyroid.facts.derivation`), the same
number the patient-view cards and the rules use; the thresholds are those of
``rules/thyroid/thresholds.yaml``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from plugin.thyroid.clinical_model import mci_text
from plugin.thyroid.facts.rai import RaiActivity
from plugin.thyroid.orders.common import (
    I131_BLOCKING,
    I131_CUMULATIVE,
    I131_NOT_APPLICABLE,
    I131_NOT_ESTABLISHED,
    I131_RAI_INELIGIBLE,
    I131_RAIR,
    DraftOrder,
    OrderCard,
    OrderCardBuilder,
)

_CRITERION_RULE = {"JS-i": "B1", "JS-ii": "B2", "JS-iii": "B3", "JS-iv": "B4", "JS-v": "B5"}

@dataclass(frozen=True)
class Cumulative:
    """Itemized therapeutic activity so far plus the ordered activity, in integer MBq.

    ``prior_complete`` is False when ``prior_mbq`` is only a lower bound (an unknown activity
    or intent, or one day recorded with differing activities).
    """

    prior_mbq: int
    prior_count: int
    prior_unknown: int  # therapeutic (or unknown-intent) administrations without an activity
    order_mbq: int | None
    threshold_mbq: int
    prior_complete: bool = True

    @property
    def total_mbq(self) -> int | None:
        return None if self.order_mbq is None else self.prior_mbq + self.order_mbq

    @property
    def exceeds(self) -> bool | None:
        """True when past the threshold (strictly greater); None when it cannot be known.

        Unknown activities only add, so a known lower bound past the threshold is enough.
        """
        lower = self.prior_mbq + (self.order_mbq or 0)
        if lower > self.threshold_mbq:
            return True
        if self.order_mbq is None and self.prior_mbq >= self.threshold_mbq:
            return True  # an I-131 therapy order adds a positive activity to >= 22,200 MBq
        if self.order_mbq is None or self.prior_unknown or not self.prior_complete:
            return None
        return False


def cumulative_activity(rai: RaiActivity, order: DraftOrder) -> Cumulative:
    """The cumulative therapeutic activity if ``order`` is given (§5), from the rules' count of
    the activity so far (``rai``: the derivation's; same-day records once, diagnostic doses and
    records after the evaluation date excluded)."""
    unknown = sum(1 for d in rai.doses if d.activity_mbq is None) + len(rai.unknown_intent)
    return Cumulative(rai.cumulative_mbq, len(rai.doses), unknown, order.activity_mbq,
                      rai.threshold_mbq, rai.complete)


def _gbq(mbq: int) -> str:
    text = f"{Decimal(mbq) / 1000:.3f}".rstrip("0").rstrip(".")
    return text


def _mci(mbq: int) -> str:
    return mci_text(mbq, grouped=True)


def _activity_text(mbq: int | None) -> str:
    if mbq is None:
        return (
            "ordered activity not readable (dosageInstruction.doseAndRate with UCUM mCi, MBq or"
            " GBq); a unitless number is never guessed"
        )
    return f"ordered activity {mbq:,} MBq ({_gbq(mbq)} GBq, {_mci(mbq)} mCi)"


def _cumulative_text(cum: Cumulative) -> str:
    cap = cum.threshold_mbq
    limit = f"{cap:,} MBq ({_gbq(cap)} GBq, {_mci(cap)} mCi)"
    prior = (
        f"{cum.prior_mbq:,} MBq from {cum.prior_count} itemized therapeutic administration(s)"
    )
    gaps = (
        f" {cum.prior_unknown} earlier administration(s) have no readable activity or intent, so"
        " the true total may be higher."
        if cum.prior_unknown
        else " One day was recorded with differing activities (the smallest is counted), so the"
        " true total may be higher."
        if not cum.prior_complete
        else ""
    )
    total = cum.total_mbq
    if cum.exceeds:
        if total is None:
            where = "above" if cum.prior_mbq > cap else "at"
            return (
                f"**Cumulative therapeutic activity is already {where} {limit}** ({prior}), so"
                f" any further therapeutic activity passes it (strictly greater, §5); the"
                f" ordered activity is not readable.{gaps}"
            )
        return (
            f"**Cumulative therapeutic activity with this order: {total:,} MBq ({_gbq(total)} GBq,"
            f" {_mci(total)} mCi), above {limit}** (JS-v threshold, strictly greater; §5):"
            f" {prior} + {cum.order_mbq:,} MBq ordered.{gaps}"
        )
    if total is None:
        return (
            f"Cumulative therapeutic activity with this order cannot be computed: {prior} so far;"
            f" the ordered activity is not readable.{gaps}"
        )
    if cum.exceeds is None:
        return f"Cumulative therapeutic activity with this order: at least {total:,} MBq.{gaps}"
    if total == cum.threshold_mbq:
        return (
            f"Cumulative therapeutic activity with this order: exactly {limit}, which is **not**"
            f" above the threshold ({_mci(cap)} mCi is not >{_mci(cap)} mCi; W-THRESHOLD-EQUAL)."
        )
    return (
        f"Cumulative therapeutic activity with this order: {total:,} MBq ({_gbq(total)} GBq), not"
        f" above {limit} ({prior} + {cum.order_mbq:,} MBq ordered)."
    )



def i131_card(b: OrderCardBuilder, checks: Sequence[Mapping[str, Any]]) -> OrderCard | None:
    """The card for an I-131 order from the order rules' candidates for it (best first)."""
    if not checks:
        return None
    order, a = b.order, b.assessment
    kind = checks[0]["kind"]
    kinds = {c["kind"] for c in checks}
    if kind == I131_BLOCKING:
        # H4: RAI is contraindicated in pregnancy, whatever the activity (a diagnostic dose too).
        # One card for the order: the block, and for RAIR disease (the absorbed O1:i131-rair)
        # Rec 59B with the referral
        codes = {c["code"] for c in checks if c["kind"] == I131_BLOCKING}
        blocks = [w for w in a.warnings if w.blocking and w.code in codes]
        extra, more, rules = [], [], []
        if I131_RAIR in kinds:
            rules.append("B8")
            extra.append(b.text.data["i131_rair_in_block"].format(
                criteria=b.criteria() or "criteria not recorded"))
            more += b.referral_suggestions()
        return b.blocking_card(I131_BLOCKING, "I-131", blocks, extra=extra, testing=None,
                               more=more, reasons=("i131",), rules=rules)
    cum = cumulative_activity(b.derivation.rai, order)
    common = {
        "order_label": b.order_label(),
        "order_ref": order.ref,
        "order_activity_text": _activity_text(order.activity_mbq),
        "cumulative_text": _cumulative_text(cum),
        "total_gbq": _gbq(cum.total_mbq) if cum.total_mbq is not None else "?",
        # the threshold the comparison used (thresholds.yaml), never a number written in a text
        "threshold_gbq": _gbq(cum.threshold_mbq),
        "threshold_mci": _mci(cum.threshold_mbq),
        "criteria": b.criteria() or "criteria not recorded",
        "action": a.action,
    }
    over = "summary_over" if cum.exceeds and cum.total_mbq is not None else "summary"
    if kind == I131_RAIR:
        evidence = [line for c in a.rair_criteria for line in
                    a.evidence.get(_CRITERION_RULE.get(c, ""), [])]
        # B3: for JS-iii alone the frameworks disagree on RaIT for avid lesions; say so
        discordance = (" ".join(b.text.data["i131_js_iii_note"].split())
                       if list(a.rair_criteria) == ["JS-iii"] else "")
        name = "i131-rair"
        return b.make(
            I131_RAIR,
            "critical" if b.settings.i131_critical else "warning",
            b.summary(name, over, **common),
            b.detail(
                name,
                criteria_text=b.criteria() or "(not listed)",
                evidence_text=("Evidence: " + "; ".join(evidence) + ".") if evidence else "",
                discordance_text=discordance,
                **common,
            ),
            suggestions=[b.delete_suggestion(), *b.referral_suggestions()],
            reasons=b.override_reasons("i131"),
            rules=["B3"] if discordance else None,
        )
    if kind == I131_RAI_INELIGIBLE:
        # §A4.14: a clinician judged RAI not appropriate; the order contradicts that record, and
        # no data item "would settle" it (patient-view: MDT review)
        name = "i131-rai-ineligible"
        return b.make(
            I131_RAI_INELIGIBLE, "warning", b.summary(name, **common), b.detail(name, **common),
            suggestions=[b.delete_suggestion()], reasons=b.override_reasons("i131"),
        )
    if kind == I131_NOT_ESTABLISHED:
        name = "i131-not-established"
        missing = a.missing_data or ["(the assessment lists no specific item)"]
        return b.make(
            I131_NOT_ESTABLISHED,
            "warning" if cum.exceeds else "info",
            b.summary(name, over, n_missing=len(a.missing_data), **common),
            b.detail(name, missing_text="\n".join(f"- {m}" for m in missing), **common),
            reasons=b.override_reasons("i131"),
        )
    if kind == I131_NOT_APPLICABLE:
        # A1b: ATC/MTC; the RAI-R rules do not apply. Info only (the action is MDT review).
        name = "i131-not-applicable"
        return b.make(I131_NOT_APPLICABLE, "info", b.summary(name, **common),
                      b.detail(name, **common))
    if kind == I131_CUMULATIVE:
        name = "i131-cumulative"
        return b.make(I131_CUMULATIVE, "info", b.summary(name, **common),
                      b.detail(name, **common))
    raise ValueError(f"order rule concluded {kind!r} for an I-131 order; no card renders it")
