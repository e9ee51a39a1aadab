"""Systemic-therapy history as of the evaluation date (G1-G5, §A4.12), computed once.

One definition of "current therapy" and of "stopped for progression / intolerance", read by the
``history`` and ``drug`` facts (:mod:`plugin.thyroid.facts.therapy`), the progression's nadir
restart (C1b, :mod:`plugin.thyroid.facts.progression`), the order cards' continuation check
(:mod:`plugin.thyroid.orders.indication`) and the demo's record summary.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from plugin.thyroid import clinical_model as cm
from plugin.thyroid.facts.common import day_text

if TYPE_CHECKING:
    from plugin.thyroid.facts.progression import PdEvent

# A therapy with one of these statuses is over, whatever its dates (MedicationStatement and
# MedicationRequest statuses).
STOPPED_STATUS = frozenset({"stopped", "completed", "entered-in-error", "not-taken", "cancelled"})


def exposures_on(record: cm.PatientRecord, as_of: dt.date) -> list[cm.TherapyExposure]:
    """The therapies started on or before ``as_of`` (or of unknown start), in record order."""
    return [t for t in record.therapies if t.start is None or t.start <= as_of]


def is_current(t: cm.TherapyExposure, as_of: dt.date) -> bool:
    """The current-therapy definition: started on or before ``as_of``, not ended before it, and
    not of a stopped status (no status reads as active)."""
    return (
        t.start is not None
        and t.start <= as_of
        and (t.end is None or t.end >= as_of)
        and (t.status or "active") not in STOPPED_STATUS
    )


def current_therapy_start(record: cm.PatientRecord, as_of: dt.date) -> dt.date | None:
    """The start of the latest-started current therapy (C1b's nadir restart), or None."""
    return max((t.start for t in record.therapies if is_current(t, as_of) and t.start),
               default=None)


@dataclass(frozen=True, slots=True)
class ExposureReading:
    """One systemic-therapy exposure (started on or before the evaluation date) as read.

    ``progressed_on``: stopped for progression, or PD dated while on it (start..end).
    ``progressed_following``: G1 "PD on or after": on it, or after it whatever the stop reason
    (§A4.12: cabozantinib's "progressed following prior VEGFR-targeted therapy").
    ``stopped_for_intolerance``: the coded stop reason is intolerance.
    """

    exposure: cm.TherapyExposure
    current: bool
    vegfr: bool
    ntrk_inhibitor: bool
    progressed_on: bool
    progressed_following: bool
    stopped_for_intolerance: bool


@dataclass(frozen=True, slots=True)
class TherapyHistory:
    """The systemic-therapy history (G1-G5, §A4.12) as of the evaluation date.

    ``exposures`` in record order; ``current`` the current therapies (:func:`is_current`);
    ``therapy_start`` the latest start among them; ``progressed`` the drugs progressed on
    (sorted); ``intolerant`` the drugs stopped for intolerance and not progressed on, with the
    end date (ISO, or "undated"); ``planned_local`` local therapies dated after the evaluation
    date (W-WOUND).
    """

    exposures: tuple[ExposureReading, ...]
    current: tuple[cm.TherapyExposure, ...]
    therapy_start: dt.date | None
    vegfr_pd: bool
    vegfr_intolerance_no_pd: bool
    vegfr_pd_after_intolerance_only: bool
    braf_inhibitor_pd: bool
    on_vegfr: bool
    progressed: tuple[str, ...]
    intolerant: Mapping[str, str]
    planned_local: tuple[cm.LocalTherapy, ...]

    def reading(self, exposure: cm.TherapyExposure) -> ExposureReading | None:
        """The reading of ``exposure`` (None: started after the evaluation date)."""
        return next((r for r in self.exposures if r.exposure is exposure), None)


def therapy_history(
    record: cm.PatientRecord,
    as_of: dt.date,
    drugs: Mapping[str, Any],
    pd_events: Iterable[PdEvent],
) -> TherapyHistory:
    """The :class:`TherapyHistory` of ``record``; ``drugs`` is the drug table's ``drugs``,
    ``pd_events`` every dated PD the history counts (any episode)."""
    pd_days = sorted({p.date for p in pd_events})
    readings = tuple(_reading(t, as_of, drugs, pd_days) for t in exposures_on(record, as_of))
    vegfr = [r for r in readings if r.vegfr]
    vegfr_pd = any(r.progressed_following for r in vegfr)
    intolerant_vegfr = any(r.stopped_for_intolerance for r in vegfr)
    progressed = {r.exposure.drug for r in readings if r.progressed_on}
    current = tuple(r.exposure for r in readings if r.current)
    return TherapyHistory(
        exposures=readings,
        current=current,
        therapy_start=max((t.start for t in current if t.start is not None), default=None),
        vegfr_pd=vegfr_pd,
        vegfr_intolerance_no_pd=intolerant_vegfr and not vegfr_pd,
        # §A4.12: PD follows only MKIs stopped for intolerance (none failed on progression)
        vegfr_pd_after_intolerance_only=vegfr_pd and not any(
            r.progressed_following for r in vegfr if not r.stopped_for_intolerance),
        # §A4.12: COSMIC-311 excluded prior BRAF inhibitors (dabrafenib, alone or combined)
        braf_inhibitor_pd=any(r.progressed_on for r in readings
                              if "dabrafenib" in r.exposure.drug.split("+")),
        on_vegfr=any(r.current for r in vegfr),
        progressed=tuple(sorted(progressed)),
        # §A4.12: a drug stopped for intolerance (and not progressed on) is never preferred
        intolerant={r.exposure.drug: day_text(r.exposure.end) for r in readings
                    if r.stopped_for_intolerance and r.exposure.drug not in progressed},
        planned_local=tuple(lt for lt in record.local_therapies if lt.date and lt.date > as_of),
    )


def _reading(t: cm.TherapyExposure, as_of: dt.date, drugs: Mapping[str, Any],
             pd_days: Sequence[dt.date]) -> ExposureReading:
    entry = drugs.get(t.drug, {})
    on = t.stop_reason == cm.StopReason.PROGRESSION or (t.start is not None and any(
        t.start <= day and (t.end is None or day <= t.end) for day in pd_days))
    following = on or (t.end is not None and any(day > t.end for day in pd_days))
    return ExposureReading(
        exposure=t,
        current=is_current(t, as_of),
        vegfr=bool(entry.get("vegfr")),
        ntrk_inhibitor=bool(entry.get("ntrk_inhibitor")),
        progressed_on=on,
        progressed_following=following,
        stopped_for_intolerance=t.stop_reason == cm.StopReason.INTOLERANCE,
    )

