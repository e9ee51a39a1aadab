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
from plugin.thyroid.assessment.model import TherapyOption, Warning
from plugin.thyroid.cards.common import CardContext, RenderedCard, join, lead
from plugin.thyroid.cards.warnings import critical_evidence, note_lines, warning_source_keys

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
                cautions: dict[str, list[str]], *, with_label: bool) -> str:
    """One drug: preferred, rule, label (for the lead options), trial, block and cautions, and
    any other list it is also in."""
    options = [o for opts in lists.values() for o in opts]
    preferred = any(o.preferred for o in options if o not in lists.get("not_eligible", []))
    rules = list(dict.fromkeys(o.rule for o in options if o.rule
                               and o not in lists.get("not_eligible", [])))
    tags = (["preferred"] if preferred else []) + rules
    head = f"- **{drug}**" + (f" ({', '.join(tags)})" if tags else "")
    parts = []
    if drug in ctx.blocked:
        parts.append(f"**blocked:** {join(ctx.blocked[drug])} (see its card)")
    label = ctx.t["drugs"].get(drug)
    if label and with_label and drug not in ctx.blocked:
        parts.append(str(label["label"]))
    # a caveat on a listed drug (G4: "limited expected activity", §A4.14)
    parts += [o.reason for name in ("on_label", "guideline_supported_off_label")
              for o in lists.get(name, []) if o.reason]
    for o in lists.get("trial_only", []):
        if o.trial:
            parts.append(f"trial {o.trial}" + (f": {o.reason}" if o.reason else ""))
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
    if cautions.get(drug) and drug not in ctx.blocked:
        parts.append("caution: " + join(cautions[drug]))
    return head + (": " + "; ".join(parts) if parts else "")


def therapy_card(ctx: CardContext, folded: list[Warning]) -> RenderedCard | None:
    """The options card; ``folded`` are the drug-level non-blocking warnings said on it.

    Its detail opens with the reason (the rule that chose the preferred option, with a title
    that applies to this patient), then the driver evidence, one line per drug (the label only
    for the lead options), the cautions and only the rules of the options offered (§A4.16)."""
    a = ctx.a
    facts = drug_facts(ctx)
    if not facts:
        return None
    cautions: dict[str, list[str]] = {}
    for w in list(folded) + [w for w in ctx.a.warnings if w.blocking is False]:
        for drug in w.drugs:
            if w.code not in cautions.setdefault(drug, []):
                cautions[drug].append(w.code)
    names = usable(ctx, facts)
    lead_names: list[str] = []
    if a.every_option_held():
        # §A4.11 rule 3: say why, never "options: X (preferred)"
        texts = ctx.t["therapy"]["summary_all_blocked"]
        codes = [w.code for w in a.warnings if w.blocking and not w.fixable and w.code in texts]
        summary = texts[codes[0]] if codes else texts["default"]
    elif names:
        # every preferred option leads the summary (e.g. two RET inhibitors), not just one
        lead_names = [n for n in names if is_preferred(facts[n])] or names[:1]
        fix = [ctx.wt(c).get("fix_tag", "") for c in ctx.blocked.get(lead_names[0], [])]
        tags = [t for t, on in (("preferred", is_preferred(facts[lead_names[0]])),
                                ("off-label", any("on_label" not in facts[n] for n in lead_names)),
                                *((f, lead_names[0] in ctx.fix_first) for f in fix if f))
                if on]
        first = join(lead_names) + (f" ({', '.join(tags)})" if tags else "")
        rest = [n for n in names if n not in lead_names]
        more = f"; also {join(rest)}" if rest else ""
        if len(first + more) > 100:
            more = f"; +{len(rest)} more"
        summary = ctx.t["therapy"]["summary"].format(first=first, more=more)
    elif "A2b" in ctx.fired:  # §A4.14: say why there is none (RAI judged not appropriate)
        summary = ctx.t["therapy"]["summary_none_rai_ineligible"]
    else:
        summary = ctx.t["therapy"]["summary_none"]
    offered = [o for name in ("on_label", "guideline_supported_off_label", "trial_only")
               for o in getattr(a, name)]
    rules = list(dict.fromkeys(o.rule for o in offered if o.rule))
    main_rule = next((o.rule for o in a.on_label + a.guideline_supported_off_label
                      if o.preferred and o.rule and o.drug in lead_names),
                     next((o.rule for o in offered if o.rule and o.drug in lead_names),
                          rules[0] if rules else None))
    rules = ([main_rule] if main_rule else []) + [r for r in rules if r != main_rule]
    # the driver rule that decided the lists (BRAF V600E, other BRAF, RAS) even when no option
    # offered carries it
    rules += [r for r in ("F5", "F6", "F7") if r in ctx.fired and r not in rules]
    # the cautions' text is said for the lead options; the others carry the codes in their line
    notes = [w for w in folded if not w.drugs or set(w.drugs) & set(lead_names)]
    for w in notes:
        for drug in set(w.drugs) & set(lead_names):
            cautions[drug] = [c for c in cautions.get(drug, []) if c != w.code]
    sections = [reason_line(ctx, main_rule, bool(names))]
    drivers = driver_lines(ctx, rules)
    if drivers:
        sections.append("**Evidence:**\n" + "\n".join(drivers))
    for name, title in SECTIONS:
        drugs = [d for d, lists in facts.items() if next(iter(lists)) == name]
        if not drugs:
            continue
        if name == "not_eligible":
            sections.append(f"**{title}:** " + not_eligible_lines(facts, drugs))
        else:
            sections.append(f"**{title}:**\n" + "\n".join(
                option_line(ctx, d, facts[d], cautions, with_label=d in lead_names)
                for d in drugs))
    if notes:
        sections.append("**Cautions (not blocking):**\n" + note_lines(ctx, notes, only=lead_names))
    unchecked = before_start_missing(ctx) if names else []
    if unchecked:
        sections.append(f"**{ctx.t['therapy']['before_start_title']}:**\n"
                        + "\n".join(f"- {m}" for m in unchecked))
    key = (ctx.rule_source_key(main_rule) if main_rule else None) or "S1-therapy"
    trials = dict.fromkeys(o.trial for o in a.trial_only if o.trial)
    links = [Link(label=f"ClinicalTrials.gov {nct}", url=_trial_url(ctx, nct)) for nct in trials]
    label_keys = [ctx.t["drugs"].get(d, {}).get("source") for d in lead_names]
    caution_keys = [k for w in notes
                    for k in warning_source_keys(ctx, w.code, [d for d in w.drugs
                                                                if d in lead_names])[:1]]
    main_keys = [ctx.rule_source_key(main_rule)] if main_rule else []
    cited = rules or ["F1"]
    detail = ctx.detail(*sections, ctx.cite(cited,
                                            [k for k in main_keys + label_keys + caution_keys
                                             if k],
                                            card_source=key,
                                            said=[main_rule] if main_rule and ctx.rule_title(
                                                main_rule).rstrip(".") in sections[0] else []))
    return ctx.card("therapy-options", summary, "info", key, detail, links=links or None)


