"""Warning cards (DECISIONS §K2.9, §D4.2) and the warning notes folded into other cards.

* A **blocking** warning is one critical card per code; a non-blocking entry of the same code
  (e.g. W-BLEED blocking cabozantinib, not blocking sorafenib) is said on that card, not on a
  second one.
* A **non-blocking** warning is folded where the clinician reads the related decision (the
  template's ``fold``): ``therapy`` (drug cautions on the therapy card), ``status`` (classification
  notes on the status card), ``data-quality`` (record problems); ``card`` keeps its own card,
  for warnings raised by the patient's data that need action before a drug is started.
* W-DATA-MISSING, W-IODINE and W-TSH are what the data-needed status card says when the status
  is ``NOT_ESTABLISHED``: they are folded there (``folded_when_not_established``).
"""

from __future__ import annotations

from collections.abc import Sequence

from plugin.thyroid.assessment.model import Warning
from plugin.thyroid.cards.common import CardContext, RenderedCard, capitalise, join, lead


def folded_into_status(ctx: CardContext, w: Warning) -> bool:
    """True for the warnings the data-needed status card already says."""
    folded = ctx.t.get("folded_when_not_established", ["W-DATA-MISSING"])
    return ctx.a.rair_status == "NOT_ESTABLISHED" and w.code in folded


def critical_cards(ctx: CardContext) -> list[RenderedCard]:
    """One critical card per blocking warning code (folded ones excepted)."""
    out: list[RenderedCard] = []
    done: set[str] = set()
    # a non-fixable block (W-PREG, W-BLEED...) is read before a fixable one (W-HTN): §A4.11
    for w in sorted(ctx.a.warnings, key=lambda x: x.fixable):
        if not w.blocking or w.code in done or folded_into_status(ctx, w):
            continue
        done.add(w.code)
        blocking = [x for x in ctx.a.warnings if x.code == w.code and x.blocking]
        also = [x for x in ctx.a.warnings if x.code == w.code and not x.blocking]
        out.append(warning_card(ctx, blocking, also))
    return out


def absorbed_by_critical(ctx: CardContext, w: Warning) -> bool:
    """A non-blocking warning whose code already has a critical card."""
    return not w.blocking and any(
        x.code == w.code and x.blocking and not folded_into_status(ctx, x) for x in ctx.a.warnings)


def warning_card(ctx: CardContext, entries: list[Warning],
                 also: Sequence[Warning] = ()) -> RenderedCard:
    """The card of one warning code: critical when ``entries`` block, else the template's
    indicator. ``also`` are the same code's non-blocking entries, named in one line.

    The detail opens with the warning's reason (its text about these drugs only), then its own
    evidence (the reading that raised it) and its rules and sources."""
    w = entries[0]
    wt = ctx.wt(w.code)
    drugs_list = list(dict.fromkeys(d for e in entries for d in e.drugs))
    drugs = join(drugs_list) or "systemic therapy"
    age = ctx.derivation.safety.age
    if w.blocking:
        template = wt.get("blocked") or "{code}: {title} ({drugs})"
        held: list[str] = []
        if all(e.fixable for e in entries):
            # §A4.11: "fix first, then start" is said only of drugs nothing else blocks; a drug
            # also under a non-fixable block (W-PREG...) is not to be started at all
            startable = [d for d in drugs_list if not ctx.a.held(d)]
            held = list(dict.fromkeys(x.code for d in drugs_list if d not in startable
                                      for x in ctx.a.held(d)))
            if startable:
                drugs = join(startable)
            elif wt.get("blocked_held"):
                template = wt["blocked_held"]
        summary = template.format(drugs=drugs, age=f"age {age}" if age is not None else "age",
                                  code=w.code, title=wt.get("title", "warning"),
                                  held=join(held))
    else:
        summary = f"{wt.get('title', w.code)} ({w.code})" + (f": {drugs}" if drugs_list else "")
    rules = [r for r in warning_own_rules(ctx, w) if r in ctx.t["rules"]]
    raised_by = join(dict.fromkeys(e.rule for e in entries if e.rule)) or join(
        [r for r in wt.get("rules", []) if r in ctx.fired] or wt.get("rules", [])[:1])
    first = [] if rules else [f"- **{w.code}** {wt.get('title', '')}"
                              + (f" (raised by rule {raised_by})" if raised_by else "")]
    message = ctx.warning_message(w, drugs, only=drugs_list)
    blocks = [lead(f"**{w.code}** ({'blocking' if w.blocking else 'not blocking'}"
                   + (f" for {drugs}" if drugs_list else "") + "): " + message)]
    others = list(dict.fromkeys(d for o in also for d in o.drugs))
    if others:
        blocks.append(f"**Not blocking, use with caution:** {join(others)}.")
    evidence = warning_evidence(ctx, entries)
    blocks += [
        "**Evidence:**\n" + "\n".join(evidence) if evidence else "",
        ctx.cite(rules, warning_source_keys(ctx, w.code, drugs_list), first,
                 card_source=ctx.warning_source_key(w), drop=other_labels(ctx, drugs_list)),
    ]
    indicator = "critical" if w.blocking else wt.get("indicator", "info")
    return ctx.card(f"warning-{w.code}", capitalise(summary), indicator,
                    ctx.warning_source_key(w), ctx.detail(*blocks),
                    overrideReasons=ctx.overrides("therapy"))


