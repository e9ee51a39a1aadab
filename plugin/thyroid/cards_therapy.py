"""The therapy-options card and the molecular-testing card (DECISIONS §K2.6, §K2.7, §K6).

The therapy card lists **one line per drug**, whatever lists the assessment puts it in: a drug may
be both ``notEligible`` (e.g. no label indication) and ``trialOnly`` (a redifferentiation trial);
its line sits in the most usable section and says the other facts too. Drugs that are only not
eligible are grouped by reason. Drug-level cautions (W-HTN, W-ACCEL, W-INFECTION, W-OFF-LABEL...)
are folded here, against the drugs they concern, instead of separate cards.
"""

from __future__ import annotations

from typing import Any

from cds_hooks.cards import Action, Link, Suggestion
from plugin.thyroid.assessment import TherapyOption, Warning
from plugin.thyroid.cards_common import CardContext, RenderedCard, join
from plugin.thyroid.cards_warnings import note_lines

SECTIONS = (
    ("on_label", "On label (US)"),
    ("guideline_supported_off_label", "Guideline-supported, off-label"),
    ("trial_only", "Clinical trial only"),
    ("not_eligible", "Not eligible"),
)


def drug_facts(ctx: CardContext) -> dict[str, dict[str, list[TherapyOption]]]:
    """``{drug: {list name: [options]}}`` in the order drugs first appear, best list first."""
    facts: dict[str, dict[str, list[TherapyOption]]] = {}
    for name, _ in SECTIONS:
        options = getattr(ctx.a, name)
        if name == "on_label":
            options = sorted(options, key=lambda o: (not o.preferred, o.drug in ctx.blocked))
        for o in options:
            facts.setdefault(o.drug, {}).setdefault(name, []).append(o)
    return facts


def usable(ctx: CardContext, facts: dict[str, dict[str, list[TherapyOption]]]) -> list[str]:
    """On-label then off-label drugs that are neither blocked nor also listed as not eligible."""
    names = [d for d, lists in facts.items()
             if ("on_label" in lists or "guideline_supported_off_label" in lists)
             and "not_eligible" not in lists and not ctx.a.held(d)]
    # preferred first, whichever list (an off-label ALK inhibitor may be the preferred option)
    return sorted(names, key=lambda d: not is_preferred(facts[d]))


def is_preferred(lists: dict[str, list[TherapyOption]]) -> bool:
    return any(o.preferred for name in ("on_label", "guideline_supported_off_label")
               for o in lists.get(name, []))


def _trial_url(ctx: CardContext, nct: str) -> str:
    return ctx.t["therapy"]["trial_url"].format(nct=nct)


def option_line(ctx: CardContext, drug: str, lists: dict[str, list[TherapyOption]],
                cautions: dict[str, list[str]]) -> str:
    """One drug: label, rule, trial, blocks and cautions, and any other list it is also in."""
    options = [o for opts in lists.values() for o in opts]
    preferred = any(o.preferred for o in options if o not in lists.get("not_eligible", []))
    head = f"- **{drug}**" + (" (preferred)" if preferred else "")
    parts = []
    if drug in ctx.blocked:
        parts.append(f"**BLOCKED for this patient:** {join(ctx.blocked[drug])}")
    label = ctx.t["drugs"].get(drug)
    if label:
        parts.append(f"{label['label']} ({ctx.source_link(label['source'])})")
    # a caveat on a listed drug (G4: "limited expected activity", §A4.14)
    parts += [o.reason for name in ("on_label", "guideline_supported_off_label")
              for o in lists.get(name, []) if o.reason]
    rules = list(dict.fromkeys(o.rule for o in options if o.rule))
    if rules:
        parts.append("rule " + join(rules))
    for o in lists.get("trial_only", []):
        if o.trial:
            parts.append(f"trial [{o.trial}]({_trial_url(ctx, o.trial)})"
                         + (f": {o.reason}" if o.reason else ""))
    for name, title in SECTIONS:
        if name == "not_eligible" or name not in lists or name == next(iter(lists)):
            continue
        parts.append(f"also listed: {title.lower()}")
    for name in ("on_label", "guideline_supported_off_label"):
        parts += [o.reason for o in lists.get(name, []) if o.reason]  # §A4.12 notes
    for o in lists.get("not_eligible", []):
        if next(iter(lists)) != "not_eligible":
            where = "outside a trial" if "trial_only" in lists else "also listed as"
            parts.append(f"{where} not eligible: {o.reason or 'no reason given'}")
    if drug in cautions:
        parts.append("caution: " + join(cautions[drug]))
    return head + (": " + "; ".join(parts) if parts else "")


