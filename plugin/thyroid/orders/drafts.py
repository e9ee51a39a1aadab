"""Reading the draft orders of an order hook (``context.draftOrders``, CDS Hooks Library 1.0.1).

:func:`read_draft_orders` reads the Bundle into :class:`~plugin.thyroid.orders.cards.DraftOrder`
values: the drugs a MedicationRequest orders (by code, by name, through a referenced or contained
Medication), whether a MedicationRequest or ServiceRequest is radioiodine therapy (§A4.10), and
the ordered activity in integer MBq. :func:`without_drafts` removes the drafts from the prefetch:
a draft is not history.

* **Pre-R4 order types are refused (400).** A ``draftOrders`` entry typed ``MedicationOrder``,
  ``ProcedureRequest``, ``ReferralRequest``, ``DiagnosticOrder``, ``DiagnosticRequest`` or
  ``DeviceUseRequest`` (DSTU2/STU3 names) means the EHR speaks an older FHIR release. This service
  reads R4 only, and ignoring such an entry could silently pass an I-131 or TKI order unchecked, so
  the call fails with :class:`~cds_hooks.errors.InvalidHookRequest` naming the entries. Other R4
  request types (``NutritionOrder``, ``DeviceRequest``, ...) are read and ignored: no rule concerns
  them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from cds_hooks.errors import InvalidHookRequest
from plugin.thyroid.knowledge.codes import CodeLists, concept_texts, load_codes, normalise_system
from plugin.thyroid.orders.cards import DraftOrder, OrderCardText, load_order_text
from plugin.thyroid.reading.record import activity_mbq, is_i131, recognise_drug

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
