"""Cards for draft orders: what the order hooks say about one order, given the assessment.

Which cards apply is decided by the order rules (``rules/thyroid/orders.rules.yaml``, their own
ruleset, built once in the :class:`~plugin.thyroid.knowledge.loader.Knowledge`): the order and
what the assessment says about it become facts (:mod:`plugin.thyroid.orders.facts`), the rules
conclude candidates ``{type: order_check, target, kind, tier}``, and per target (the I-131 order,
each ordered drug, the pregnancy caution) the best tier wins (``precedence.yaml``
``order_check``, DECISIONS §D4.17); the candidates it beat are what the winning card absorbs.
This module runs the rules and renders the winners, at most one card per drug in an order and
one card per I-131 order (DECISIONS §D4.2, §D4.10, §K2.9, §K5):

1. **I-131 for a refractory patient** (``order-i131-rair``, O1): warning (critical if configured)
   citing the criteria and ATA 2025 Rec 59B, with a *delete* suggestion and a systemic-therapy
   referral. ``NOT_ESTABLISHED``: the data that would establish it (``order-i131-not-established``,
   info); other statuses: only a cumulative activity past 22.2 GBq (``order-i131-cumulative``,
   info). A diagnostic-activity I-131 order gets no card; I-131 in pregnancy gets one critical
   card (``order-i131-blocking``) that also says Rec 59B (:mod:`~plugin.thyroid.orders.i131`).
2. **Targeted drug without its driver** (``order-driver-missing``, warning, O2), with a testing
   order when the driver was never tested by a capable assay.
3. **Drug listed as not eligible** (``order-not-eligible``, warning, O3) with the assessment's
   reason; when the assessment also offers the drug in a trial, the same card names the trial. A
   drug offered only in a trial: ``order-trial-only`` (warning).
4. **Blocking warning for the ordered drug** (``order-blocking``, critical, O4): a blocking warning
   whose drugs include it, or a patient-level block (§A4.2). It absorbs rules 2 and 3 for that
   drug, so the clinician reads one card per drug.
4b. **Systemic drug the assessment does not support** (``order-not-indicated``, warning, O4b): no
   therapy option listed and action ``MONITOR`` / ``UPDATE_IMAGING`` / ``COMPLETE_DATA`` /
   ``RAI_EVALUATION`` (never ATC/MTC), after rules 2-4; a continuation of the same drug gets no
   card (listed in ``suppressedCards``) (:mod:`~plugin.thyroid.orders.indication`).
5. **Preferred option** (``order-preferred``, info, O5) only when ``info_cards`` is on and no other
   card fired (:mod:`~plugin.thyroid.orders.drugs`).
6. **Pregnancy caution** (O6): a non-blocking W-PREG joins the order's warning or critical card,
   or becomes its own ``order-pregnancy-caution`` warning.

Card text is data (``rules/thyroid/order_cards.yaml``); each card's ``source`` names the guideline
or label behind it and its detail lists its rule IDs and sources.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from plugin.thyroid.assessment.model import Assessment
from plugin.thyroid.clinical_model import PatientRecord
from plugin.thyroid.facts.derivation import Derivation
from plugin.thyroid.knowledge.loader import load_knowledge
from plugin.thyroid.orders.common import (
    BLOCKING,
    DRIVER_MISSING,
    I131_BLOCKING,
    I131_CUMULATIVE,
    I131_NOT_APPLICABLE,
    I131_NOT_ESTABLISHED,
    I131_RAIR,
    NOT_ELIGIBLE,
    NOT_INDICATED,
    PREFERRED,
    PREGNANCY_CAUTION,
    TRIAL_ONLY,
    DraftOrder,
    OrderCard,
    OrderCardBuilder,
    OrderCardSettings,
    OrderCardText,
    drug_matches,
    load_order_text,
)
from plugin.thyroid.orders.drugs import drug_card
from plugin.thyroid.orders.facts import order_facts
from plugin.thyroid.orders.i131 import Cumulative, cumulative_activity, i131_card

__all__ = [
    "BLOCKING", "DRIVER_MISSING", "I131_BLOCKING", "I131_CUMULATIVE",
    "I131_NOT_APPLICABLE", "I131_NOT_ESTABLISHED", "I131_RAIR", "NOT_ELIGIBLE", "NOT_INDICATED",
    "PREFERRED",
    "PREGNANCY_CAUTION", "TRIAL_ONLY", "Cumulative",
    "DraftOrder", "OrderCard", "OrderCardSettings", "OrderCardText", "cards_for_order",
    "cumulative_activity", "drug_matches", "load_order_text", "order_checks",
]

if TYPE_CHECKING:
    from plugin.engine import RuleEngine
    from plugin.thyroid.knowledge.precedence import Precedence

_RANK = {"critical": 0, "warning": 1, "info": 2}
#: the order rules' target for the I-131 order and for the pregnancy caution (else: a drug)
I131_TARGET = "I-131"
PREGNANCY_TARGET = "pregnancy"


def cards_for_order(
    order: DraftOrder,
    assessment: Assessment,
    record: PatientRecord,
    patient_id: str,
    *,
    text: OrderCardText | None = None,
    settings: OrderCardSettings | None = None,
    suppressed: list[dict[str, str]] | None = None,
    derivation: Derivation | None = None,
    templates: Mapping[str, Any] | None = None,
    engine: RuleEngine | None = None,
    precedence: Precedence | None = None,
) -> list[OrderCard]:
    """Every card for one draft order (critical first). Orders the rules do not concern get none.

    ``suppressed``, when given, receives one ``{"order", "kind", "reason"}`` entry per card a rule
    held back (a continuation of current therapy), for the response's ``suppressedCards``.
    ``derivation`` is the record's (the one the assessment was built on; derived here when not
    given); ``templates`` the card text of ``cards.yaml`` (default: the knowledge folder's);
    ``engine`` the order rules' engine and ``precedence`` the tiers (default: the default
    knowledge's ``order_engine`` and ``precedence``).
    """
    builder = OrderCardBuilder(order, assessment, record, patient_id, text or load_order_text(),
                               settings or OrderCardSettings(), derivation=derivation,
                               templates=templates)
    if engine is None or precedence is None:
        knowledge = load_knowledge()
        engine, precedence = engine or knowledge.order_engine, precedence or knowledge.precedence
    checks = order_checks(engine, order_facts(builder), precedence)
    cards: list[OrderCard] = []
    if order.i131:
        card = i131_card(builder, checks.get(I131_TARGET, []))
        if card is not None:
            cards.append(card)
    for drug in order.drugs:
        card = drug_card(builder, drug, checks.get(drug, []))
        if card is not None:
            cards.append(card)
    cards = _with_pregnancy_caution(builder, cards, checks.get(PREGNANCY_TARGET, []))
    if suppressed is not None:
        suppressed.extend(builder.suppressed)
    return sorted(cards, key=lambda c: _RANK[c.card.indicator])


def order_checks(engine: RuleEngine, facts: Sequence[Mapping[str, Any]],
                 precedence: Precedence) -> dict[str, list[dict[str, Any]]]:
    """The order rules' candidates per target, best tier (``precedence.yaml`` ``order_check``)
    first.

    Ties keep a stable order: by tier, then the copied ``driver`` and ``code`` (the first driver
    by name is the one a driver-missing card names).
    """
    tiers = precedence["order_check"]
    result = engine.evaluate(facts)
    checks: dict[str, list[dict[str, Any]]] = {}
    for fact in result.derived:
        if fact.get("type") == "order_check":
            checks.setdefault(str(fact["target"]), []).append(fact)
    for found in checks.values():
        found.sort(key=lambda c: (tiers.position(c["tier"]), str(c.get("driver", "")),
                                  str(c.get("code", ""))))
    return checks


def _with_pregnancy_caution(b: OrderCardBuilder, cards: list[OrderCard],
                            checks: Sequence[Mapping[str, Any]]) -> list[OrderCard]:
    """H4 for a non-blocking W-PREG (lactation, or a pregnancy status too old to rule out).

    RAI is contraindicated in pregnancy and lactation and every listed TKI carries an embryo-fetal
    toxicity warning (H4), so an I-131 or systemic-drug order must not pass silently (rule
    ``O6:pregnancy-caution``). The text joins the order's existing warning or critical card (one
    card per order where possible); without one, the order gets its own warning card. A blocking
    W-PREG is already a critical card (``O6:pregnancy-blocked`` holds the caution).
    """
    order = b.order
    if not checks or checks[0].get("hold"):
        return cards
    what = ("Lactation" if b.derivation.safety.lactating else
            "A pregnancy status that is not current (older than the safety window or undated)")
    caution = " ".join(b.text.data["pregnancy_caution"].split()).format(what=what)
    for i, c in enumerate(cards):
        if c.card.indicator in ("warning", "critical"):
            detail = caution + ("\n\n" + c.card.detail if c.card.detail else "")
            updated = c.card.model_copy(update={"detail": detail})
            cards[i] = dataclasses.replace(c, card=updated)
            return cards
    values = {"order_title": "I-131" if order.i131 else b.order_label(),
              "order_label": b.order_label(), "order_ref": order.ref, "caution_text": caution}
    kind = "pregnancy-caution"
    card = b.make(PREGNANCY_CAUTION, "warning", b.summary(kind, **values),
                  b.detail(kind, **values), suggestions=[b.delete_suggestion()],
                  reasons=b.override_reasons("blocking"))
    # the info cards of this order (e.g. "preferred") would contradict the caution: drop them
    return [c for c in cards if c.card.indicator != "info"] + [card]
