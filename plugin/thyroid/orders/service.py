"""The order hooks: ``rair-order-select`` and ``rair-order-sign`` (issue 4).

Each reads the ``draftOrders`` Bundle of the hook context (CDS Hooks Library 1.0.1): order-select
evaluates only the orders named in ``selections``, order-sign evaluates every draft. The patient's
assessment (DECISIONS §D1) is computed from the prefetch (the patient-view templates) and carried
in every response as ``extension["rair-cds"]["assessment"]``; the cards come from
:mod:`plugin.thyroid.orders.cards`.

Decisions:

* **Pre-R4 order types are refused (400).** A ``draftOrders`` entry typed ``MedicationOrder``,
  ``ProcedureRequest``, ``ReferralRequest``, ``DiagnosticOrder``, ``DiagnosticRequest`` or
  ``DeviceUseRequest`` (DSTU2/STU3 names) means the EHR speaks an older FHIR release. This service
  reads R4 only, and ignoring such an entry could silently pass an I-131 or TKI order unchecked, so
  the call fails with :class:`~cds_hooks.errors.InvalidHookRequest` naming the entries. Other R4
  request types (``NutritionOrder``, ``DeviceRequest``, ...) are read and ignored: no rule concerns
  them.
* **Draft orders never enter the record.** A draft ``MedicationRequest`` for lenvatinib is not
  therapy history; drafts (by reference, or with status ``draft`` in the prefetch) are removed
  before the record is read, so the assessment is the one patient-view would give.
* **No repeats at sign.** Cards shown at order-select are remembered in an
  :class:`~plugin.thyroid.orders.alert_cache.AlertCache` shared by both services; order-sign leaves
  out a
  card already shown for the same patient, order and order content.
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
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from cds_hooks.errors import InvalidHookRequest
from cds_hooks.service import CdsService, HookCall, HookResult, ServiceDefinition
from cds_hooks.settings import parse_bool
from cds_hooks.shared_state import RedisAlertMemory, prefix_of, redis_from_config
from plugin.thyroid.knowledge.codes import CodeLists, concept_texts, load_codes, normalise_system
from plugin.thyroid.knowledge.loader import Knowledge, load_knowledge
from plugin.thyroid.orders.alert_cache import (
    DEFAULT_MAX_ENTRIES,
    DEFAULT_TTL_SECONDS,
    AlertCache,
    card_signature,
)
from plugin.thyroid.orders.cards import (
    DraftOrder,
    OrderCard,
    OrderCardSettings,
    OrderCardText,
    cards_for_order,
    load_order_text,
)
from plugin.thyroid.patient_view import (
    NEEDS_DATA,
    PREFETCH,
    Assessor,
    PatientViewService,
    flatten_prefetch,
)
from plugin.thyroid.patient_view import VERSION as SERVICE_VERSION
from plugin.thyroid.reading.record import activity_mbq, is_i131, recognise_drug

ORDER_SELECT_ID = "rair-order-select"
ORDER_SIGN_ID = "rair-order-sign"

#: DSTU2/STU3 request resource types that R4 renamed or removed.
PRE_R4_ORDER_TYPES = frozenset({
    "MedicationOrder",  # DSTU2 -> MedicationRequest
    "ProcedureRequest",  # STU3 -> ServiceRequest
    "ReferralRequest",  # STU3 -> ServiceRequest
    "DiagnosticOrder",  # DSTU2 -> ServiceRequest
    "DiagnosticRequest",  # STU3 draft -> ServiceRequest
    "DeviceUseRequest",  # DSTU2 -> DeviceRequest
})

_THERAPY_WORDS = re.compile(r"\b(therap|treat|ablat)", re.IGNORECASE)

#: Combinations named as the assessment names them (§A1: ``dabrafenib+trametinib``).
COMBINATIONS = (("dabrafenib", "trametinib"),)



# -- reading the draft orders --------------------------------------------------------------------


def _entries(bundle: Mapping[str, Any]) -> Iterator[tuple[int, Mapping[str, Any], str | None]]:
    for index, entry in enumerate(bundle.get("entry") or []):
        if isinstance(entry, Mapping) and isinstance(entry.get("resource"), Mapping):
            yield index, entry["resource"], entry.get("fullUrl")


def _ref(resource: Mapping[str, Any], full_url: str | None, index: int) -> tuple[str, bool]:
    """(reference, whether it can be a delete action's ``resourceId``)."""
    rtype = str(resource.get("resourceType"))
    if isinstance(resource.get("id"), str) and resource["id"]:
        return f"{rtype}/{resource['id']}", True
    if full_url:
        return full_url, False
    return f"{rtype}/#{index}", False


def _medication_concept(
    resource: Mapping[str, Any], bundle: Mapping[str, Any]
) -> Mapping[str, Any] | None:
    """The medication of a MedicationRequest: the concept, or the referenced Medication."""
    if isinstance(resource.get("medicationCodeableConcept"), Mapping):
        return resource["medicationCodeableConcept"]
    medication = resource.get("medication")  # R5 shape, tolerated: {"concept": ...}
    if isinstance(medication, Mapping) and isinstance(medication.get("concept"), Mapping):
        return medication["concept"]
    ref = resource.get("medicationReference")
    target = ref.get("reference") if isinstance(ref, Mapping) else None
    if isinstance(target, str):
        if target.startswith("#"):
            for item in resource.get("contained") or []:
                if isinstance(item, Mapping) and item.get("id") == target[1:]:
                    return item
        for _, other, full_url in _entries(bundle):
            if other.get("resourceType") == "Medication" and target in (
                f"Medication/{other.get('id')}", full_url
            ):
                return other
    if isinstance(ref, Mapping) and ref.get("display"):
        return {"text": ref["display"]}
    return None


def _label(concept: Mapping[str, Any] | None, fallback: str) -> str:
    if isinstance(concept, Mapping) and concept.get("resourceType") == "Medication":
        concept = concept.get("code")
    texts = concept_texts(concept)
    return texts[0] if texts else fallback


def _ordered_activity(resource: Mapping[str, Any], codes: CodeLists) -> int | None:
    """The I-131 activity of a draft order in integer MBq (§A4.10), else ``None``."""
    for dosage in resource.get("dosageInstruction") or []:
        if not isinstance(dosage, Mapping):
            continue
        for dose_rate in dosage.get("doseAndRate") or []:
            if isinstance(dose_rate, Mapping) and "doseQuantity" in dose_rate:
                return activity_mbq(dose_rate["doseQuantity"])
        if "doseQuantity" in dosage:  # STU3 shape, tolerated
            return activity_mbq(dosage["doseQuantity"])
    if isinstance(resource.get("quantityQuantity"), Mapping):  # ServiceRequest
        found = activity_mbq(resource["quantityQuantity"])
        if found is not None:
            return found
    wanted = codes.extensions.get("administered_activity")
    for ext in resource.get("extension") or []:
        if isinstance(ext, Mapping) and normalise_system(ext.get("url")) == wanted:
            return activity_mbq(ext.get("valueQuantity"))
    return None


def _intent(resource: Mapping[str, Any], codes: CodeLists) -> str | None:
    category = resource.get("category")
    concepts = [c for c in (category if isinstance(category, list) else [category])
                if isinstance(c, Mapping)]
    if any(codes.is_(c, "intent_therapeutic") for c in concepts):
        return "therapeutic"
    if any(codes.is_(c, "intent_diagnostic") for c in concepts):
        return "diagnostic"
    return None


def _extra_drugs(concept: Mapping[str, Any] | None, names: Mapping[str, list[str]]) -> list[str]:
    """Drugs recognised by name only (order_cards.yaml ``extra_drug_names``)."""
    if isinstance(concept, Mapping) and concept.get("resourceType") == "Medication":
        texts = concept_texts(concept.get("code"))
        for ingredient in concept.get("ingredient") or []:
            if isinstance(ingredient, Mapping):
                texts += concept_texts(ingredient.get("itemCodeableConcept"))
    else:
        texts = concept_texts(concept)
    return [
        drug for drug, words in names.items()
        if any(re.search(rf"\b{re.escape(w)}\b", t, re.IGNORECASE) for t in texts for w in words)
    ]


def _combine(drugs: list[str]) -> tuple[str, ...]:
    out = list(dict.fromkeys(drugs))
    for combo in COMBINATIONS:
        if all(d in out for d in combo):
            first = out.index(combo[0])
            out = [d for d in out if d not in combo]
            out.insert(min(first, len(out)), "+".join(combo))
    return tuple(out)


def read_draft_order(
    resource: Mapping[str, Any],
    ref: str,
    bundle: Mapping[str, Any],
    *,
    codes: CodeLists | None = None,
    text: OrderCardText | None = None,
) -> DraftOrder:
    """Read one draft order: the drugs it orders, whether it is I-131, the ordered activity."""
    codes = codes or load_codes()
    text = text or load_order_text()
    rtype = str(resource.get("resourceType"))
    if rtype == "MedicationRequest":
        concept = _medication_concept(resource, bundle)
        i131 = is_i131(concept, codes)
        drugs = [] if i131 else recognise_drug(concept, codes) + _extra_drugs(
            concept, text.data.get("extra_drug_names") or {})
        return DraftOrder(
            ref=ref, resource_type=rtype, resource=resource, label=_label(concept, rtype),
            drugs=_combine(drugs), i131=i131,
            activity_mbq=_ordered_activity(resource, codes) if i131 else None,
            intent=_intent(resource, codes),
        )
    if rtype == "ServiceRequest":
        code = resource.get("code")
        # §A4.10: coded radioiodine therapy; by text only when the text also says therapy, so an
        # "I-131 whole-body scan" order is not taken for treatment
        i131 = codes.is_(code, "rai_therapy_order") or (
            is_i131(code, codes)
            and any(_THERAPY_WORDS.search(t) for t in concept_texts(code))
        )
        return DraftOrder(
            ref=ref, resource_type=rtype, resource=resource, label=_label(code, rtype), i131=i131,
            activity_mbq=_ordered_activity(resource, codes) if i131 else None,
            intent=_intent(resource, codes),
        )
    return DraftOrder(ref=ref, resource_type=rtype, resource=resource, label=rtype)


@dataclass
class DraftOrders:
    """The draft orders a call evaluates, the references it could not find, and notes."""

    orders: list[DraftOrder] = field(default_factory=list)
    deletable: set[str] = field(default_factory=set)
    all_refs: set[str] = field(default_factory=set)
    notes: list[str] = field(default_factory=list)


def read_draft_orders(
    context: Mapping[str, Any],
    *,
    selections_only: bool,
    codes: CodeLists | None = None,
    text: OrderCardText | None = None,
) -> DraftOrders:
    """Read ``context.draftOrders``; with ``selections_only``, only the ``selections``.

    :raises InvalidHookRequest: when a draft order has a pre-R4 resource type.
    """
    bundle = context.get("draftOrders") or {}
    entries = list(_entries(bundle))
    legacy = [
        f"{r.get('resourceType')}/{r.get('id', '?')}" for _, r, _ in entries
        if r.get("resourceType") in PRE_R4_ORDER_TYPES
    ]
    if legacy:
        raise InvalidHookRequest(
            "context.draftOrders holds pre-R4 (DSTU2/STU3) order types: " + ", ".join(legacy)
            + ". This service reads FHIR R4 only: send MedicationRequest / ServiceRequest /"
            " DeviceRequest instead.",
            expression=["context.draftOrders"],
        )
    wanted = set(context.get("selections") or []) if selections_only else None
    out = DraftOrders()
    for index, resource, full_url in entries:
        if resource.get("resourceType") == "Medication":
            continue  # referenced by an order, not an order itself
        ref, deletable = _ref(resource, full_url, index)
        out.all_refs.add(ref)
        if wanted is not None and ref not in wanted:
            continue
        if deletable:
            out.deletable.add(ref)
        out.orders.append(read_draft_order(resource, ref, bundle, codes=codes, text=text))
    if wanted is not None:
        for ref in sorted(wanted - out.all_refs):
            out.notes.append(f"selection {ref} is not in draftOrders; not evaluated")
    return out


# -- the assessment from the prefetch -----------------------------------------------------------


def without_drafts(
    resources: Iterable[Mapping[str, Any]], exclude: Iterable[str] = ()
) -> list[Mapping[str, Any]]:
    """The prefetch resources minus draft orders, which are not history.

    A resource is left out when its ``Type/id`` is one of ``exclude`` (the call's draft orders)
    or when it is a request with status ``draft``.
    """
    excluded = set(exclude)
    return [
        r for r in resources
        if f"{r.get('resourceType')}/{r.get('id')}" not in excluded
        and not (r.get("status") == "draft" and str(r.get("resourceType")).endswith("Request"))
    ]


# -- the services -------------------------------------------------------------------------------


def _flag(config: Mapping[str, Any], name: str, default: bool) -> bool:
    value = config.get(name, default)
    if isinstance(value, str):
        try:
            return parse_bool(value)
        except ValueError as exc:
            raise ValueError(f"{name}={value!r}: expected true or false") from exc
    return bool(value)


def _number(config: Mapping[str, Any], name: str, default: float) -> float:
    value = config.get(name, default)
    try:
        return float(value)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name}={value!r}: expected a number") from exc


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
        """:param assessor: the pipeline from resources to the evaluation; default: the
        patient-view service's (:meth:`PatientViewService.evaluate_resources`), so both hooks
        give the same assessment from the same derivation."""
        self.definition = definition
        self.cache = cache
        self.settings = settings
        self.repeat_critical_at_sign = repeat_critical_at_sign
        self.knowledge = knowledge or load_knowledge()
        self.assessor = assessor or PatientViewService(knowledge=self.knowledge).evaluate_resources
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
                                    templates=self.knowledge.templates)
            if order.ref not in drafts.deletable:
                cards = [_without_delete(c) for c in cards]
            key = self.cache.key(patient_id, order.ref, order.resource)
            signatures = {id(c): card_signature(c.kind, c.card.indicator, c.card.summary)
                          for c in cards}
            if self.is_select:
                self.cache.remember(key, signatures.values())
                kept = cards
            else:
                already = self.cache.shown(key)
                kept = []
                for c in cards:
                    repeat = c.card.indicator == "critical" and self.repeat_critical_at_sign
                    if signatures[id(c)] in already and not repeat:
                        suppressed.append({"order": order.ref, "kind": c.kind,
                                           "reason": "shown at order-select"})
                    else:
                        kept.append(c)
            for c in list(kept):
                if c.card.indicator != "info":
                    continue
                if signatures[id(c)] in info_shown:
                    kept.remove(c)
                    suppressed.append({"order": order.ref, "kind": c.kind,
                                       "reason": "same information card shown for another draft"})
                info_shown.add(signatures[id(c)])
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

    ``prefetch``/``needs_data`` default to the patient-view service's (:data:`PREFETCH`,
    :data:`NEEDS_DATA`), so the assessment is computed from the same data; ``knowledge``
    defaults to the default folder's.
    """
    prefetch = PREFETCH if prefetch is None else prefetch
    needs = tuple(NEEDS_DATA if needs_data is None else needs_data)
    knowledge = knowledge or load_knowledge()
    assessor = assessor or PatientViewService(knowledge=knowledge).evaluate_resources
    ttl = _number(config, "ORDER_ALERT_CACHE_TTL_SECONDS", DEFAULT_TTL_SECONDS)
    redis_client = redis_from_config(config)  # RAIR_CDS_REDIS_URL: shared by every worker
    cache = AlertCache(
        max_entries=int(_number(config, "ORDER_ALERT_CACHE_SIZE", DEFAULT_MAX_ENTRIES)),
        ttl_seconds=ttl,
        shared=None if redis_client is None
        else RedisAlertMemory(redis_client, ttl, prefix_of(config)),
    )
    settings = OrderCardSettings(
        info_cards=_flag(config, "ORDER_INFO_CARDS", True),
        i131_critical=_flag(config, "ORDER_I131_CRITICAL", False),
    )
    repeat = _flag(config, "ORDER_REPEAT_CRITICAL_AT_SIGN", False)
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
