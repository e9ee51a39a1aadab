"""Drug order cards (rules O2-O5 of ``rules/thyroid/orders.rules.yaml``; DECISIONS §K2.6-§K2.9,
§K3): the rendering of what the order rules concluded for one ordered drug.

The rules decide; this module writes the card. At most one card per drug: the winning candidate
(lowest rank) is the card, and the candidates it beat are what it absorbs: a blocking card
(O4) names the driver gap (O2) and the not-eligible reason (O3); a driver-missing card names the
not-eligible reason; a not-eligible card names the trial the assessment also offers (never "not
eligible" and "trial" as two cards). A held not-indicated candidate (a continuation of current
therapy, :mod:`~plugin.thyroid.orders.indication`) shows no card and is listed in
``suppressedCards``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from plugin.thyroid.assessment.model import TherapyOption
from plugin.thyroid.orders.common import (
    BLOCKING,
    DRIVER_MISSING,
    INTOLERANCE,
    NOT_ELIGIBLE,
    NOT_INDICATED,
    PREFERRED,
    TRIAL_ONLY,
    OrderCard,
    OrderCardBuilder,
    find,
    title,
)
from plugin.thyroid.orders.indication import not_indicated_card


def drug_card(b: OrderCardBuilder, drug: str,
              checks: Sequence[Mapping[str, Any]]) -> OrderCard | None:
    """The card for one ordered drug from the order rules' candidates for it (best first)."""
    if not checks:
        return None
    a = b.assessment
    kind = checks[0]["kind"]
    kinds = {c["kind"] for c in checks}
    drivers = sorted(str(c["driver"]) for c in checks if c["kind"] == DRIVER_MISSING)
    gap = driver_gap(b, drivers[0]) if drivers else None
    not_eligible = find(a.not_eligible, drug) if NOT_ELIGIBLE in kinds else []
    if kind == BLOCKING:
        codes = {c["code"] for c in checks if c["kind"] == BLOCKING}
        blocks = [w for w in a.warnings if w.blocking and w.code in codes]
        extra = []
        if gap is not None:
            extra.append(gap["text"])
        extra += [f"Also listed as not eligible: {o.reason or 'no reason given'}."
                  for o in not_eligible]
        return b.blocking_card(BLOCKING, drug, blocks, extra=extra, testing=gap)
    if kind == DRIVER_MISSING and gap is not None:
        return driver_card(b, drug, gap, not_eligible)
    if kind == NOT_ELIGIBLE:
        return not_eligible_card(b, drug, not_eligible[0])
    if kind == TRIAL_ONLY:
        return trial_only_card(b, drug, find(a.trial_only, drug))
    if kind == NOT_INDICATED:
        if checks[0].get("hold") == "continuation":
            b.suppressed.append({"order": b.order.ref, "kind": NOT_INDICATED,
                                 "reason": str(b.continuations.get(drug))})
            return None
        return not_indicated_card(b, drug)
    if kind == INTOLERANCE:
        values = {"drug_title": title(drug), "drug": drug, "order_label": b.order_label(),
                  "order_ref": b.order.ref,
                  "stopped": b.derivation.history.intolerant.get(drug, "undated")}
        return b.make(INTOLERANCE, "warning", b.summary("intolerance", **values),
                      b.detail("intolerance", **values), source_key=b.drug_source(drug))
    if kind == PREFERRED:
        usable = find(a.on_label, drug) + find(a.guideline_supported_off_label, drug)
        option = [o for o in usable if o.preferred][0]
        values = {"drug_title": title(drug), "order_label": b.order_label(),
                  "order_ref": b.order.ref, "listed_drug": option.drug,
                  "rule_text": f" (rule {option.rule})" if option.rule else "",
                  "action": a.action}
        template = "summary_mdt" if a.action == "MDT_REVIEW_REQUIRED" else "summary"
        return b.make(PREFERRED, "info", b.summary("preferred", template, **values),
                      b.detail("preferred", **values),
                      source_key=b.rule_source(option.rule) or b.drug_source(drug))
    raise ValueError(f"order rule concluded {kind!r} for a drug; no card renders it")


def driver_gap(b: OrderCardBuilder, name: str) -> dict[str, Any]:
    """The missing driver ``name`` (order_cards.yaml ``drivers``) with the testing state."""
    spec = b.text.data["drivers"][name]
    untested = untested_genes(b, spec)
    if untested:
        fusion = spec["testing"] == "fusion"
        assay = "a fusion-capable (RNA) assay" if fusion else "any assay"
        testing = (
            f"{', '.join(untested)} not tested with {assay}"
            + (" (a DNA-only panel leaves fusion status unknown, E4)"
               if spec["testing"] == "fusion" else "")
            + ": order testing before starting (ATA 2025 Rec 61)."
        )
    else:
        genes = ", ".join(spec["genes"])
        testing = f"{genes} tested with a capable assay: no {spec['label']} found."
    return {"name": name, "spec": spec, "untested": untested,
            "text": f"No {spec['label']} is documented; {testing}"}


