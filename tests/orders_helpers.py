"""Builders shared by the unit-level order-hook tests (tests/test_thyroid_orders*.py): draft
orders, bundles and hand-built assessments, so each rule of issue 4 is tested on its own."""

from __future__ import annotations

import datetime as dt

from plugin.thyroid.assessment.model import Assessment
from plugin.thyroid.clinical_model import (
    RadioiodineAdministration,
    RaiIntent,
)
from plugin.thyroid.orders.cards import DraftOrder
from plugin.thyroid.orders.drafts import read_draft_order

TODAY = dt.date(2026, 11, 27)
SNOMED = "http://snomed.info/sct"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
RAIR = "https://rair-cds.org/fhir/CodeSystem/concepts"


# -- builders ----------------------------------------------------------------------------------


def i131_request(rid="i131", value=150, unit="mCi", category=None):
    resource = {
        "resourceType": "MedicationRequest",
        "id": rid,
        "status": "draft",
        "intent": "order",
        "medicationCodeableConcept": {
            "coding": [{"system": SNOMED, "code": "111160004", "display": "Sodium iodide (131-I)"}]
        },
        "subject": {"reference": "Patient/p1"},
    }
    if value is not None:
        quantity = {"value": value}
        if unit:
            quantity.update(unit=unit, system="http://unitsofmeasure.org", code=unit)
        resource["dosageInstruction"] = [{"doseAndRate": [{"doseQuantity": quantity}]}]
    if category:
        resource["category"] = [{"coding": [{"system": RAIR, "code": category}]}]
    return resource


def drug_request(rid, code=None, text=None):
    concept = {}
    if code:
        concept["coding"] = [{"system": RXNORM, "code": code}]
    if text:
        concept["text"] = text
    return {
        "resourceType": "MedicationRequest",
        "id": rid,
        "status": "draft",
        "intent": "order",
        "medicationCodeableConcept": concept,
        "subject": {"reference": "Patient/p1"},
    }


def bundle(*resources):
    return {"resourceType": "Bundle", "type": "collection",
            "entry": [{"resource": r} for r in resources]}


def assessment(**kwargs):
    base = {"rair_status": "YES", "rair_criteria": ["JS-ii"], "progression": "RECENT_PD",
            "action": "SYSTEMIC_FIRST_LINE"}
    base.update(kwargs)
    return Assessment(TODAY, **base)


def therapeutic(mbq, source="MedicationAdministration/a"):
    return RadioiodineAdministration(source, dt.date(2024, 1, 1), mbq, RaiIntent.THERAPEUTIC, True)


def order_for(drug):
    rid = drug.replace("+", "-")  # a FHIR id: [A-Za-z0-9-.]
    return DraftOrder(f"MedicationRequest/{rid}", "MedicationRequest", {}, drug, drugs=(drug,))


def kinds(cards):
    return [(c.kind, c.card.indicator) for c in cards]


def actions(card):
    return [a for s in card.suggestions or [] for a in s.actions or []]


def i131_order(value=150, unit="mCi", **kwargs):
    resource = i131_request(value=value, unit=unit, **kwargs)
    return read_draft_order(resource, "MedicationRequest/i131", bundle(resource))
