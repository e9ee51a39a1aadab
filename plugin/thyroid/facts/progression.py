"""Progression: RECIST 1.1 from lesion sums with the nadir rules (C1, C1a-c), the monitoring
episode (§A4.5) and the PD evidence, computed once by :func:`monitoring` for the derivation;
:func:`progression_fact` translates it into the ``progression`` fact (C2, C3).

The derivation's ``monitoring.recist_pd`` is what the demo's record summary marks as RECIST PD.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple, TypeGuard

from plugin.thyroid import clinical_model as cm
from plugin.thyroid.facts.common import (
    FactContext,
    Thresholds,
    add_months,
    decimal_of,
    load_thresholds,
)
from plugin.thyroid.facts.history import current_therapy_start, exposures_on
from plugin.thyroid.facts.rai import RaiActivity

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


class PdEvent(NamedTuple):
    """One dated piece of PD evidence: a RECIST PD sum, a new lesion, a coded RECIST PD or a
    worsened disease status (§A4.5 "PD on its date"); ``text`` is its evidence line."""

    date: dt.date
    source: str
    text: str


@dataclass(frozen=True, slots=True)
class Monitoring:
    """The monitoring episode and its progression evidence (C1, C1a-c, C2, C3, §A4.5).

    ``episode_start`` is the last therapeutic RAI or local therapy, whichever is later;
    ``therapy_start`` the current systemic therapy's start when the nadir restarts there (C1b),
    None when the episode starts later (C1c) or no therapy is current. ``sums`` are the
    episode's dated lesion sums; ``pd_events`` its PD evidence and ``non_pd_days`` its days
    without PD, ``comparisons`` the RECIST comparisons made, ``near_miss`` a rise that met one
    RECIST criterion only, ``recist_lines`` the RECIST evidence lines. ``undated_pd`` are the
    sources of PD evidence without a date. ``history_pd`` is every dated PD the therapy history
    counts (the episode's, coded PD of any date, RECIST PD within each therapy's window, G1);
    ``recist_pd`` every RECIST PD point (the episode's and the windows', one per sum).
    """

    episode_start: dt.date | None
    therapy_start: dt.date | None
    sums: tuple[cm.LesionSum, ...]
    pd_events: tuple[PdEvent, ...]
    non_pd_days: tuple[dt.date, ...]
    comparisons: int
    near_miss: bool
    recist_lines: tuple[str, ...]
    undated_pd: tuple[str, ...]
    history_pd: tuple[PdEvent, ...]
    recist_pd: tuple[RecistPd, ...]


def _pd_checks(nadir_mm: float, sum_mm: float, th: Thresholds) -> tuple[bool, bool]:
    """(up >= the PD percentage, up >= the PD millimetres) over the nadir, in exact decimals."""
    nadir, value = decimal_of(nadir_mm), decimal_of(sum_mm)
    return (
        value * 100 >= nadir * (100 + decimal_of(th.recist_pd_percent)),
        value - nadir >= decimal_of(th.recist_pd_mm),
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
    pct = decimal_of(th.recist_pd_percent)
    mm = decimal_of(th.recist_pd_mm)
    for s in sums:
        assert s.date is not None  # callers pass sums filtered to known dates
        if not reset_done and therapy_start is not None and s.date >= therapy_start:
            nadir, reset_done = None, True  # C1b: the nadir restarts at the current therapy
        if nadir is not None:
            assert nadir.date is not None
            out["comparisons"] += 1
            rise = decimal_of(s.sum_mm) - decimal_of(nadir.sum_mm)
            pct_ok, mm_ok = _pd_checks(nadir.sum_mm, s.sum_mm, th)
            change = (
                f"{s.date.isoformat()} sum {s.sum_mm:g} mm vs nadir {decimal_of(nadir.sum_mm)} mm"
                f" ({nadir.date.isoformat()})"
            )
            if pct_ok and mm_ok:
                out["pd"].append(PdEvent(s.date, s.source, f"RECIST PD: {change}"))
                out["lines"].append(f"RECIST PD: {change}")
                out["points"].append(
                    RecistPd(s.date, s.source, s.sum_mm, nadir.sum_mm, nadir.date, nadir.source)
                )
            else:
                if rise > 0 and (pct_ok or mm_ok):
                    out["near_miss"] = True
                    out["lines"].append(f"Not PD (C1a: needs +{pct}% and +{mm} mm): {change}")
                out["non_pd"].append(s.date)
        if nadir is None or decimal_of(s.sum_mm) < decimal_of(nadir.sum_mm):
            nadir = s
    return out


def _dated_sums(
    rec: cm.PatientRecord, keep: Callable[[dt.date | None], TypeGuard[dt.date]]
) -> list[cm.LesionSum]:
    """The lesion sums whose date passes ``keep``, in date order."""
    return sorted((s for s in rec.lesion_sums if keep(s.date)), key=lambda s: s.date or dt.date.min)


def _therapy_windows(
    rec: cm.PatientRecord,
    known: Callable[[dt.date | None], TypeGuard[dt.date]],
    th: Thresholds,
    exposures: list[cm.TherapyExposure],
) -> list[dict[str, Any]]:
    """RECIST within each therapy's own window (start..end), nadir from its start (C1b)."""
    sums = _dated_sums(rec, known)
    return [
        _recist(
            [s for s in sums
             if s.date is not None and s.date >= t.start
             and (t.end is None or s.date <= t.end)],
            t.start,
            th,
        )
        for t in exposures
        if t.start is not None
    ]


