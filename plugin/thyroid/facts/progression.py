"""Progression: RECIST 1.1 from lesion sums with the nadir rules (C1, C1a-c) and the category
(C2, C3, §A4.5) for the thyroid fact mapper.

:func:`recist_pd_points` is the public view of the same computation (the demo's record summary
marks exactly the sums the rules count as RECIST PD).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeGuard

from plugin.thyroid import clinical_model as cm
from plugin.thyroid.facts.common import (
    Thresholds,
    _Ctx,
    _num,
    add_months,
    load_thresholds,
)
from plugin.thyroid.facts.rai import RaiActivity, _rai
from plugin.thyroid.facts.therapy import _history

_PD_TEXT = "progression evidence"


@dataclass(frozen=True)
class RecistPd:
    """A lesion sum that is RECIST 1.1 PD over the nadir it was compared with (C1)."""

    date: dt.date
    source: str
    sum_mm: float
    nadir_mm: float
    nadir_date: dt.date
    nadir_source: str


def _pd_checks(nadir_mm: float, sum_mm: float, th: Thresholds) -> tuple[bool, bool]:
    """(up >= the PD percentage, up >= the PD millimetres) over the nadir, in exact decimals."""
    nadir, value = _num(nadir_mm), _num(sum_mm)
    return (
        value * 100 >= nadir * (100 + _num(th.recist_pd_percent)),
        value - nadir >= _num(th.recist_pd_mm),
    )


def meets_recist_pd(nadir_mm: float, sum_mm: float, th: Thresholds | None = None) -> bool:
    """RECIST 1.1 PD by the sum: up >= 20 % **and** >= 5 mm absolute over the nadir (C1, C1a)."""
    return all(_pd_checks(nadir_mm, sum_mm, th or load_thresholds()))


def _recist(sums: list[cm.LesionSum], therapy_start: dt.date | None, th: Any) -> dict[str, Any]:
    """RECIST 1.1 over date-sorted ``sums`` (C1, C1a); the nadir restarts at ``therapy_start``
    (C1b) when given."""
    out: dict[str, Any] = {"pd": [], "non_pd": [], "near_miss": False, "comparisons": 0}
    out["lines"] = []
    out["points"] = []
    nadir: cm.LesionSum | None = None
    reset_done = therapy_start is None
    pct = _num(th.recist_pd_percent)
    mm = _num(th.recist_pd_mm)
    for s in sums:
        assert s.date is not None  # callers pass sums filtered to known dates
        if not reset_done and therapy_start is not None and s.date >= therapy_start:
            nadir, reset_done = None, True  # C1b: the nadir restarts at the current therapy
        if nadir is not None:
            assert nadir.date is not None
            out["comparisons"] += 1
            rise = _num(s.sum_mm) - _num(nadir.sum_mm)
            pct_ok, mm_ok = _pd_checks(nadir.sum_mm, s.sum_mm, th)
            change = (
                f"{s.date.isoformat()} sum {s.sum_mm:g} mm vs nadir {_num(nadir.sum_mm)} mm"
                f" ({nadir.date.isoformat()})"
            )
            if pct_ok and mm_ok:
                out["pd"].append((s.date, s.source, f"RECIST PD: {change}"))
                out["lines"].append(f"RECIST PD: {change}")
                out["points"].append(
                    RecistPd(s.date, s.source, s.sum_mm, nadir.sum_mm, nadir.date, nadir.source)
                )
            else:
                if rise > 0 and (pct_ok or mm_ok):
                    out["near_miss"] = True
                    out["lines"].append(f"Not PD (C1a: needs +{pct}% and +{mm} mm): {change}")
                out["non_pd"].append(s.date)
        if nadir is None or _num(s.sum_mm) < _num(nadir.sum_mm):
            nadir = s
    return out


def _dated_sums(
    rec: cm.PatientRecord, keep: Callable[[dt.date | None], TypeGuard[dt.date]]
) -> list[cm.LesionSum]:
    """The lesion sums whose date passes ``keep``, in date order."""
    return sorted((s for s in rec.lesion_sums if keep(s.date)), key=lambda s: s.date or dt.date.min)


def episode_bounds(
    rec: cm.PatientRecord, ctx: _Ctx, dated_ther: list[cm.RadioiodineAdministration]
) -> tuple[dt.date | None, dt.date | None]:
    """(monitoring episode start, current therapy start) for the progression category.

    The episode starts at the last therapeutic RAI (``dated_ther``, from ``_rai``) or the last
    local therapy, whichever is later (§A4.5); the nadir restarts at the current systemic
    therapy's start (C1b) unless the episode starts later (C1c).
    """
    local = [lt.date for lt in rec.local_therapies if ctx.known(lt.date)]
    starts = [d for d in ([dated_ther[-1].date] if dated_ther else []) + local if d is not None]
    episode_start = max(starts) if starts else None  # §A4.5
    # The current therapy (needs no PD events to be found).
    _, therapy_start = _history(rec, ctx, [], ctx.drugs)
    if therapy_start is not None and episode_start is not None and therapy_start < episode_start:
        therapy_start = None  # the episode start is later: C1c applies
    return episode_start, therapy_start


def _therapy_windows(rec: cm.PatientRecord, ctx: _Ctx, exposures: list) -> list[dict[str, Any]]:
    """RECIST within each therapy's own window (start..end), nadir from its start (C1b)."""
    sums = _dated_sums(rec, ctx.known)
    return [
        _recist(
            [s for s in sums if s.date >= t.start and (t.end is None or s.date <= t.end)],
            t.start,
            ctx.th,
        )
        for t in exposures
        if t.start is not None
    ]


