"""One draft order as facts for the order rules (``rules/thyroid/orders.rules.yaml``).

The order rules decide which card kinds apply to an order; this module only states what the
draft and the finished assessment say, as the input facts those rules read (the vocabulary is in
the rule file's header): the order (I-131 therapy or not, the cumulative activity with it), each
ordered drug (its placement in the assessment's therapy lists, a continuation of current
therapy), the drivers a targeted drug needs and whether the assessment has them, the
assessment's status and action, and its warnings. Every "no X" the rules need is a boolean here:
the rules never negate a fact (rules/README.md).

The numbers are the derivation's (:mod:`plugin.thyroid.facts.derivation`): the cumulative
activity is :func:`plugin.thyroid.orders.i131.cumulative_activity`, the same count the
patient-view cards and the patient rules use.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from plugin.thyroid.orders.common import OrderCardBuilder, find, parts
from plugin.thyroid.orders.i131 import cumulative_activity
from plugin.thyroid.orders.indication import continuation


def order_facts(b: OrderCardBuilder) -> list[dict[str, Any]]:
    """The input facts of one evaluation of the order rules (one draft order)."""
    order, a = b.order, b.assessment
    cum = cumulative_activity(b.derivation.rai, order) if order.i131 else None
    facts: list[dict[str, Any]] = [
        {
            "type": "draft_order",
            "i131": order.i131,
            "i131_therapy": order.is_i131_therapy(b.derivation.thresholds.diagnostic_cut_mbq),
            "drugs": bool(order.drugs),
            "cumulative_over": bool(cum is not None and cum.exceeds),
            "total_known": cum is not None and cum.total_mbq is not None,
        },
        {
            "type": "order_assessment",
            "status": a.rair_status,
            "action": a.action,
            "rai_ineligible": "A2b" in a.rules_fired,
            "any_option": bool(a.on_label or a.guideline_supported_off_label or a.trial_only
                               or a.not_eligible),
        },
        {"type": "order_settings", "info_cards": b.settings.info_cards},
    ]
    facts += _warning_facts(b)
    for drug in dict.fromkeys(order.drugs):
        facts += _drug_facts(b, drug)
    return facts


def _warning_facts(b: OrderCardBuilder) -> Iterable[dict[str, Any]]:
    seen: set[tuple[Any, ...]] = set()
    for w in b.assessment.warnings:
        fact = {"type": "order_warning", "code": w.code, "blocking": w.blocking,
                "all_drugs": w.all_drugs, "lists_drugs": bool(w.drugs)}
        key = tuple(fact.values())
        if key not in seen:
            seen.add(key)
            yield fact
        for ingredient in sorted({p for d in w.drugs for p in parts(d)}):
            key = ("drug", w.code, w.blocking, ingredient)
            if key not in seen:
                seen.add(key)
                yield {"type": "order_warning_drug", "code": w.code, "blocking": w.blocking,
                       "ingredient": ingredient}


def _drug_facts(b: OrderCardBuilder, drug: str) -> list[dict[str, Any]]:
    a = b.assessment
    usable = find(a.on_label, drug) + find(a.guideline_supported_off_label, drug)
    why = continuation(b, drug)
    b.continuations[drug] = why
    facts: list[dict[str, Any]] = [{
        "type": "order_drug",
        "drug": drug,
        "listed": bool(usable),
        "in_trial": bool(find(a.trial_only, drug)),
        "not_eligible": bool(find(a.not_eligible, drug)),
        "preferred": any(o.preferred for o in usable),
        "continuation": why is not None,
        # §A4.12: stopped for intolerance (not progressed on): a re-challenge is an MDT decision
        "intolerant": drug in b.derivation.history.intolerant,
    }]
    facts += [{"type": "order_ingredient", "drug": drug, "ingredient": p}
              for p in sorted(parts(drug))]
    histologies = {str(d.histology) for d in b.record.diagnoses if d.histology is not None}
    for name in needed_drivers(b, drug):
        spec = b.text.data["drivers"][name]
        facts.append({
            "type": "order_driver",
            "drug": drug,
            "driver": name,
            "present": driver_present(b, spec),
            # e.g. RET-fusion logic does not apply to MTC (RET-mutant MTC, H3)
            "excluded": bool(histologies & set(spec.get("not_for_histology") or [])),
        })
    return facts


def needed_drivers(b: OrderCardBuilder, drug: str) -> list[str]:
    """The drivers (order_cards.yaml ``drivers``) this drug needs, by name."""
    names = {b.text.drug_to_driver[p] for p in parts(drug) if p in b.text.drug_to_driver}
    if drug in b.text.drug_to_driver:
        names = {b.text.drug_to_driver[drug]}
    return sorted(names)


def driver_present(b: OrderCardBuilder, spec: Mapping[str, Any]) -> bool:
    """True when the assessment lists the driver (a fusion of the genes, or the alteration)."""
    for d in b.assessment.drivers:
        if d.gene not in spec["genes"]:
            continue
        if spec.get("kind") == "fusion" and (d.kind == "fusion" or d.alteration == "fusion"):
            return True
        if spec.get("alteration") and d.alteration == spec["alteration"]:
            return True
    return False