def therapy_card(ctx: CardContext, folded: list[Warning]) -> RenderedCard | None:
    """The options card; ``folded`` are the drug-level non-blocking warnings said on it."""
    a = ctx.a
    facts = drug_facts(ctx)
    if not facts:
        return None
    cautions: dict[str, list[str]] = {}
    for w in list(folded) + [w for w in a.warnings if w.blocking is False]:
        for drug in w.drugs:
            if w.code not in cautions.setdefault(drug, []):
                cautions[drug].append(w.code)
    names = usable(ctx, facts)
    if a.every_option_held():
        # §A4.11 rule 3: say why, never "options: X (preferred)"
        texts = ctx.t["therapy"]["summary_all_blocked"]
        codes = [w.code for w in a.warnings if w.blocking and not w.fixable and w.code in texts]
        summary = texts[codes[0]] if codes else texts["default"]
    elif names:
        # every preferred option leads the summary (e.g. two RET inhibitors), not just one
        lead = [n for n in names if is_preferred(facts[n])] or names[:1]
        fix = [ctx.wt(c).get("fix_tag", "") for c in ctx.blocked.get(lead[0], [])]
        tags = [t for t, on in (("preferred", is_preferred(facts[lead[0]])),
                                ("off-label", any("on_label" not in facts[n] for n in lead)),
                                *((f, lead[0] in ctx.fix_first) for f in fix if f))
                if on]
        first = join(lead) + (f" ({', '.join(tags)})" if tags else "")
        rest = [n for n in names if n not in lead]
        more = f"; also {join(rest)}" if rest else ""
        if len(first + more) > 100:
            more = f"; +{len(rest)} more"
        summary = ctx.t["therapy"]["summary"].format(first=first, more=more)
    elif "A2b" in ctx.fired:  # §A4.14: say why there is none (RAI judged not appropriate)
        summary = ctx.t["therapy"]["summary_none_rai_ineligible"]
    else:
        summary = ctx.t["therapy"]["summary_none"]
    sections = []
    for name, title in SECTIONS:
        drugs = [d for d, lists in facts.items() if next(iter(lists)) == name]
        if not drugs:
            continue
        if name == "not_eligible":
            sections.append(f"**{title}:**\n" + not_eligible_lines(facts, drugs))
        else:
            sections.append(f"**{title}:**\n" + "\n".join(
                option_line(ctx, d, facts[d], cautions) for d in drugs))
    if folded:
        sections.append("**Cautions (not blocking):**\n" + note_lines(ctx, folded))
    options = [o for lists in facts.values() for opts in lists.values() for o in opts]
    rules = [o.rule for o in options if o.rule] or [
        r for r in ctx.fired if r[:1] in ("F", "G") or r in ("H1", "H2")]
    rules = list(dict.fromkeys(rules)) or ["F1"]
    main_rule = next((o.rule for o in a.on_label if o.preferred and o.rule), rules[0])
    key = ctx.rule_source_key(main_rule) or "S1-therapy"
    trials = dict.fromkeys(o.trial for o in a.trial_only if o.trial)
    links = [Link(label=f"ClinicalTrials.gov {nct}", url=_trial_url(ctx, nct)) for nct in trials]
    detail = ctx.detail(*sections, ctx.cite(rules))
    return ctx.card("therapy-options", summary, "info", key, detail, links=links or None)


def not_eligible_lines(facts: dict[str, dict[str, list[TherapyOption]]], drugs: list[str]) -> str:
    """Not-eligible drugs grouped by reason: ``- entrectinib, larotrectinib: no NTRK fusion``."""
    groups: dict[tuple[str, str], list[str]] = {}
    for drug in drugs:
        for o in facts[drug]["not_eligible"]:
            groups.setdefault((o.reason or "not eligible", o.rule or ""), []).append(drug)
    return "\n".join(
        f"- {join(dict.fromkeys(names))}: {reason}" + (f" ({rule})" if rule else "")
        for (reason, rule), names in groups.items())


def testing_card(ctx: CardContext) -> RenderedCard:
    """E1: order tissue genomic profiling (DNA + RNA fusion) with a draft ServiceRequest."""
    tt = ctx.t["testing"]
    symptomatic = ctx.a.action in ("SYSTEMIC_FIRST_LINE", "SYSTEMIC_LATER_LINE")
    summary = tt["summary_symptomatic"] if symptomatic else tt["summary"]
    # §A4.13: a known BRAF V600E while testing is still suggested came from a DNA-only assay
    # (a fusion-capable one would have completed testing, §A4.3)
    dna_only = any(d.gene == "BRAF" and d.alteration == "V600E" for d in ctx.a.drivers)
    if dna_only and not symptomatic:
        summary = tt["summary_dna_only"]
    rules = ["E1", "E3"] + [r for r in ("E4", "D3") if r in ctx.fired]
    detail = ctx.detail(tt["dna_only_driver"] if dna_only else "", tt["detail"],
                        ctx.evidence_block(["E1", "E4"]), ctx.cite(rules))
    resource: dict[str, Any] = {
        "resourceType": "ServiceRequest",
        "status": "draft",
        "intent": "proposal",
        "category": [{"coding": [dict(tt["order_category"])]}],
        "code": {"coding": [dict(tt["order_code"])], "text": tt["order_text"]},
        "reasonCode": [{"text": tt["order_reason"]}],
        "note": [{"text": tt["order_note"]}],
    }
    if ctx.patient_id:
        resource["subject"] = {"reference": f"Patient/{ctx.patient_id}"}
    suggestion = Suggestion(
        label=tt["suggestion_label"],
        isRecommended=True,
        actions=[Action(type="create", description=tt["action_description"], resource=resource)],
    )
    return ctx.card("molecular-testing", summary, "warning", "S1", detail,
                    suggestions=[suggestion], selectionBehavior="at-most-one",
                    overrideReasons=ctx.overrides("testing"))
