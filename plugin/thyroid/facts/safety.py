"""Clinical flags and safety values as of the evaluation date (H4, §2.9, §A4.8, §A4.11),
computed once.

The ``clinical``, ``flag`` and ``safety`` facts (:mod:`plugin.thyroid.facts.therapy`), the
patient-view and order cards and the demo's record summary read these values; none chooses its
own "latest" reading. A reading is the latest dated one on or before the evaluation date
(:func:`plugin.thyroid.facts.common.latest_on`); "recent" is within ``safety_window_days``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from plugin.thyroid import clinical_model as cm
from plugin.thyroid.facts.common import (
    Thresholds,
    add_months,
    day_text,
    latest_on,
    within_days,
)


@dataclass(frozen=True, slots=True)
class FlagReading:
    """A yes/no finding (symptomatic disease, airway invasion...) as the rules read it.

    ``on`` when the latest dated finding is true or an active one is; for a safety finding
    (``undated_counts``) an undated true finding also turns it on. ``source`` is the finding
    shown, ``when`` its date as shown (ISO, ``"active"`` or ``"undated"``), ``undated`` the true,
    not active findings without a date (each a missing date).
    """

    on: bool
    source: str | None
    when: str
    undated: tuple[cm.ClinicalFlag, ...]


@dataclass(frozen=True, slots=True)
class ClinicalFlags:
    """The clinical flags of the ``clinical`` fact."""

    symptomatic: FlagReading
    oligoprogression: FlagReading
    rai_ineligible: FlagReading  # §A4.14: a clinician judged RAI not appropriate
    airway_invasion: FlagReading


@dataclass(frozen=True, slots=True)
class SafetyValues:
    """The safety readings the drug warnings depend on (W-HTN, W-QT, W-BLEED, W-PREG).

    ``age`` is the age in whole years on the evaluation date (None: unknown or a birth date
    after it). Each reading is the latest dated one (None: none on file); the booleans are the
    rules' (recency window and thresholds included).
    """

    age: int | None
    blood_pressure: cm.BloodPressure | None
    bp_recent: bool
    bp_uncontrolled: bool
    qtc: cm.LabResult | None
    qtc_recent: bool
    qtc_prolonged: bool
    potassium: cm.LabResult | None
    hypokalemia: bool
    congenital_long_qt: bool
    pregnancy: cm.PregnancyStatus | None
    pregnancy_recent: bool  # a pregnancy status (either value) within the safety window
    pregnant: bool  # a recent "pregnant" status
    pregnancy_stale: bool  # "pregnant" older than the window, or undated and not superseded
    undated_pregnant: tuple[cm.PregnancyStatus, ...]
    lactation: cm.ClinicalFlag | None
    lactating: bool
    undated_lactation: tuple[cm.ClinicalFlag, ...]
    pregnancy_status_needed: bool  # §A4.11 rule 4: childbearing potential, no recent status
    recent_hemorrhage: tuple[cm.ClinicalFlag, ...]
    undated_hemorrhage: tuple[cm.ClinicalFlag, ...]
    flags: ClinicalFlags

    @property
    def qt_risk(self) -> bool:
        return self.qtc_prolonged or self.hypokalemia or self.congenital_long_qt


def safety_values(record: cm.PatientRecord, as_of: dt.date, th: Thresholds) -> SafetyValues:
    """The :class:`SafetyValues` of ``record`` as of ``as_of``."""
    win = th.safety_window_days
    age = record.age_on(as_of)
    age = age if age is not None and age >= 0 else None
    bp = latest_on([b for b in record.blood_pressures
                    if b.systolic is not None or b.diastolic is not None], as_of)
    bp_recent = bool(bp and within_days(bp.date, as_of, win))
    qtc = latest_on(record.qtc_ms, as_of)
    qtc_recent = bool(qtc and within_days(qtc.date, as_of, win))
    k = latest_on(record.potassium, as_of)
    lqt = latest_on(record.congenital_long_qt, as_of)
    preg = latest_on(record.pregnancy, as_of)
    pregnancy_recent = bool(preg and within_days(preg.date, as_of, win))
    pregnant = bool(preg and preg.pregnant and pregnancy_recent)
    # DESIGN (safer reading): a "pregnant" status older than the safety window, or without a
    # date, is still a potential pregnancy (non-blocking W-PREG) until a newer status says
    # otherwise.
    undated_preg = tuple(p for p in record.pregnancy if p.date is None and p.pregnant)
    lact = latest_on(record.lactation, as_of)
    undated_lact = tuple(x for x in record.lactation if x.date is None and x.value)
    # §A4.11 rule 4: a female aged 12-55 (DESIGN range) or of unknown age (sex unknown counts)
    childbearing = record.sex in (None, "female", "unknown") and (
        age is None or th.childbearing_age_min_years <= age <= th.childbearing_age_max_years)
    hem_cut = add_months(as_of, -th.hemorrhage_window_months)
    # §A4.8 / W-BLEED (safer reading): a hemorrhage of unknown date cannot be shown to be older
    # than the window, so it counts as recent (cabozantinib "do not administer") until dated.
    recent_hem = tuple(
        h for h in record.hemorrhage
        if h.value and (h.active or h.date is None or hem_cut <= h.date <= as_of))
    return SafetyValues(
        age=age,
        blood_pressure=bp,
        bp_recent=bp_recent,
        bp_uncontrolled=bool(bp_recent and bp and (
            (bp.systolic is not None and bp.systolic >= th.bp_systolic_uncontrolled)
            or (bp.diastolic is not None and bp.diastolic >= th.bp_diastolic_uncontrolled))),
        qtc=qtc,
        qtc_recent=qtc_recent,
        qtc_prolonged=bool(qtc_recent and qtc and qtc.value > th.qtc_ms_max),
        potassium=k,
        hypokalemia=bool(k and within_days(k.date, as_of, win)
                         and k.value < th.potassium_min_mmol_per_l),
        congenital_long_qt=bool((lqt and lqt.value)
                                or any(f.active and f.value for f in record.congenital_long_qt)),
        pregnancy=preg,
        pregnancy_recent=pregnancy_recent,
        pregnant=pregnant,
        pregnancy_stale=bool(preg and preg.pregnant and not pregnant)
        or (bool(undated_preg) and not pregnancy_recent),
        undated_pregnant=undated_preg,
        lactation=lact,
        lactating=bool((lact and lact.value and within_days(lact.date, as_of, win))
                       or (undated_lact and not lact)),
        undated_lactation=undated_lact,
        pregnancy_status_needed=bool(childbearing and not pregnancy_recent),
        recent_hemorrhage=recent_hem,
        undated_hemorrhage=tuple(h for h in record.hemorrhage
                                 if h.value and h.date is None and not h.active),
        flags=ClinicalFlags(
            symptomatic=flag_reading(record.symptomatic, as_of),
            oligoprogression=flag_reading(record.oligoprogression, as_of),
            rai_ineligible=flag_reading(record.rai_ineligible, as_of, undated_counts=True),
            airway_invasion=flag_reading(record.airway_invasion, as_of, undated_counts=True),
        ),
    )


def flag_reading(items: list[cm.ClinicalFlag], as_of: dt.date,
                 undated_counts: bool = False) -> FlagReading:
    """On when the latest dated finding is true or an active one is; with ``undated_counts``
    (a safety finding: airway or major-vessel invasion, RAI judged not appropriate) an undated
    true finding also counts, since it cannot be shown to be over."""
    last = latest_on(items, as_of)
    undated = tuple(i for i in items if i.date is None and i.value and not i.active)
    on = bool(last and last.value) or any(i.active and i.value for i in items)
    when = "active"
    if not on and undated_counts and undated:
        on, last, when = True, None, "undated"
    if not on:
        return FlagReading(False, None, "", undated)
    src = (last.source if last and last.value
           else next(i.source for i in items if (i.active or i.date is None) and i.value))
    return FlagReading(True, src, day_text(last.date) if last else when, undated)