def untested_genes(b: OrderCardBuilder, spec: Mapping[str, Any]) -> list[str]:
    """The driver's genes not yet tested, as the rules read the record (the derivation's)."""
    testing = b.derivation.testing
    tested = testing.fusion_tested if spec["testing"] == "fusion" else testing.point_tested
    return [g for g in spec["genes"] if g not in tested]


def driver_card(b: OrderCardBuilder, drug: str, gap: Mapping[str, Any],
                 not_eligible: list[TherapyOption]) -> OrderCard:
    spec = gap["spec"]
    drivers = ", ".join(
        f"{d.gene} {d.alteration}" + (f" ({d.partner})" if d.partner else "")
        for d in b.assessment.drivers
    ) or "none"
    values = {
        "drug_title": title(drug),
        "driver": spec["label"],
        "order_label": b.order_label(),
        "order_ref": b.order.ref,
        "drivers_text": drivers,
        "testing_text": gap["text"],
        "not_eligible_text": " ".join(
            f"The assessment also lists {o.drug} as not eligible: {o.reason}." for o in
            not_eligible if o.reason),
        "driver_source": spec["source"],
    }
    suggestions = [b.delete_suggestion()]
    if gap["untested"]:
        suggestions.append(b.testing_suggestion(spec["label"], drug))
    kind = "driver-missing"
    return b.make(DRIVER_MISSING, "warning", b.summary(kind, **values),
                  b.detail(kind, **values), suggestions=suggestions,
                  reasons=b.override_reasons("driver"), source_key=b.drug_source(drug))

def trial_text(b: OrderCardBuilder, drug: str) -> str:
    """The trials the assessment offers this drug in, as sentence (empty when none)."""
    trials = [o for o in find(b.assessment.trial_only, drug) if o.trial]
    if not trials:
        return ""
    url = b.templates["therapy"]["trial_url"]
    names = ", ".join(f"[{o.trial}]({url.format(nct=o.trial)})" for o in trials)
    return (f"Within a clinical trial the assessment does list {trials[0].drug}: {names}"
            " (investigational; if the patient is enrolled, choose the clinical-trial override).")


def trial_only_card(b: OrderCardBuilder, drug: str, trials: list[TherapyOption]) -> OrderCard:
    """A drug the assessment offers only within a clinical trial."""
    values = {
        "drug_title": title(drug),
        "order_label": b.order_label(),
        "order_ref": b.order.ref,
        "listed_drug": trials[0].drug,
        "trials": ", ".join(o.trial for o in trials if o.trial) or "a trial",
        "trial_text": trial_text(b, drug),
        "rule_text": f" (rule {trials[0].rule})" if trials[0].rule else "",
    }
    kind = "trial-only"
    return b.make(TRIAL_ONLY, "warning", b.summary(kind, **values), b.detail(kind, **values),
                  suggestions=[b.delete_suggestion()], reasons=b.override_reasons("not-eligible"),
                  source_key=b.drug_source(drug, "S19"))


def not_eligible_card(b: OrderCardBuilder, drug: str, option: TherapyOption) -> OrderCard:
    a = b.assessment
    # every usable on-label option, preferred first: the patient-view options card lists the same
    # (§A4.16: the two never disagree on one record); a drug under a non-fixable block is none
    usable = [o for o in a.on_label if o.drug != drug and not a.held(o.drug)]
    alternatives = [o.drug + (" (preferred)" if o.preferred else "")
                    for o in sorted(usable, key=lambda o: not o.preferred)]
    values = {
        "drug_title": title(drug),
        "reason": option.reason or "no reason given",
        "listed_drug": option.drug,
        "rule_text": f" (rule {option.rule})" if option.rule else "",
        "order_label": b.order_label(),
        "order_ref": b.order.ref,
        "options_text": (
            "On-label options in the assessment: " + ", ".join(alternatives) + "."
            if alternatives else ""
        ),
        "trial_text": trial_text(b, drug),
    }
    # also offered in a trial: the same card says both facts (one card per drug)
    kind = "not-eligible-trial" if values["trial_text"] else "not-eligible"
    return b.make(NOT_ELIGIBLE, "warning", b.summary(kind, **values),
                  b.detail(kind, **values), suggestions=[b.delete_suggestion()],
                  reasons=b.override_reasons("not-eligible", "trial"),
                  source_key=b.rule_source(option.rule) or b.drug_source(drug))