def recist_pd_points(
    rec: cm.PatientRecord,
    as_of: dt.date,
    thresholds: Thresholds | None = None,
    rai: RaiActivity | None = None,
    therapies: Mapping[str, Any] | None = None,
) -> list[RecistPd]:
    """Every RECIST 1.1 PD point the rules count, in date order: those of the current
    monitoring episode (§A4.5, C1b, C1c) and those within each therapy's window (the history,
    G1). A sum counted by both is listed once, with the episode's nadir. ``rai`` is the record's
    counted radioiodine (the derivation's; computed here when not given)."""
    ctx = _Ctx(as_of, thresholds or load_thresholds(), therapies)
    _, dated_ther = _rai(rec, ctx, rai)
    episode_start, therapy_start = episode_bounds(rec, ctx, dated_ther)

    def in_episode(day: dt.date | None) -> TypeGuard[dt.date]:
        return ctx.known(day) and (episode_start is None or day >= episode_start)

    points: list[RecistPd] = _recist(_dated_sums(rec, in_episode), therapy_start, ctx.th)["points"]
    exposures = [t for t in rec.therapies if t.start is None or t.start <= as_of]
    for window in _therapy_windows(rec, ctx, exposures):
        points += window["points"]
    unique: dict[tuple[dt.date, str], RecistPd] = {}
    for p in points:
        unique.setdefault((p.date, p.source), p)
    return sorted(unique.values(), key=lambda p: (p.date, p.source))


def _coded_pd(
    rec: cm.PatientRecord, keep: Callable[[dt.date | None], TypeGuard[dt.date]]
) -> tuple[list, list]:
    """Coded PD evidence (new lesion, RECIST PD, status worsened; §A4.5 "PD on its date") and
    coded non-PD days (SD/PR/CR, stable/improved) whose date passes ``keep``."""
    pd_events: list[tuple[dt.date, str, str]] = []
    non_pd: list[dt.date] = []
    for n in rec.new_lesions:
        if keep(n.date):
            pd_events.append((n.date, n.source, f"New lesion {n.date.isoformat()}"))
    for r in rec.recist_responses:
        if keep(r.date):
            if r.response == cm.RecistResponse.PD:
                pd_events.append((r.date, r.source, f"Coded RECIST PD {r.date.isoformat()}"))
            else:
                non_pd.append(r.date)
    for d in rec.disease_statuses:
        if keep(d.date):
            if d.status == cm.DiseaseStatus.WORSENED:
                pd_events.append(
                    (d.date, d.source, f"Disease status worsened {d.date.isoformat()}")
                )
            elif d.status in (cm.DiseaseStatus.STABLE, cm.DiseaseStatus.IMPROVED):
                non_pd.append(d.date)
    return pd_events, non_pd


