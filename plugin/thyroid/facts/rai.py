"""Radioiodine administrations and activity (B0.3, A2, A6, B5, §5) for the thyroid fact mapper.

:func:`rai_activity` is the public view of the same computation (the demo's record summary
shows exactly the therapeutic doses and cumulative activity the rules count).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from plugin.thyroid import clinical_model as cm
from plugin.thyroid.facts.common import FactContext, Thresholds, day_text, load_thresholds, mbq_text


def intent_of(adm: cm.RadioiodineAdministration, th: Thresholds) -> str:
    """``"therapeutic"``, ``"diagnostic"`` or ``"unknown"``: the coded intent unless the activity
    contradicts it, else from the activity (below ``diagnostic_cut_mbq`` is diagnostic)."""
    if adm.intent_coded and adm.intent != cm.RaiIntent.UNKNOWN:
        if _intent_contradicted(adm, th):
            return "unknown"  # A6 / A5 (safer): the coded intent and the activity disagree
        return adm.intent.value
    if adm.activity_mbq is not None:  # B0.3: inferred from the activity (DESIGN cut)
        return "diagnostic" if adm.activity_mbq < th.diagnostic_cut_mbq else "therapeutic"
    return adm.intent.value


def _intent_contradicted(adm: cm.RadioiodineAdministration, th: Thresholds) -> bool:
    """A coded *diagnostic* administration with a therapeutic-range activity (>= the B0.3 cut).

    Neither reading is safe: as diagnostic it would send the patient to RAI_EVALUATION (A2)
    after a possibly therapeutic dose; as therapeutic it would add to JS-v's cumulative
    activity. The intent is treated as unknown (A5) and W-DATA-CONFLICT is raised (A6).
    (A coded *therapeutic* dose below the cut is plausible, e.g. 1.1 GBq ablation, and is kept.)
    """
    return (
        adm.intent_coded
        and adm.intent == cm.RaiIntent.DIAGNOSTIC
        and adm.activity_mbq is not None
        and adm.activity_mbq >= th.diagnostic_cut_mbq
    )


def _same_day_groups(
    items: list[cm.RadioiodineAdministration],
) -> list[list[cm.RadioiodineAdministration]]:
    """Therapeutic administrations grouped by date (undated ones stay single)."""
    return [[items[i] for i in g] for g in _same_day_index_groups(items, list(range(len(items))))]


@dataclass(frozen=True)
class RaiReading:
    """One recorded administration as the rules read it."""

    administration: cm.RadioiodineAdministration
    after_as_of: bool  # dated after the evaluation date: ignored (never counted)
    intent: str  # "therapeutic", "diagnostic" or "unknown" (B0.3, A5, A6)
    intent_conflict: bool  # coded diagnostic but of therapeutic size: intent unknown (A6)
    counted: bool  # the therapeutic dose that counts for its day (B5, §5)
    same_day_as: str | None  # a same-day duplicate: the source of the record counted instead


@dataclass(frozen=True)
class TherapeuticDose:
    """A counted therapeutic administration with the running cumulative activity after it."""

    source: str
    date: dt.date | None
    activity_mbq: int | None  # None: unknown (never guessed, A6); adds nothing to the total
    cumulative_mbq: int
    same_day_sources: tuple[str, ...]  # every record of the day, this one included


@dataclass(frozen=True)
class RaiActivity:
    """The rules' view of radioiodine activity as of a date (B0.3, A5, A6, B5, §5).

    ``doses`` are the counted therapeutic administrations in date order (undated last), one per
    day, with the running total; ``readings`` every recorded administration, in record order
    (those dated after the evaluation date are ignored by the rules). ``complete`` is False
    when the total is only a lower bound (an unknown activity or intent, or one day recorded
    with differing activities). ``over`` is strictly greater than the threshold in whole MBq;
    ``equal`` only when the total is complete.
    """

    readings: tuple[RaiReading, ...]
    doses: tuple[TherapeuticDose, ...]
    cumulative_mbq: int
    complete: bool
    over: bool
    equal: bool
    threshold_mbq: int
    # the counted administrations in record order (the ``rai`` fact's ``ref`` order)
    therapeutic: tuple[cm.RadioiodineAdministration, ...]
    unknown_intent: tuple[cm.RadioiodineAdministration, ...]


def rai_activity(
    rec: cm.PatientRecord, as_of: dt.date, thresholds: Thresholds | None = None
) -> RaiActivity:
    """The therapeutic administrations and cumulative activity exactly as the rules count them
    (the ``rai`` fact is built from this; the demo's record summary shows it)."""
    return _activity(rec, as_of, thresholds or load_thresholds())


def _activity(rec: cm.PatientRecord, as_of: dt.date, th: Thresholds) -> RaiActivity:
    admins = [a for a in rec.rai_administrations if a.date is None or a.date <= as_of]
    intents = [intent_of(a, th) for a in admins]
    unknown = [a for a, i in zip(admins, intents, strict=True) if i == "unknown"]
    # Two therapeutic administrations on the same day are one dose recorded twice (e.g. a
    # MedicationAdministration and a Procedure): counting both could fake JS-v (B5, §5). The
    # day counts once, with its smallest known activity; differing activities leave the total
    # a lower bound (A5) and raise W-DATA-CONFLICT (A6, see activity_conflict_facts).
    # Positions in ``admins``, not the objects, identify a record (two equal records may be
    # the same object).
    rec_idx = [i for i, intent in enumerate(intents) if intent == "therapeutic"]
    kept: list[int] = []
    kept_for: dict[int, int] = {}
    groups: dict[int, list[int]] = {}
    day_unsure = False
    for group in _same_day_index_groups(admins, rec_idx):
        known = sorted({m for i in group if (m := admins[i].activity_mbq) is not None})
        keep = (
            next((i for i in group if admins[i].activity_mbq == known[0]), group[0])
            if known
            else group[0]
        )
        kept.append(keep)
        groups[keep] = group
        kept_for.update((i, keep) for i in group)
        day_unsure = day_unsure or len(known) > 1
    therapeutic = [admins[i] for i in kept]
    total = sum(a.activity_mbq or 0 for a in therapeutic)
    # An administration of unknown intent may be a therapeutic dose of unknown activity, so the
    # itemized sum is then only a lower bound (no W-THRESHOLD-EQUAL, JS-v undecidable).
    incomplete = any(a.activity_mbq is None for a in therapeutic) or bool(unknown) or day_unsure
    readings: list[RaiReading] = []
    i = 0  # position in ``admins`` (the administrations on or before ``as_of``)
    for a in rec.rai_administrations:
        if a.date is not None and a.date > as_of:
            readings.append(
                RaiReading(
                    a,
                    True,
                    intent_of(a, th),
                    _intent_contradicted(a, th),
                    counted=False,
                    same_day_as=None,
                )
            )
            continue
        keep_i = kept_for.get(i)
        readings.append(
            RaiReading(
                a,
                False,
                intents[i],
                _intent_contradicted(a, th),
                counted=keep_i == i,
                same_day_as=admins[keep_i].source if keep_i is not None and keep_i != i else None,
            )
        )
        i += 1
    doses = []
    running = 0
    for i in sorted(kept, key=lambda i: (admins[i].date is None, admins[i].date or dt.date.min)):
        a = admins[i]
        running += a.activity_mbq or 0
        doses.append(
            TherapeuticDose(
                source=a.source,
                date=a.date,
                activity_mbq=a.activity_mbq,
                cumulative_mbq=running,
                same_day_sources=tuple(admins[j].source for j in groups[i]),
            )
        )
    return RaiActivity(
        readings=tuple(readings),
        doses=tuple(doses),
        cumulative_mbq=total,
        complete=not incomplete,
        # §5 / B0.3: strictly greater, in whole MBq. A lower bound (unknown items) that already
        # exceeds the threshold still exceeds it; "equal" only when every item is known.
        over=total > th.cumulative_threshold_mbq,
        equal=total == th.cumulative_threshold_mbq and not incomplete,
        threshold_mbq=th.cumulative_threshold_mbq,
        therapeutic=tuple(therapeutic),
        unknown_intent=tuple(unknown),
    )


def _same_day_index_groups(
    admins: list[cm.RadioiodineAdministration], indices: list[int]
) -> list[list[int]]:
    """``indices`` into ``admins`` grouped by date (undated ones stay single), first-seen order."""
    groups: dict[object, list[int]] = {}
    for i in indices:
        day = admins[i].date
        groups.setdefault(day if day is not None else ("undated", i), []).append(i)
    return list(groups.values())


def rai_fact(
    rec: cm.PatientRecord, ctx: FactContext, view: RaiActivity | None = None
) -> tuple[dict, list[cm.RadioiodineAdministration]]:
    """The ``rai`` fact from ``view`` (the derivation's; computed here when not given)."""
    th = ctx.th
    for a in rec.rai_administrations:
        if a.date is not None and a.date > ctx.as_of:
            ctx.note(
                f"RAI administration {a.source} is dated {a.date} (after the evaluation date;"
                " ignored)"
            )
    view = view or _activity(rec, ctx.as_of, th)
    therapeutic = list(view.therapeutic)
    unknown = list(view.unknown_intent)
    total = view.cumulative_mbq
    incomplete = not view.complete
    dated = sorted((a for a in therapeutic if a.date), key=lambda a: a.date or dt.date.min)
    lines = [
        f"{day_text(a.date)} "
        + (mbq_text(a.activity_mbq) if a.activity_mbq is not None else "activity unknown")
        for a in sorted(therapeutic, key=lambda a: a.date or dt.date.min)
    ]
    fact: dict[str, Any] = {
        "type": "rai",
        "has_therapeutic": bool(therapeutic),
        "therapeutic_count": len(therapeutic),
        "has_unknown_intent": bool(unknown),
        "cumulative_mbq": total,
        "activity_complete": view.complete,
        "cumulative_over": view.over,
        "cumulative_equal": view.equal,
        "ref": [a.source for a in therapeutic],
        "label": (
            f"Cumulative therapeutic I-131 {'at least ' if incomplete else ''}{mbq_text(total)}"
            f" from {len(therapeutic)} administration(s)"
            + (": " + "; ".join(lines) if lines else "")
        ),
    }
    if dated:
        assert dated[-1].date is not None  # ``dated`` holds dated administrations only
        fact["last_therapeutic_days_ago"] = ctx.days_ago(dated[-1].date)
    for a in therapeutic:
        if a.activity_mbq is None:
            ctx.note(f"activity (with unit) of the {day_text(a.date)} therapeutic RAI ({a.source})")
        if a.date is None:
            ctx.note(f"date of the therapeutic RAI administration {a.source}")
    for a in unknown:
        if _intent_contradicted(a, th):
            assert a.activity_mbq is not None  # _intent_contradicted implies a known activity
            ctx.note(
                f"intent of the {day_text(a.date)} RAI administration ({a.source}): coded"
                f" diagnostic but {mbq_text(a.activity_mbq)}"
            )
        else:
            ctx.note(f"intent and activity of the {day_text(a.date)} RAI administration"
                     f" ({a.source})")
    return fact, dated


def activity_conflict_facts(
    rec: cm.PatientRecord, therapeutic: list, ctx: FactContext
) -> list[dict]:
    """A6: a summary that disagrees with the itemized sum, or has no usable unit."""
    out: list[dict[str, Any]] = []
    for s in rec.cumulative_summaries:
        if s.date is not None and s.date > ctx.as_of:
            continue
        items = [a for a in therapeutic if s.date is None or a.date <= s.date]
        itemized = sum(a.activity_mbq or 0 for a in items)
        if s.activity_mbq is None:
            why = f"summary {s.raw_value} {s.raw_unit or '(no unit)'} cannot be read as MBq"
        elif s.activity_mbq != itemized:
            why = f"summary {mbq_text(s.activity_mbq)} vs itemized {mbq_text(itemized)}"
        else:
            continue
        out.append(
            {
                "type": "activity_conflict",
                "ref": s.source,
                "label": f"Cumulative activity conflict ({day_text(s.date)}): {why};"
                " itemized administrations are used",
            }
        )
    # A6: the same day recorded more than once (counted once by rai_fact), or a coded intent that
    # contradicts the activity (treated as unknown by intent_of).
    th = ctx.th
    admins = [a for a in rec.rai_administrations if a.date is not None and a.date <= ctx.as_of]
    recorded = [a for a in admins if intent_of(a, th) == "therapeutic"]
    for group in _same_day_groups(recorded):
        if len(group) > 1:
            values = ", ".join(
                mbq_text(a.activity_mbq) if a.activity_mbq is not None else "activity unknown"
                for a in group
            )
            out.append(
                {
                    "type": "activity_conflict",
                    "ref": [a.source for a in group],
                    "label": f"Therapeutic RAI on {group[0].date} recorded {len(group)} times"
                    f" ({values}): counted once, with the smallest known activity",
                }
            )
    for a in rec.rai_administrations:
        if (a.date is None or a.date <= ctx.as_of) and _intent_contradicted(a, th):
            assert a.activity_mbq is not None  # _intent_contradicted implies a known activity
            out.append(
                {
                    "type": "activity_conflict",
                    "ref": a.source,
                    "label": f"RAI administration ({day_text(a.date)}) coded diagnostic but"
                    f" {mbq_text(a.activity_mbq)}: intent treated as unknown",
                }
            )
    # A6 also covers "a unit is missing" on an itemized administration (DECISIONS §D3: "a
    # unitless activity is never guessed (A6)"): the dose counts as unknown, never as a number.
    for a in rec.rai_administrations:
        if a.activity_mbq is None and (a.date is None or a.date <= ctx.as_of):
            out.append(
                {
                    "type": "activity_conflict",
                    "ref": a.source,
                    "label": f"RAI administration ({day_text(a.date)}) has no activity with a"
                    " usable unit: not guessed, the cumulative activity is a lower bound",
                }
            )
    return out