def before_start_missing(ctx: CardContext) -> list[str]:
    """The assessment's missing-data items that decide whether a listed drug may be started
    (a blood pressure reading, the pregnancy status, the date of birth: ``therapy.before_start``
    in cards.yaml)."""
    starts = tuple(ctx.t["therapy"].get("before_start", ()))
    return [m for m in ctx.a.missing_data if starts and m.startswith(starts)]


def reason_line(ctx: CardContext, rule: str | None, usable_options: bool) -> str:
    """The one-sentence reason the therapy card opens with: the deciding rule's title."""
    if ctx.a.every_option_held():
        codes = join(dict.fromkeys(c for cs in ctx.blocked.values() for c in cs))
        return f"Every on-label option is blocked ({codes}): its critical card says why."
    if not usable_options:
        return "No option is usable on label for this patient; see the lists below."
    if not rule:
        return "Options from the assessment's therapy lists."
    return f"Why ({rule}): {ctx.rule_title(rule).rstrip('.')}."


def driver_lines(ctx: CardContext, rules: list[str]) -> list[str]:
    """The molecular evidence of the options' rules (the driver or its absence), once; readings
    that belong to a warning's card (blood pressure, pregnancy...) are left to that card."""
    # with a testing card, the testing state is that card's evidence (E1, E4)
    testing = [x[2:].rsplit(" (", 1)[0] for x in ctx.evidence(["E1", "E4"])] \
        if ctx.a.suggest_molecular_testing else []
    suggest = bool(testing)
    # and a critical card's evidence (a RET point mutation) is said there
    testing += critical_evidence(ctx)
    lines = [x for x in ctx.evidence(rules + ["E3"] + ([] if suggest else ["E1"]))
             if not ctx.is_topic_line(x[2:]) and x[2:].rsplit(" (", 1)[0] not in testing]
    molecular = [x for x in lines if "Molecular" in x]
    return molecular or lines[:1]


def not_eligible_lines(facts: dict[str, dict[str, list[TherapyOption]]], drugs: list[str]) -> str:
    """Not-eligible drugs grouped by reason: ``entrectinib, larotrectinib (no NTRK fusion)``."""
    groups: dict[tuple[str, str], list[str]] = {}
    for drug in drugs:
        for o in facts[drug]["not_eligible"]:
            groups.setdefault((o.reason or "not eligible", o.rule or ""), []).append(drug)
    return "; ".join(
        f"{join(dict.fromkeys(names))} ({reason})" for (reason, _rule), names in groups.items()
    ) + "."


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
    detail = ctx.detail(lead(tt["dna_only_driver"]) if dna_only else "", lead(tt["detail"]),
                        ctx.evidence_block(["E1", "E4"]), ctx.cite(rules, card_source="S1"))
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