def _undated_pd(rec: cm.PatientRecord) -> list[str]:
    """Sources of PD evidence without a date: it cannot be placed in the episode, so it may be
    recent PD; it never lets progression read NO_PD (§A4.5 "with no PD evidence")."""
    return (
        [n.source for n in rec.new_lesions if n.date is None]
        + [
            r.source
            for r in rec.recist_responses
            if r.date is None and r.response == cm.RecistResponse.PD
        ]
        + [
            d.source
            for d in rec.disease_statuses
            if d.date is None and d.status == cm.DiseaseStatus.WORSENED
        ]
    )


def _history_pd_events(rec: cm.PatientRecord, ctx: _Ctx, exposures: list) -> list:
    """Every dated PD up to the evaluation date, whatever the monitoring episode, for the
    therapy history (G1 "PD on or after a VEGFR TKI", "progressed on this drug"): coded PD
    evidence on any date, plus RECIST PD computed within each therapy's own window with the
    nadir from its start (C1b). Episode boundaries (§A4.5) limit comparators for the current
    progression category, not what the patient is known to have progressed on."""
    events = _coded_pd(rec, ctx.known)[0]
    for window in _therapy_windows(rec, ctx, exposures):
        events += window["pd"]
    return sorted(set(events))


def _progression(
    rec: cm.PatientRecord, ctx: _Ctx, episode_start: dt.date | None, therapy_start: dt.date | None
) -> tuple[dict, list]:
    """RECIST 1.1 (C1, C1a-c) and the progression category (C2, C3, §A4.5)."""
    th = ctx.th

    def in_episode(day: dt.date | None) -> TypeGuard[dt.date]:
        return ctx.known(day) and (episode_start is None or day >= episode_start)

    for group in (rec.lesion_sums, rec.new_lesions, rec.recist_responses, rec.disease_statuses):
        for item in group:
            if item.date is None:
                ctx.note(f"date of {item.source} ({_PD_TEXT})")
            elif item.date > ctx.as_of:
                ctx.note(f"{item.source} is dated {item.date} (after the evaluation date; ignored)")
    undated_pd = _undated_pd(rec)
    sums = _dated_sums(rec, in_episode)
    r = _recist(sums, therapy_start, th)
    coded, coded_non_pd = _coded_pd(rec, in_episode)
    pd_events: list[tuple[dt.date, str, str]] = r["pd"] + coded
    non_pd_days: list[dt.date] = r["non_pd"] + coded_non_pd
    near_miss = r["near_miss"]
    comparisons = r["comparisons"]
    lines = r["lines"]
    pd_events.sort()
    fact: dict[str, Any] = {
        "type": "progression",
        "pd": bool(pd_events),
        "near_miss": near_miss,
        "comparisons": comparisons,
        "on_therapy": therapy_start is not None,
        "episode_known": episode_start is not None,
    }
    recent_cut = add_months(ctx.as_of, -th.recent_pd_months)
    if pd_events:
        last = pd_events[-1][0]
        fact.update(
            first_pd_days_ago=ctx.days_ago(pd_events[0][0]), last_pd_days_ago=ctx.days_ago(last)
        )
        if last >= recent_cut:
            value = "RECENT_PD"
        elif not undated_pd and any(day > last and day >= recent_cut for day in non_pd_days):
            # C3 needs "no newer imaging". Newer imaging without PD counts only when it is itself
            # recent (safer reading: stale "stable" imaging cannot vouch for the last 14 months).
            value = "NO_PD"
        else:
            value = "PD_NOT_RECENT"
        fact["ref"] = [p[1] for p in pd_events]
        lines += [p[2] for p in pd_events if not p[2].startswith("RECIST PD")]
    elif (comparisons or non_pd_days) and not undated_pd:
        value = "NO_PD"
        fact["ref"] = [s.source for s in sums]
    else:
        value = "UNKNOWN"
        fact["ref"] = [s.source for s in sums] + undated_pd
    if undated_pd:
        lines.append("undated PD evidence (" + ", ".join(undated_pd) + ") cannot be placed")
    start = f" since {episode_start.isoformat()}" if episode_start else ""
    nadir_rule = (
        "nadir on the current therapy since " + therapy_start.isoformat()
        if therapy_start
        else "nadir within the monitoring episode" + start
    )
    fact["value"] = value
    fact["label"] = f"Progression {value} ({nadir_rule}; {comparisons} comparison(s))" + (
        ": " + "; ".join(lines) if lines else ""
    )
    return fact, pd_events
