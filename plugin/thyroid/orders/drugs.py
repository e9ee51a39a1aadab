"""Drug order cards (rules 2-5 of :mod:`plugin.thyroid.orders.cards`; DECISIONS §K2.6-§K2.9, §K3).

At most one card per drug: a blocking warning (critical) absorbs the driver gap and the
not-eligible reason; a missing driver absorbs the not-eligible reason; a drug both not eligible
and offered in a trial gets one not-eligible card that names the trial (never "not eligible" and
"trial" as two cards); a drug offered only in a trial gets a trial-only warning; a drug the
assessment offers no therapy for (no option listed, action not systemic) gets a not-indicated
warning unless the order continues a current therapy
(:mod:`~plugin.thyroid.orders.indication`); a preferred drug an info card when enabled.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from plugin.thyroid.assessment.model import TherapyOption
from plugin.thyroid.orders.common import (
    BLOCKING,
    DRIVER_MISSING,
    NOT_ELIGIBLE,
    PREFERRED,
    TRIAL_ONLY,
    OrderCard,
    OrderCardBuilder,
    drug_matches,
    find,
    parts,
    title,
)
from plugin.thyroid.orders.indication import not_indicated, not_indicated_card


def drug_card(b: OrderCardBuilder, drug: str) -> OrderCard | None:
    a = b.assessment
    patient_level = set(b.text.data["patient_level_block_codes"])
    blocks = [
        w for w in a.warnings
        if w.blocking and (
            any(drug_matches(d, drug) for d in w.drugs)
            or w.all_drugs  # §A4.11: a patient-level block (W-PREG...) holds every drug
            or (not w.drugs and w.code in patient_level)
        )
    ]
    usable = find(a.on_label, drug) + find(a.guideline_supported_off_label, drug)
    # The assessment is the authority on eligibility: a drug it lists as on-label or
    # guideline-supported (e.g. selpercatinib for RET-mutant MTC, H3) gets no driver-gap card.
    gap = None if usable else driver_gap(b, drug)
    not_eligible = find(a.not_eligible, drug)
    if blocks:
        extra = []
        if gap is not None:
            extra.append(gap["text"])
        extra += [f"Also listed as not eligible: {o.reason or 'no reason given'}."
                  for o in not_eligible]
        return b.blocking_card(BLOCKING, drug, blocks, extra=extra, testing=gap)
    if gap is not None:
        return driver_card(b, drug, gap, not_eligible)
    if not_eligible:
        return not_eligible_card(b, drug, not_eligible[0])
    trials = find(a.trial_only, drug)
    if trials and not usable:
        return trial_only_card(b, drug, trials)
    if not usable and not trials and not_indicated(b):
        return not_indicated_card(b, drug)
    preferred = [o for o in usable if o.preferred]
    if preferred and b.settings.info_cards:
        option = preferred[0]
        kind = "preferred"
        values = {"drug_title": title(drug), "order_label": b.order_label(),
                  "order_ref": b.order.ref, "listed_drug": option.drug,
                  "rule_text": f" (rule {option.rule})" if option.rule else "",
                  "action": a.action}
        template = "summary_mdt" if a.action == "MDT_REVIEW_REQUIRED" else "summary"
        return b.make(PREFERRED, "info", b.summary(kind, template, **values),
                      b.detail(kind, **values),
                      source_key=b.rule_source(option.rule) or b.drug_source(drug))
    return None

def driver_gap(b: OrderCardBuilder, drug: str) -> dict[str, Any] | None:
    """The driver this drug needs when the assessment has none, with the testing state."""
    names = {b.text.drug_to_driver[p] for p in parts(drug) if p in b.text.drug_to_driver}
    if drug in b.text.drug_to_driver:
        names = {b.text.drug_to_driver[drug]}
    histologies = {str(d.histology) for d in b.record.diagnoses if d.histology is not None}
    for name in sorted(names):
        spec = b.text.data["drivers"][name]
        if histologies & set(spec.get("not_for_histology") or []):
            continue  # e.g. RET-fusion logic does not apply to MTC (RET-mutant MTC, H3)
        if driver_present(b, spec):
            continue
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
    return None

def driver_present(b: OrderCardBuilder, spec: Mapping[str, Any]) -> bool:
    for d in b.assessment.drivers:
        if d.gene not in spec["genes"]:
            continue
        if spec.get("kind") == "fusion" and (d.kind == "fusion" or d.alteration == "fusion"):
            return True
        if spec.get("alteration") and d.alteration == spec["alteration"]:
            return True
    return False

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
    alternatives = [o.drug for o in a.on_label if o.preferred] or [o.drug for o in a.on_label]
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

