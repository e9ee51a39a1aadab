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

from plugin.thyroid.assessment import Warning
from plugin.thyroid.cards_common import CardContext, RenderedCard, capitalise, join


def folded_into_status(ctx: CardContext, w: Warning) -> bool:
    """True for the warnings the data-needed status card already says."""
    folded = ctx.t.get("folded_when_not_established", ["W-DATA-MISSING"])
    return ctx.a.rair_status == "NOT_ESTABLISHED" and w.code in folded


def critical_cards(ctx: CardContext) -> list[RenderedCard]:
    """One critical card per blocking warning code (folded ones excepted)."""
    out: list[RenderedCard] = []
    done: set[str] = set()
    for w in ctx.a.warnings:
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
    indicator. ``also`` are the same code's non-blocking entries, said in the detail."""
    w = entries[0]
    wt = ctx.wt(w.code)
    drugs_list = list(dict.fromkeys(d for e in entries for d in e.drugs))
    drugs = join(drugs_list) or "systemic therapy"
    age = ctx.record.age_on(ctx.a.evaluation_date)
    if w.blocking:
        template = wt.get("blocked") or "{code}: {title} ({drugs})"
        summary = template.format(drugs=drugs, age=f"age {age}" if age is not None else "age",
                                  code=w.code, title=wt.get("title", "warning"))
    else:
        summary = f"{wt.get('title', w.code)} ({w.code})" + (f": {drugs}" if drugs_list else "")
    rules = list(dict.fromkeys(r for e in entries for r in ctx.warning_rules(e)))
    head = (f"**{w.code}** ({'blocking' if w.blocking else 'not blocking'}"
            + (f"; applies to {drugs}" if drugs_list else "") + ")")
    blocks = [head, ctx.warning_message(w, drugs)]
    for other in also:
        names = join(other.drugs) or "other systemic therapy"
        blocks.append(f"**Not blocking, use with caution:** {names}"
                      + (f". {other.message}" if other.message else "."))
    blocks += [
        ctx.evidence_block([w.code] + [e.rule for e in entries if e.rule]),
        ctx.cite(r for r in rules if r in ctx.t["rules"])
        or f"**Rule:** {w.code} (DECISIONS §K2.9)",
        ctx.warning_sources(w.code),
    ]
    indicator = "critical" if w.blocking else wt.get("indicator", "info")
    return ctx.card(f"warning-{w.code}", capitalise(summary), indicator,
                    ctx.warning_source_key(w), ctx.detail(*blocks),
                    overrideReasons=ctx.overrides("therapy"))


def note_lines(ctx: CardContext, warnings: list[Warning], *, with_evidence: bool = True) -> str:
    """Folded warnings as short bullets: code, title, message, sources (and own evidence)."""
    lines = []
    for w in warnings:
        wt = ctx.wt(w.code)
        drugs = join(w.drugs)
        lines.append(f"- **{w.code}** {wt.get('title', '')}" + (f" ({drugs})" if drugs else "")
                     + f": {ctx.warning_message(w)}")
        if with_evidence:
            # a classification rule's evidence belongs to the warning; a therapy rule's
            # evidence (F1, G1) is about the drug choice and is not repeated here
            own = [w.code] + ([w.rule] if w.rule and w.rule[:1] in "ABC" else [])
            lines += [f"  {line}" for line in ctx.evidence(own)]
        sources = ctx.warning_sources(w.code).replace("**Sources:** ", "")
        if sources:
            lines.append(f"  Sources: {sources}")
    return "\n".join(lines)