def warning_own_rules(ctx: CardContext, w: Warning) -> list[str]:
    """The rules a warning card cites: the template's rules that are about the warning itself
    (H4 pregnancy, E6 RET point, A3 scan...), not the drug-choice rules (F, G) that proposed
    the drug (their titles are about the choice, not the warning)."""
    rules = list(dict.fromkeys([w.rule] if w.rule else []))
    rules += [r for r in ctx.wt(w.code).get("rules", []) if r not in rules]
    return [r for r in rules if r[:1] not in ("F", "G", "D")]


def other_labels(ctx: CardContext, drugs: list[str]) -> list[str]:
    """The label sources of drugs a warning card is not about (when it names its drugs)."""
    if not drugs:
        return []
    own = {ctx.t["drugs"].get(d, {}).get("source") for d in drugs}
    return [k for d, info in ctx.t["drugs"].items()
            if (k := info.get("source")) not in own and k != "S9"]


def warning_source_keys(ctx: CardContext, code: str, drugs: list[str]) -> list[str]:
    """The warning's sources about these drugs: their labels where the template cites them,
    else the drugs' own labels, else every source of the template. A warning about the record,
    not a drug's label (``drug_labels: false``: W-RET-POINT), cites its template's sources."""
    keys = list(ctx.wt(code).get("sources", []))
    labels = ctx.drug_label_keys(code, drugs)
    own = [k for k in keys if k in labels]
    return own or labels or keys


def warning_evidence(ctx: CardContext, entries: list[Warning]) -> list[str]:
    """The reading that raised the warning: its topic lines (blood pressure, QTc, pregnancy...)
    and the evidence of its own rules; never the drug-choice evidence of another card."""
    w = entries[0]
    topic = ctx.topic_lines(w.code)
    own = [r for r in warning_own_rules(ctx, w) if r[:1] not in ("F", "G", "D")]
    # a rule's line ends with " (RULE)": the same reading is said once
    lines = [x for x in ctx.evidence([w.code] + own) if x[2:].rsplit(" (", 1)[0] not in topic]
    return list(dict.fromkeys([f"- {x}" for x in topic] + lines))


def critical_evidence(ctx: CardContext) -> set[str]:
    """The evidence the critical cards show (rule suffix removed): another card leaves it out."""
    out: set[str] = set()
    for w in ctx.a.warnings:
        if w.blocking and not folded_into_status(ctx, w):
            out.update(x[2:].rsplit(" (", 1)[0] for x in warning_evidence(ctx, [w]))
    return out


def note_lines(ctx: CardContext, warnings: list[Warning], *, with_evidence: bool = True,
               only: Sequence[str] | None = None) -> str:
    """Folded warnings as short bullets: code, title, its text about its drugs (``only``: these
    drugs of it) and its own evidence; the sources go to the card's sources line."""
    lines = []
    for w in warnings:
        wt = ctx.wt(w.code)
        names = [d for d in w.drugs if only is None or d in only]
        drugs = join(names)
        message = ctx.warning_message(w, drugs, only=names)
        # a per-drug text starts with the drug's name: it is not said twice
        named = bool(names) and message.lower().startswith(names[0].lower())
        lines.append(f"- **{w.code}** {wt.get('title', '')}"
                     + (f" ({drugs})" if drugs and not named else "") + f": {message}")
        if with_evidence:
            # a classification rule's evidence belongs to the warning; a therapy rule's
            # evidence (F1, G1) is about the drug choice and is not repeated here
            own = [w.code] + ([w.rule] if w.rule and w.rule[:1] in "ABC" else [])
            lines += [f"  {line}" for line in ctx.evidence(own)]
            if w.code == "W-DATA-MISSING":
                lines += [f"  - {m}" for m in ctx.a.missing_data]
    return "\n".join(lines)