def _coded_pd(
    rec: cm.PatientRecord, keep: Callable[[dt.date | None], TypeGuard[dt.date]]
) -> tuple[list[PdEvent], list[dt.date]]:
    """Coded PD evidence (new lesion, RECIST PD, status worsened; §A4.5 "PD on its date") and
    coded non-PD days (SD/PR/CR, stable/improved) whose date passes ``keep``."""
    pd_events: list[PdEvent] = []
    non_pd: list[dt.date] = []
    for n in rec.new_lesions:
        if keep(n.date):
            pd_events.append(PdEvent(n.date, n.source, f"New lesion {n.date.isoformat()}"))
    for r in rec.recist_responses:
        if keep(r.date):
            if r.response == cm.RecistResponse.PD:
                pd_events.append(PdEvent(r.date, r.source, f"Coded RECIST PD {r.date.isoformat()}"))
            else:
                non_pd.append(r.date)
    for d in rec.disease_statuses:
        if keep(d.date):
            if d.status == cm.DiseaseStatus.WORSENED:
                pd_events.append(
                    PdEvent(d.date, d.source, f"Disease status worsened {d.date.isoformat()}")
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


def progression_fact(m: Monitoring, rec: cm.PatientRecord, ctx: FactContext) -> dict:
    """The ``progression`` fact (C1, C1a-c, C2, C3, §A4.5) from the derivation's monitoring."""
    th = ctx.th
    for group in (rec.lesion_sums, rec.new_lesions, rec.recist_responses, rec.disease_statuses):
        for item in group:
            if item.date is None:
                ctx.note(f"date of {item.source} ({_PD_TEXT})")
            elif item.date > ctx.as_of:
                ctx.note(f"{item.source} is dated {item.date} (after the evaluation date; ignored)")
    undated_pd = list(m.undated_pd)
    sums = m.sums
    pd_events = m.pd_events
    non_pd_days = m.non_pd_days
    comparisons = m.comparisons
    lines = list(m.recist_lines)
    episode_start, therapy_start = m.episode_start, m.therapy_start
    fact: dict[str, Any] = {
        "type": "progression",
        "pd": bool(pd_events),
        "near_miss": m.near_miss,
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
        if value == "NO_PD":  # the newer imaging that outweighs the PD is the card's evidence too
            newer = max(day for day in non_pd_days if day > last)
            lines.append(f"no PD on newer imaging {newer.isoformat()}")
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
    return fact


def monitoring(
    rec: cm.PatientRecord, as_of: dt.date, th: Thresholds, rai: RaiActivity
) -> Monitoring:
    """The :class:`Monitoring` of ``rec`` as of ``as_of``; ``rai`` is the counted radioiodine."""

    def known(day: dt.date | None) -> TypeGuard[dt.date]:
        return day is not None and day <= as_of

    # §A4.5: the episode starts at the last therapeutic RAI or local therapy, whichever is later
    last_rai = max((a.date for a in rai.therapeutic if a.date is not None), default=None)
    starts = [d for d in [last_rai, *(lt.date for lt in rec.local_therapies)] if known(d)]
    episode_start = max(starts) if starts else None
    therapy_start = current_therapy_start(rec, as_of)
    if therapy_start is not None and episode_start is not None and therapy_start < episode_start:
        therapy_start = None  # the episode start is later: C1c applies

    def in_episode(day: dt.date | None) -> TypeGuard[dt.date]:
        return known(day) and (episode_start is None or day >= episode_start)

    sums = _dated_sums(rec, in_episode)
    r = _recist(sums, therapy_start, th)
    coded, coded_non_pd = _coded_pd(rec, in_episode)
    pd_events = sorted(r["pd"] + coded)
    # The history sees every dated PD, not only the episode's: a drug the patient progressed on
    # before a later RAI or local therapy still failed (G1, "progressed on this drug").
    windows = _therapy_windows(rec, known, th, exposures_on(rec, as_of))
    history = set(pd_events) | set(_coded_pd(rec, known)[0])
    points: list[RecistPd] = list(r["points"])
    for window in windows:
        history |= set(window["pd"])
        points += window["points"]
    unique: dict[tuple[dt.date, str], RecistPd] = {}
    for p in points:
        unique.setdefault((p.date, p.source), p)
    return Monitoring(
        episode_start=episode_start,
        therapy_start=therapy_start,
        sums=tuple(sums),
        pd_events=tuple(pd_events),
        non_pd_days=tuple(r["non_pd"] + coded_non_pd),
        comparisons=r["comparisons"],
        near_miss=r["near_miss"],
        recist_lines=tuple(r["lines"]),
        undated_pd=tuple(_undated_pd(rec)),
        history_pd=tuple(sorted(history)),
        recist_pd=tuple(sorted(unique.values(), key=lambda p: (p.date, p.source))),
    )
