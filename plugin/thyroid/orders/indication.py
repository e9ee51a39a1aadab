"""A systemic drug the assessment does not support (``order-not-indicated``; issue 4 QA).

Whether the card applies is rule ``O4b:not-indicated`` of ``rules/thyroid/orders.rules.yaml``
(DECISIONS §K2.6: first-line systemic therapy applies to RAIR YES with ``RECENT_PD`` or
symptomatic disease; the US labels of sorafenib and lenvatinib require progressive RAI-refractory
DTC, cabozantinib's progression after VEGFR-targeted therapy, §3): the assessment lists no therapy
option at all, its action is ``MONITOR``, ``UPDATE_IMAGING``, ``COMPLETE_DATA`` or
``RAI_EVALUATION``, and the status is not ``NOT_APPLICABLE`` (ATC/MTC, A1b). It comes last in the
per-drug precedence (a blocking, driver-missing, not-eligible or trial-only card wins). This
module words the card and states the continuation fact the rules read.

A continuation gets no card (rule ``O4b:continuation`` holds it; the response lists it in
``suppressedCards`` with the reason :func:`continuation` gives):

* the same drug is a current therapy, exactly as the rules read it (the derivation's
  ``history.current``, :func:`plugin.thyroid.facts.history.is_current`: started on or before the
  evaluation date, not ended before it, not of a stopped status; drafts never enter the record);
* the draft MedicationRequest has ``priorPrescription`` (a renewal);
* its ``courseOfTherapyType`` is ``continuous`` and the record shows any prior exposure to the drug.

A combination counts as continued only when every ingredient is.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from plugin.thyroid.clinical_model import TherapyExposure
from plugin.thyroid.orders.common import (
    NOT_INDICATED,
    OrderCard,
    OrderCardBuilder,
    drug_matches,
    parts,
    title,
)

_GATE_RULES = ("A3", "A4", "A5")


def _covers(exposures: list[TherapyExposure], drug: str) -> bool:
    covered: set[str] = set()
    for t in exposures:
        covered |= parts(t.drug)
    return parts(drug) <= covered


def _refs(exposures: list[TherapyExposure]) -> str:
    return ", ".join(dict.fromkeys(t.source for t in exposures))


def _continuous(resource: Mapping[str, Any], system: str) -> bool:
    concept = resource.get("courseOfTherapyType")
    if not isinstance(concept, Mapping):
        return False
    for coding in concept.get("coding") or []:
        if (isinstance(coding, Mapping) and coding.get("code") == "continuous"
                and coding.get("system") in (None, system)):
            return True
    return False


def continuation(b: OrderCardBuilder, drug: str) -> str | None:
    """Why this order continues a current therapy, or ``None`` when it does not."""
    spec = b.text.data["not_indicated"]
    as_of = b.assessment.evaluation_date
    ongoing = list(b.derivation.current_therapies(drug))
    if ongoing and _covers(ongoing, drug):
        return f"continuation of current therapy: {drug} ongoing in {_refs(ongoing)}"
    resource = b.order.resource
    prior_rx = resource.get("priorPrescription")
    if isinstance(prior_rx, Mapping) and prior_rx:
        ref = prior_rx.get("reference") or prior_rx.get("display") or "a prior prescription"
        return f"continuation of current therapy: renewal of {ref} (priorPrescription)"
    prior = [t for t in b.record.therapies
             if drug_matches(t.drug, drug) and (t.start is None or t.start <= as_of)]
    if prior and _covers(prior, drug) and _continuous(resource, spec["course_of_therapy_system"]):
        return (f"continuation of current therapy: continuous course, prior {drug} in"
                f" {_refs(prior)}")
    return None


def _situation(b: OrderCardBuilder) -> tuple[str, list[str]]:
    a = b.assessment
    if a.action == "RAI_EVALUATION":
        return "rai-evaluation", ["A2"]
    if a.rair_status == "NOT_ESTABLISHED":
        return "not-established", [r for r in _GATE_RULES if r in a.rules_fired] or ["A5"]
    if a.rair_status == "NO":
        return "not-rair", []
    if a.progression == "PD_NOT_RECENT":
        return "pd-not-recent", []
    if a.progression == "NO_PD":
        return "stable", []
    return "no-recent-pd", []


def not_indicated_card(b: OrderCardBuilder, drug: str) -> OrderCard:
    """The warning for a systemic drug the assessment does not support (rule O4b)."""
    a = b.assessment
    spec = b.text.data["not_indicated"]
    key, gate_rules = _situation(b)
    situation = spec["situations"][key]
    rules = list(gate_rules) + list(situation.get("rules") or [])
    gates = ", ".join(f"{r}: {b.templates['rules'][r]['title']}" if r in b.templates["rules"]
                      else r for r in gate_rules)
    facts = [
        f"- RAI-refractory status: **{a.rair_status}**"
        + (f" ({', '.join(a.rair_criteria)})" if a.rair_criteria else ""),
        f"- Progression: **{a.progression}**, {spec['progression'].get(a.progression, '')}",
    ]
    if a.rair_status == "YES":
        facts.append("- Symptomatic or threatening disease: none on file")
    facts.append(f"- Assessment action: **{a.action}**, {spec['action'].get(a.action, '')};"
                 " no systemic-therapy option is listed")
    missing = ""
    if a.rair_status == "NOT_ESTABLISHED" and a.missing_data:
        missing = "**Data that would establish the status:**\n" + "\n".join(
            f"- {m}" for m in a.missing_data)
    label_key = b.drug_source(drug)
    label = (b.templates["drugs"].get(drug) or {}).get("label") or (
        f"{title(drug)}: no thyroid indication in the label matrix")
    values = {
        "drug_title": title(drug),
        "reason": situation["reason"],
        "order_label": b.order_label(),
        "order_ref": b.order.ref,
        "situation_text": " ".join(situation["text"].split()).format(gates=gates),
        "facts_text": "\n".join(facts),
        "missing_text": missing,
        "label_text": label,
        "label_key": label_key,
    }
    kind = "not-indicated"
    return b.make(NOT_INDICATED, "warning", b.summary(kind, **values), b.detail(kind, **values),
                  suggestions=[b.delete_suggestion()],
                  reasons=b.override_reasons("not-indicated"),
                  source_key=label_key, rules=rules)
