"""The order hooks: ``rair-order-select`` and ``rair-order-sign`` (issue 4).

Each reads the ``draftOrders`` Bundle of the hook context (:mod:`plugin.thyroid.orders.drafts`):
order-select evaluates only the orders named in ``selections``, order-sign evaluates every draft.
The patient's assessment (DECISIONS §D1) is computed from the prefetch (the patient-view
templates) by the shared :mod:`plugin.thyroid.pipeline` and carried in every response as
``extension["rair-cds"]["assessment"]``; the cards come from :mod:`plugin.thyroid.orders.cards`.

Decisions:

* **Draft orders never enter the record.** A draft ``MedicationRequest`` for lenvatinib is not
  therapy history; drafts (by reference, or with status ``draft`` in the prefetch) are removed
  before the record is read, so the assessment is the one patient-view would give.
* **No repeats at sign.** Cards shown at order-select are remembered in an
  :class:`~plugin.thyroid.orders.alert_cache.AlertCache` shared by both services; order-sign leaves
  out a card already shown for the same patient, order and order content (the cache decides:
  :meth:`~plugin.thyroid.orders.alert_cache.AlertCache.screen`).
* **No duplicate information cards.** Two drafts of the same drug would give two identical info
  cards (same kind and summary); the second is left out (listed in ``suppressedCards``). Warning
  and critical cards are kept per draft: each carries the delete action for its own draft.
* **Continuations are not flagged.** A systemic drug the assessment does not support gets an
  ``order-not-indicated`` warning, except when the order continues a current therapy; that
  held-back card is listed in ``suppressedCards`` with its reason.

Settings (service config; environment values may arrive as strings):
``ORDER_INFO_CARDS`` (true), ``ORDER_I131_CRITICAL`` (false), ``ORDER_REPEAT_CRITICAL_AT_SIGN``
(false), ``ORDER_ALERT_CACHE_SIZE`` (10000), ``ORDER_ALERT_CACHE_TTL_SECONDS`` (14400).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from typing import Any

from cds_hooks.service import CdsService, HookCall, HookResult, ServiceDefinition
from cds_hooks.settings import config_flag, config_number
from cds_hooks.shared_state import RedisAlertMemory, prefix_of, redis_from_config
from plugin.thyroid.knowledge.loader import Knowledge, load_knowledge
from plugin.thyroid.orders.alert_cache import (
    DEFAULT_MAX_ENTRIES,
    DEFAULT_TTL_SECONDS,
    AlertCache,
    card_signature,
)
from plugin.thyroid.orders.cards import (
    OrderCard,
    OrderCardSettings,
    OrderCardText,
    cards_for_order,
)
from plugin.thyroid.orders.drafts import read_draft_orders, without_drafts
from plugin.thyroid.patient_view import VERSION as SERVICE_VERSION
from plugin.thyroid.pipeline import Assessor, Pipeline, flatten_prefetch
from plugin.thyroid.prefetch import NEEDS_DATA, prefetch_templates

ORDER_SELECT_ID = "rair-order-select"
ORDER_SIGN_ID = "rair-order-sign"


class OrderService:
    """One order hook service (order-select or order-sign)."""

    def __init__(
        self,
        definition: ServiceDefinition,
        *,
        cache: AlertCache,
        settings: OrderCardSettings,
        repeat_critical_at_sign: bool = False,
        assessor: Assessor | None = None,
        text: OrderCardText | None = None,
        knowledge: Knowledge | None = None,
    ) -> None:
        """:param assessor: resources to evaluation; default: the shared
        :meth:`Pipeline.evaluate <plugin.thyroid.pipeline.Pipeline.evaluate>`, so every hook gives
        the same assessment from the same derivation."""
        self.definition = definition
        self.cache = cache
        self.settings = settings
        self.repeat_critical_at_sign = repeat_critical_at_sign
        self.knowledge = knowledge or load_knowledge()
        self.assessor = assessor or Pipeline(self.knowledge).evaluate
        self.text = text or self.knowledge.order_text

    @property
    def is_select(self) -> bool:
        return self.definition.hook == "order-select"

    def evaluate(self, call: HookCall) -> HookResult:
        """Read the drafts, assess the patient, build the order cards, skip repeats at sign."""
        drafts = read_draft_orders(call.context, selections_only=self.is_select, text=self.text,
                                   codes=self.knowledge.codes)
        patient_id = str(call.context.get("patientId"))
        resources, notes = flatten_prefetch(call.prefetch)
        done = self.assessor(without_drafts(resources, drafts.all_refs), call.evaluation_date,
                             notes, call.missing_prefetch)
        record, assessment = done.record, done.assessment

        shown: list[OrderCard] = []
        info_shown: set[str] = set()  # an identical info card for two drafts is shown once
        suppressed: list[dict[str, str]] = []
        review: list[dict[str, Any]] = []
        for order in drafts.orders:
            cards = cards_for_order(order, assessment, record, patient_id, text=self.text,
                                    settings=self.settings, suppressed=suppressed,
                                    derivation=done.derivation,
                                    templates=self.knowledge.templates,
                                    engine=self.knowledge.order_engine,
                                    precedence=self.knowledge.precedence)
            if order.ref not in drafts.deletable:
                cards = [_without_delete(c) for c in cards]
            key = self.cache.key(patient_id, order.ref, order.resource)
            if self.is_select:
                self.cache.remember(key, map(_signature, cards))
                kept = cards
            else:
                kept, repeats = self.cache.screen(key, cards, signature=_signature,
                                                  always_show=self._repeat_at_sign)
                suppressed += [{"order": order.ref, "kind": c.kind,
                                "reason": "shown at order-select"} for c in repeats]
            for c in list(kept):
                if c.card.indicator != "info":
                    continue
                if _signature(c) in info_shown:
                    kept.remove(c)
                    suppressed.append({"order": order.ref, "kind": c.kind,
                                       "reason": "same information card shown for another draft"})
                info_shown.add(_signature(c))
            shown += kept
            if order.drugs or order.i131:
                review.append({"order": order.ref, "drugs": list(order.drugs),
                               "i131": order.i131, "cards": [c.kind for c in kept]})

        rank = {"critical": 0, "warning": 1, "info": 2}
        shown.sort(key=lambda c: rank[c.card.indicator])
        body: dict[str, Any] = {"assessment": assessment.to_json(), "orderReview": review}
        if suppressed:
            body["suppressedCards"] = suppressed
        if drafts.notes:
            body["notes"] = drafts.notes
        return HookResult(
            cards=[c.card for c in shown],
            extension={"rair-cds": body},
            card_kinds={c.card.uuid: c.kind for c in shown},
            card_rules={c.card.uuid: list(c.rules) for c in shown},
        )


    def _repeat_at_sign(self, order_card: OrderCard) -> bool:
        return order_card.card.indicator == "critical" and self.repeat_critical_at_sign


def _signature(order_card: OrderCard) -> str:
    card = order_card.card
    return card_signature(order_card.kind, card.indicator, card.summary)


def _without_delete(order_card: OrderCard) -> OrderCard:
    """A draft without an id cannot be deleted by reference: drop the delete suggestion."""
    card = order_card.card
    kept = [s for s in card.suggestions or []
            if not any(a.type == "delete" for a in s.actions or [])]
    new = card.model_copy(update={"suggestions": kept or None,
                                  "selectionBehavior": "any" if kept else None})
    return dataclasses.replace(order_card, card=new)


def create_order_services(
    config: Mapping[str, Any],
    *,
    prefetch: Mapping[str, str] | None = None,
    needs_data: Iterable[str] | None = None,
    assessor: Assessor | None = None,
    knowledge: Knowledge | None = None,
) -> list[CdsService]:
    """The two order services, sharing one alert cache.

    ``prefetch``/``needs_data`` default to the patient-view service's (``prefetch_templates``,
    ``NEEDS_DATA`` of :mod:`plugin.thyroid.prefetch`), so the assessment is computed from the
    same data; ``knowledge`` defaults to the default folder's.
    """
    knowledge = knowledge or load_knowledge()
    prefetch = prefetch_templates(knowledge) if prefetch is None else prefetch
    needs = tuple(NEEDS_DATA if needs_data is None else needs_data)
    assessor = assessor or Pipeline(knowledge).evaluate
    ttl = config_number(config, "ORDER_ALERT_CACHE_TTL_SECONDS", DEFAULT_TTL_SECONDS)
    redis_client = redis_from_config(config)  # RAIR_CDS_REDIS_URL: shared by every worker
    cache = AlertCache(
        max_entries=int(config_number(config, "ORDER_ALERT_CACHE_SIZE", DEFAULT_MAX_ENTRIES)),
        ttl_seconds=ttl,
        shared=None if redis_client is None
        else RedisAlertMemory(redis_client, ttl, prefix_of(config)),
    )
    settings = OrderCardSettings(
        info_cards=config_flag(config, "ORDER_INFO_CARDS", True),
        i131_critical=config_flag(config, "ORDER_I131_CRITICAL", False),
    )
    repeat = config_flag(config, "ORDER_REPEAT_CRITICAL_AT_SIGN", False)
    text = knowledge.order_text
    usage = ("Needs the patient's thyroid-cancer history (the patient-view prefetch) and FHIR R4"
             " draftOrders; pre-R4 order types are refused with 400.")
    # what the two order services share: the patient-view data and the same versions
    common: dict[str, Any] = {
        "prefetch": dict(prefetch),
        "usage_requirements": usage,
        "version": SERVICE_VERSION,
        "hook_version": "1.0",
        "needs_data": needs,
    }
    definitions = [
        ServiceDefinition(
            id=ORDER_SELECT_ID,
            hook="order-select",
            title="RAI-refractory thyroid cancer: order check at selection",
            description=(
                "Checks selected I-131 and targeted-therapy orders against the RAI-refractory"
                " assessment: refractory status, driver alterations, eligibility and blocking"
                " warnings."
            ),
            **common,
        ),
        ServiceDefinition(
            id=ORDER_SIGN_ID,
            hook="order-sign",
            title="RAI-refractory thyroid cancer: order check at signing",
            description=(
                "Checks every draft I-131 and targeted-therapy order before signing; cards already"
                " shown at order-select for the same order are not repeated."
            ),
            **common,
        ),
    ]
    return [
        OrderService(d, cache=cache, settings=settings, repeat_critical_at_sign=repeat,
                     assessor=assessor, text=text, knowledge=knowledge)
        for d in definitions
    ]
