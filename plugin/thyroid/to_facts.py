"""PatientRecord + evaluation date + thresholds -> flat facts for the thyroid rules.

This module does the arithmetic durable_rules can't (RULE-ENGINE.md §3.6-§3.7): dates become
integer day counts relative to the evaluation date (``days_ago``), activities are summed in
integer MBq, RECIST 1.1 is computed from lesion sums with the nadir rules of DOMAIN.md §A4.5,
scan validity (A3), the latest safety values, ages, and every negation the rules need is a
positive boolean here (durable's ``none()`` is order dependent). Facts hold only JSON scalars
or lists of strings; a value that is unknown is omitted (or flagged, e.g. ``has_age``), never
``None``. The fact vocabulary is documented in ``rules/README.md``.

Records dated after the evaluation date are ignored (the result must be reproducible with
``--as-of``), except planned surgery (W-WOUND).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from plugin.thyroid import clinical_model as cm

RULES_DIR = Path(__file__).resolve().parents[2] / "rules" / "thyroid"
MCI_MBQ = 37  # B0.3: 1 mCi = 37 MBq exactly

# §A3 histology precedence when diagnoses disagree: the most aggressive wins (safer).
_HISTOLOGY_ORDER = ("ATC", "MTC", "PDTC", "OTC", "FTC", "PTC")
_DTC = frozenset({"PTC", "FTC", "OTC"})  # A1
_FUSION_GENES = ("RET", "NTRK1", "NTRK2", "NTRK3", "ALK")
_REQUIRED_GENES = ("BRAF", *_FUSION_GENES)  # §A4.3
_RAS = frozenset({"HRAS", "KRAS", "NRAS"})
_NTRK = frozenset({"NTRK1", "NTRK2", "NTRK3"})
_STOPPED = frozenset({"stopped", "completed", "entered-in-error", "not-taken", "cancelled"})


@dataclass(frozen=True)
class Thresholds:
    """The DESIGN numbers of ``rules/thyroid/thresholds.yaml`` (see that file for each)."""

    version: str
    recent_pd_months: int
    iodine_window_days: int
    tsh_min_miu_per_l: float
    diagnostic_cut_mbq: int
    cumulative_threshold_mbq: int
    post_therapy_scan_min_days: int
    post_therapy_scan_max_days: int
    late_pd_months: int
    recist_pd_percent: float
    recist_pd_mm: float
    bp_systolic_uncontrolled: float
    bp_diastolic_uncontrolled: float
    qtc_ms_max: float
    potassium_min_mmol_per_l: float
    safety_window_days: int
    hemorrhage_window_months: int
    adult_age_years: int
    childbearing_age_min_years: int
    childbearing_age_max_years: int

    def overridden(self, overrides: Mapping[str, Any]) -> Thresholds:
        """Return a copy with ``overrides`` applied; unknown keys raise ``KeyError``."""
        names = {f.name for f in dataclasses.fields(self)}
        unknown = set(overrides) - names
        if unknown:
            raise KeyError(f"unknown threshold(s): {sorted(unknown)}")
        return dataclasses.replace(self, **dict(overrides))


def load_thresholds(
    path: Path | None = None, overrides: Mapping[str, Any] | None = None
) -> Thresholds:
    """Load the thresholds YAML (default ``rules/thyroid/thresholds.yaml``), then overrides.

    :raises KeyError: if the file lacks a threshold or an override names an unknown one.
    """
    data = yaml.safe_load((path or RULES_DIR / "thresholds.yaml").read_text(encoding="utf-8"))
    values = dict(data["thresholds"])
    values["version"] = str(data["version"])
    base = Thresholds(**values)
    return base.overridden(overrides) if overrides else base


@cache
def load_therapies(path: Path | None = None) -> dict[str, Any]:
    """The drug table (``rules/thyroid/therapies.yaml``)."""
    return yaml.safe_load((path or RULES_DIR / "therapies.yaml").read_text(encoding="utf-8"))


# --------------------------------------------------------------------------- helpers


def add_months(day: dt.date, months: int) -> dt.date:
    """``day`` plus ``months`` calendar months, clamped to the month's last day."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    month += 1
    for d in (day.day, 30, 29, 28):
        try:
            return dt.date(year, month, min(day.day, d))
        except ValueError:
            continue
    raise ValueError(day)  # pragma: no cover


def mbq_text(mbq: int) -> str:
    """``5550 MBq (150 mCi)``; mCi shown to one decimal when not whole."""
    mci = Decimal(mbq) / MCI_MBQ
    shown = f"{mci:.0f}" if mci == mci.to_integral_value() else f"{mci:.1f}"
    return f"{mbq} MBq ({shown} mCi)"


def _iso(day: dt.date | None) -> str:
    return day.isoformat() if day else "undated"


def _num(x: float) -> Decimal:
    return Decimal(str(x))


class _Ctx:
    """What every fact builder needs: the day, the thresholds and the missing-data notes."""

    def __init__(self, as_of: dt.date, th: Thresholds) -> None:
        self.as_of = as_of
        self.th = th
        self.missing: list[str] = []

    def days_ago(self, day: dt.date) -> int:
        return (self.as_of - day).days

    def known(self, day: dt.date | None) -> bool:
        """Dated on or before the evaluation date."""
        return day is not None and day <= self.as_of

    def note(self, what: str) -> None:
        if what not in self.missing:
            self.missing.append(what)


# --------------------------------------------------------------------------- builders


def _patient(rec: cm.PatientRecord, ctx: _Ctx, region: str) -> dict:
    fact: dict[str, Any] = {"type": "patient", "region": region, "has_age": False}
    if rec.patient_source:
        fact["ref"] = rec.patient_source
    age = rec.age_on(ctx.as_of)
    if age is not None and age >= 0:
        fact.update(has_age=True, age=age, adult=age >= ctx.th.adult_age_years)
        fact["label"] = f"Age {age} years on {ctx.as_of.isoformat()}"
    else:
        ctx.note("date of birth (age for label age limits)")
    fact["sex"] = rec.sex or "unknown"
    return fact


def _histology(rec: cm.PatientRecord, ctx: _Ctx) -> dict:
    found = [d for d in rec.diagnoses if d.histology is not None]
    fact: dict[str, Any] = {"type": "histology"}
    if not found:
        fact.update(value="UNKNOWN", dtc=False, known=False)
        ctx.note(
            "thyroid cancer histology (Condition with a histology code)"
            if rec.diagnoses
            else "thyroid cancer diagnosis with histology (Condition C73)"
        )
        fact["ref"] = [d.source for d in rec.diagnoses]
        fact["label"] = "No thyroid cancer histology in the record"
        return fact
    values = {d.histology.value for d in found}
    value = next(h for h in _HISTOLOGY_ORDER if h in values)
    fact.update(value=value, dtc=value in _DTC, known=True, conflict=len(values) > 1)
    fact["ref"] = [d.source for d in found]
    parts = [f"{d.histology.value} ({d.histology_evidence or d.source})" for d in found]
    fact["label"] = "Histology: " + ", ".join(parts)
    if len(values) > 1:
        fact["label"] += f"; conflicting classes, the most aggressive ({value}) is used"
    return fact


def _intent(adm: cm.RadioiodineAdministration, th: Thresholds) -> str:
    if adm.intent_coded and adm.intent != cm.RaiIntent.UNKNOWN:
        return adm.intent.value
    if adm.activity_mbq is not None:  # B0.3: inferred from the activity (DESIGN cut)
        return "diagnostic" if adm.activity_mbq < th.diagnostic_cut_mbq else "therapeutic"
    return adm.intent.value


def _rai(rec: cm.PatientRecord, ctx: _Ctx) -> tuple[dict, list[cm.RadioiodineAdministration]]:
    th = ctx.th
    admins = [a for a in rec.rai_administrations if a.date is None or a.date <= ctx.as_of]
    therapeutic = [a for a in admins if _intent(a, th) == "therapeutic"]
    unknown = [a for a in admins if _intent(a, th) == "unknown"]
    total = sum(a.activity_mbq or 0 for a in therapeutic)
    incomplete = any(a.activity_mbq is None for a in therapeutic)
    dated = sorted((a for a in therapeutic if a.date), key=lambda a: a.date)
    lines = [
        f"{_iso(a.date)} "
        + (mbq_text(a.activity_mbq) if a.activity_mbq is not None else "activity unknown")
        for a in sorted(therapeutic, key=lambda a: a.date or dt.date.min)
    ]
    fact: dict[str, Any] = {
        "type": "rai",
        "has_therapeutic": bool(therapeutic),
        "therapeutic_count": len(therapeutic),
        "has_unknown_intent": bool(unknown),
        "cumulative_mbq": total,
        "activity_complete": not incomplete,
        # §5 / B0.3: strictly greater, in whole MBq. A lower bound (unknown items) that already
        # exceeds the threshold still exceeds it; "equal" only when every item is known.
        "cumulative_over": total > th.cumulative_threshold_mbq,
        "cumulative_equal": total == th.cumulative_threshold_mbq and not incomplete,
        "ref": [a.source for a in therapeutic],
        "label": (
            f"Cumulative therapeutic I-131 {'at least ' if incomplete else ''}{mbq_text(total)}"
            f" from {len(therapeutic)} administration(s)"
            + (": " + "; ".join(lines) if lines else "")
        ),
    }
    if dated:
        fact["last_therapeutic_days_ago"] = ctx.days_ago(dated[-1].date)
    for a in therapeutic:
        if a.activity_mbq is None:
            ctx.note(f"activity (with unit) of the {_iso(a.date)} therapeutic RAI ({a.source})")
        if a.date is None:
            ctx.note(f"date of the therapeutic RAI administration {a.source}")
    for a in unknown:
        ctx.note(f"intent and activity of the {_iso(a.date)} RAI administration ({a.source})")
    return fact, dated


def _activity_conflict(rec: cm.PatientRecord, therapeutic: list, ctx: _Ctx) -> list[dict]:
    """A6: a summary that disagrees with the itemized sum, or has no usable unit."""
    out = []
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
                "label": f"Cumulative activity conflict ({_iso(s.date)}): {why};"
                " itemized administrations are used",
            }
        )
    # A6 also covers "a unit is missing" on an itemized administration (DOMAIN.md §A3: "a
    # unitless activity is never guessed (A6)"): the dose counts as unknown, never as a number.
    for a in rec.rai_administrations:
        if a.activity_mbq is None and (a.date is None or a.date <= ctx.as_of):
            out.append(
                {
                    "type": "activity_conflict",
                    "ref": a.source,
                    "label": f"RAI administration ({_iso(a.date)}) has no activity with a usable"
                    " unit: not guessed, the cumulative activity is a lower bound",
                }
            )
    return out


def _after_dose(
    scan: cm.RadioiodineScan, admins: list, th: Thresholds
) -> cm.RadioiodineAdministration | None:
    """The RAI dose the scan follows: the latest dated dose 0-14 days before the scan."""
    best = None
    for a in admins:
        if a.date and 0 <= (scan.date - a.date).days <= th.post_therapy_scan_max_days:
            if best is None or a.date > best.date:
                best = a
    return best


def _scans(rec: cm.PatientRecord, ctx: _Ctx, dated_ther: list) -> tuple[list[dict], dict, list]:
    th = ctx.th
    all_admins = [a for a in rec.rai_administrations if a.date and a.date <= ctx.as_of]
    first_ther = dated_ther[0].date if dated_ther else None
    last_ther = dated_ther[-1].date if dated_ther else None
    contrast = [e.date for e in rec.iodine_exposures if ctx.known(e.date)]
    for e in rec.iodine_exposures:
        if e.date is None:
            ctx.note(f"date of iodinated contrast {e.source} (A3)")
    infos = []
    for s in rec.scans:
        if s.date is None:
            ctx.note(f"date of radioiodine scan {s.source}")
            continue
        if s.date > ctx.as_of:
            continue
        kind = s.kind.value
        dose = _after_dose(s, all_admins, th)
        if kind == "unknown" and dose is not None and _intent(dose, th) == "therapeutic":
            gap = (s.date - dose.date).days
            if th.post_therapy_scan_min_days <= gap <= th.post_therapy_scan_max_days:
                kind = "post-therapy"
        ref_day = dose.date if dose is not None else s.date
        # A3: contrast within 8 weeks before the dose the scan follows (the scan date when the
        # dose is not recorded).
        iodine = any(0 <= (ref_day - c).days <= th.iodine_window_days for c in contrast)
        tsh_low = s.tsh_miu_per_l is not None and s.tsh_miu_per_l <= th.tsh_min_miu_per_l
        negative = s.uptake.value in ("none", "some")
        valid = not (negative and (iodine or tsh_low))
        after = first_ther is not None and s.date > first_ther
        tsh = (
            f"TSH {s.tsh_miu_per_l:g} mIU/L" if s.tsh_miu_per_l is not None else "TSH not recorded"
        )
        label = (
            f"{kind} radioiodine scan {s.date.isoformat()}: uptake {s.uptake.value}"
            f" ({tsh}{'; iodinated contrast within 8 weeks before the dose' if iodine else ''})"
        )
        infos.append(
            dict(
                scan=s,
                kind=kind,
                valid=valid,
                iodine=iodine and negative,
                tsh_low=tsh_low and negative,
                after=after,
                label=label,
                dose=dose,
                has_tsh=s.tsh_miu_per_l is not None,
            )
        )
    infos.sort(key=lambda i: i["scan"].date)
    known = [i for i in infos if i["after"] and i["scan"].uptake != cm.Uptake.UNKNOWN]
    latest = known[-1] if known else None
    newer_unknown = [
        i
        for i in infos
        if i["after"]
        and i["scan"].uptake == cm.Uptake.UNKNOWN
        and (latest is None or i["scan"].date > latest["scan"].date)
    ]
    facts = []
    for i in infos:
        s = i["scan"]
        facts.append(
            {
                "type": "scan",
                "kind": i["kind"],
                "uptake": s.uptake.value,
                "days_ago": ctx.days_ago(s.date),
                "valid": i["valid"],
                "tsh_low": i["tsh_low"],
                "iodine": i["iodine"],
                "has_tsh": i["has_tsh"],
                "after_therapy": i["after"],
                "latest": i is latest,
                "ref": s.source,
                "label": i["label"],
            }
        )
    status: dict[str, Any] = {"type": "scan_status", "evaluable": False}
    missing = ""
    if latest is None:
        missing = (
            "post-therapy whole-body scan after the last therapeutic RAI"
            if dated_ther
            else "radioiodine scan after a therapeutic RAI"
        )
    elif newer_unknown:
        missing = (
            f"uptake pattern of the {newer_unknown[-1]['scan'].date.isoformat()} radioiodine scan"
        )
    elif not latest["valid"]:
        missing = (
            "a valid radioiodine scan (TSH > 30 mIU/L, no iodinated contrast within"
            " 8 weeks before the dose)"
        )
    elif latest["kind"] == "unknown" and latest["scan"].uptake == cm.Uptake.NO_LESIONS:
        day = latest["scan"].date.isoformat()
        missing = f"kind (diagnostic or post-therapy) of the {day} radioiodine scan"
    elif last_ther is not None and latest["scan"].date <= last_ther:
        missing = "post-therapy whole-body scan after the last therapeutic RAI"
    else:
        status["evaluable"] = True
    if missing:
        status["missing"] = missing
    if latest is not None:
        status.update(
            latest_uptake=latest["scan"].uptake.value,
            ref=latest["scan"].source,
            label="Latest scan: " + latest["label"],
        )
        if (
            latest["scan"].uptake == cm.Uptake.NO_LESIONS
            and latest["valid"]
            and not latest["has_tsh"]
        ):
            # Spec: TSH is optional on a scan (§A3); say that it was not recorded.
            ctx.note(f"stimulated TSH for the {latest['scan'].date.isoformat()} radioiodine scan")
    return facts, status, infos


def _progression(
    rec: cm.PatientRecord, ctx: _Ctx, episode_start: dt.date | None, therapy_start: dt.date | None
) -> tuple[dict, list]:
    """RECIST 1.1 (C1, C1a-c) and the progression category (C2, C3, §A4.5)."""
    th = ctx.th

    def in_episode(day: dt.date | None) -> bool:
        return ctx.known(day) and (episode_start is None or day >= episode_start)

    for group in (rec.lesion_sums, rec.new_lesions, rec.recist_responses, rec.disease_statuses):
        for item in group:
            if item.date is None:
                ctx.note(f"date of {item.source} (progression evidence)")
    sums = sorted((s for s in rec.lesion_sums if in_episode(s.date)), key=lambda s: s.date)
    pd_events: list[tuple[dt.date, str, str]] = []
    non_pd_days: list[dt.date] = []
    near_miss = False
    comparisons = 0
    nadir = None
    nadir_src = None
    reset_done = therapy_start is None
    lines = []
    pct = _num(th.recist_pd_percent)
    mm = _num(th.recist_pd_mm)
    for s in sums:
        if not reset_done and s.date >= therapy_start:
            nadir, reset_done = None, True  # C1b: the nadir restarts at the current therapy
        value = _num(s.sum_mm)
        if nadir is not None:
            comparisons += 1
            rise = value - nadir
            pct_ok = value * 100 >= nadir * (100 + pct)
            mm_ok = rise >= mm
            change = f"{s.date.isoformat()} sum {s.sum_mm:g} mm vs nadir {nadir} mm ({nadir_src})"
            if pct_ok and mm_ok:
                pd_events.append((s.date, s.source, f"RECIST PD: {change}"))
                lines.append(f"RECIST PD: {change}")
            else:
                if rise > 0 and (pct_ok or mm_ok):
                    near_miss = True
                    lines.append(f"Not PD (C1a: needs +{pct}% and +{mm} mm): {change}")
                non_pd_days.append(s.date)
        if nadir is None or value < nadir:
            nadir, nadir_src = value, s.date.isoformat()
    for n in rec.new_lesions:
        if in_episode(n.date):
            pd_events.append((n.date, n.source, f"New lesion {n.date.isoformat()}"))
    for r in rec.recist_responses:
        if in_episode(r.date):
            if r.response == cm.RecistResponse.PD:
                pd_events.append((r.date, r.source, f"Coded RECIST PD {r.date.isoformat()}"))
            else:
                non_pd_days.append(r.date)
    for d in rec.disease_statuses:
        if in_episode(d.date):
            if d.status == cm.DiseaseStatus.WORSENED:
                pd_events.append(
                    (d.date, d.source, f"Disease status worsened {d.date.isoformat()}")
                )
            elif d.status in (cm.DiseaseStatus.STABLE, cm.DiseaseStatus.IMPROVED):
                non_pd_days.append(d.date)
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
        elif any(day > last and day >= recent_cut for day in non_pd_days):
            # C3 needs "no newer imaging". Newer imaging without PD counts only when it is itself
            # recent (safer reading: stale "stable" imaging cannot vouch for the last 14 months).
            value = "NO_PD"
        else:
            value = "PD_NOT_RECENT"
        fact["ref"] = [p[1] for p in pd_events]
        lines += [p[2] for p in pd_events if not p[2].startswith("RECIST PD")]
    elif comparisons or non_pd_days:
        value = "NO_PD"
        fact["ref"] = [s.source for s in sums]
    else:
        value = "UNKNOWN"
        fact["ref"] = [s.source for s in sums]
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


def _latest(items: list, ctx: _Ctx) -> Any:
    dated = [i for i in items if ctx.known(i.date)]
    return max(dated, key=lambda i: i.date) if dated else None


def _within(day: dt.date, ctx: _Ctx, days: int) -> bool:
    return 0 <= ctx.days_ago(day) <= days


def _clinical(rec: cm.PatientRecord, ctx: _Ctx, age: int | None) -> tuple[dict, list[dict]]:
    th = ctx.th
    out: dict[str, Any] = {"type": "clinical"}
    flags: list[dict] = []

    def flag(name: str, items: list, label: str) -> bool:
        last = _latest(items, ctx)
        on = bool(last and last.value) or any(i.active and i.value for i in items)
        if on:
            src = last.source if last and last.value else next(i.source for i in items if i.active)
            flags.append(
                {
                    "type": "flag",
                    "name": name,
                    "ref": src,
                    "label": f"{label} ({src}, {_iso(last.date) if last else 'active'})",
                }
            )
        return on

    out["symptomatic"] = flag("symptomatic", rec.symptomatic, "Symptomatic or threatening disease")
    out["oligoprogression"] = flag("oligoprogression", rec.oligoprogression, "Oligoprogression")
    out["airway_invasion"] = flag(
        "airway_invasion", rec.airway_invasion, "Tracheal, oesophageal or major-vessel invasion"
    )
    hem_cut = add_months(ctx.as_of, -th.hemorrhage_window_months)
    recent_hem = [
        h
        for h in rec.hemorrhage
        if h.value and (h.active or (ctx.known(h.date) and h.date >= hem_cut))
    ]
    out["recent_hemorrhage"] = bool(recent_hem)
    if recent_hem:
        flags.append(
            {
                "type": "flag",
                "name": "recent_hemorrhage",
                "ref": recent_hem[0].source,
                "label": f"Recent hemorrhage ({recent_hem[0].source}, {_iso(recent_hem[0].date)})",
            }
        )
    preg = _latest(rec.pregnancy, ctx)
    out["pregnant"] = bool(
        preg and preg.pregnant and _within(preg.date, ctx, th.safety_window_days)
    )
    # DESIGN (safer reading): a "pregnant" status older than the safety window is still a
    # potential pregnancy (non-blocking W-PREG) until a newer status says otherwise.
    out["pregnancy_stale"] = bool(preg and preg.pregnant and not out["pregnant"])
    lact = _latest(rec.lactation, ctx)
    out["lactating"] = bool(lact and lact.value and _within(lact.date, ctx, th.safety_window_days))
    if preg and preg.pregnant:
        flags.append(
            {
                "type": "flag",
                "name": "pregnancy",
                "ref": preg.source,
                "label": f"Pregnancy status: pregnant ({preg.source}, {preg.date.isoformat()})",
            }
        )
    if out["pregnancy_stale"]:
        ctx.note(f"current pregnancy status (last recorded as pregnant on {preg.date.isoformat()})")
    childbearing = (
        rec.sex in (None, "female", "unknown")
        and age is not None
        and th.childbearing_age_min_years <= age <= th.childbearing_age_max_years
    )
    out["pregnancy_status_needed"] = bool(
        childbearing and not (preg and _within(preg.date, ctx, th.safety_window_days))
    )
    return out, flags


def _safety(rec: cm.PatientRecord, ctx: _Ctx) -> dict:
    th = ctx.th
    win = th.safety_window_days
    out: dict[str, Any] = {"type": "safety"}
    bp = _latest(
        [b for b in rec.blood_pressures if b.systolic is not None or b.diastolic is not None], ctx
    )
    out["has_bp"] = bool(bp and _within(bp.date, ctx, win))
    out["bp_uncontrolled"] = bool(
        out["has_bp"]
        and (
            (bp.systolic is not None and bp.systolic >= th.bp_systolic_uncontrolled)
            or (bp.diastolic is not None and bp.diastolic >= th.bp_diastolic_uncontrolled)
        )
    )
    if bp:
        sys_, dia = (("?" if v is None else f"{v:g}") for v in (bp.systolic, bp.diastolic))
        out["bp_label"] = f"Blood pressure {sys_}/{dia} mmHg on {bp.date.isoformat()}"
        out["bp_ref"] = bp.source
    qtc = _latest(rec.qtc_ms, ctx)
    out["has_qtc"] = bool(qtc and _within(qtc.date, ctx, win))
    out["qtc_prolonged"] = bool(out["has_qtc"] and qtc.value > th.qtc_ms_max)
    k = _latest(rec.potassium, ctx)
    out["hypokalemia"] = bool(
        k and _within(k.date, ctx, win) and k.value < th.potassium_min_mmol_per_l
    )
    lqt = _latest(rec.congenital_long_qt, ctx)
    out["congenital_long_qt"] = bool(
        (lqt and lqt.value) or any(f.active and f.value for f in rec.congenital_long_qt)
    )
    out["qt_risk"] = out["qtc_prolonged"] or out["hypokalemia"] or out["congenital_long_qt"]
    parts = []
    if qtc:
        parts.append(f"QTc {qtc.value:g} ms on {qtc.date.isoformat()}")
    if k:
        parts.append(f"K {k.value:g} mmol/L on {k.date.isoformat()}")
    if out["congenital_long_qt"]:
        parts.append("congenital long QT")
    out["qt_label"] = "; ".join(parts) or "no QTc or potassium on file"
    out["ref"] = [x.source for x in (bp, qtc, k) if x is not None]
    return out


def _variant_label(v: cm.Variant) -> str:
    if v.description:
        text = v.description
    elif (v.alteration or "").lower() == "fusion" or v.kind == cm.VariantKind.FUSION:
        text = f"{v.partner}::{v.gene} fusion" if v.partner else f"{v.gene} fusion"
    else:
        text = f"{v.gene} {v.alteration or '(alteration not stated)'}"
    vaf = f", VAF {v.allele_fraction:g}" if v.allele_fraction is not None else ""
    return f"{text} ({v.source}{vaf})"


def _classify(v: cm.Variant) -> str:
    alt = (v.alteration or "").upper()
    if v.kind == cm.VariantKind.FUSION or alt == "FUSION":
        if v.gene == "RET":
            return "ret_fusion"
        if v.gene in _NTRK:
            return "ntrk_fusion"
        if v.gene == "ALK":
            return "alk_fusion"
        return "braf_other" if v.gene == "BRAF" else "other"
    if v.gene == "BRAF":
        return "braf_v600e" if alt == "V600E" else "braf_other"
    if v.gene == "RET":
        return "ret_point"
    if v.gene in _RAS:
        return "ras"
    if v.gene == "TERT":
        return "tert"
    if v.gene in _NTRK:
        return "ntrk_point"
    return "other"


def _molecular(rec: cm.PatientRecord, ctx: _Ctx) -> tuple[dict, list[dict]]:
    present = [v for v in rec.variants if v.present]
    classes = {}
    facts = []
    for v in present:
        klass = _classify(v)
        classes.setdefault(klass, []).append(v)
        kind = v.kind.value if v.kind != cm.VariantKind.OTHER else "snv"
        facts.append(
            {
                "type": "variant",
                "gene": v.gene,
                "alteration": v.alteration or "unknown",
                "kind": "fusion" if klass.endswith("_fusion") else kind,
                "klass": klass,
                "partner": v.partner or "",
                "ref": v.source,
                "label": _variant_label(v),
            }
        )
    # §A4.3 / §A4.4 / E4: which genes are tested, for point mutations and for fusions.
    point_tested = {g.gene for g in rec.genes_tested} | {v.gene for v in rec.variants}
    fusion_tested = {g.gene for g in rec.genes_tested if g.fusion_capable}
    fusion_tested |= {v.gene for v in rec.variants if not v.present and v.fusion_capable}
    dna_only_fusion_negative = sorted(
        {
            v.gene
            for v in rec.variants
            if not v.present and v.gene in _FUSION_GENES and not v.fusion_capable
        }
    )
    has = {
        k: bool(classes.get(k))
        for k in (
            "braf_v600e",
            "braf_other",
            "ret_fusion",
            "ret_point",
            "ntrk_fusion",
            "alk_fusion",
            "ras",
            "tert",
            "ntrk_point",
        )
    }
    # A Present fusion proves the assay detected fusions; a Present BRAF V600E counts only
    # from a fusion-capable assay (§A4.3, literal).
    actionable_capable = (
        has["ret_fusion"]
        or has["ntrk_fusion"]
        or has["alk_fusion"]
        or any(v.fusion_capable for v in classes.get("braf_v600e", []))
    )
    all_negative = all(g in point_tested for g in _REQUIRED_GENES) and all(
        g in fusion_tested for g in _FUSION_GENES
    )
    complete = actionable_capable or all_negative
    untested = [g for g in _REQUIRED_GENES if g not in point_tested]
    no_fusion = [g for g in _FUSION_GENES if g not in fusion_tested]
    needed = []
    if "BRAF" in untested:
        needed.append("BRAF V600E")
    if no_fusion:
        needed.append(
            "/".join(
                sorted(
                    {"RET" if g == "RET" else "NTRK" if g in _NTRK else "ALK" for g in no_fusion},
                    key=["RET", "NTRK", "ALK"].index,
                )
            )
            + " fusion status (fusion-capable assay)"
        )
    fact: dict[str, Any] = {
        "type": "molecular",
        "testing_complete": complete,
        **has,
        "targetable_fusion": has["ret_fusion"] or has["ntrk_fusion"] or has["alk_fusion"],
        "braf_tested": "BRAF" in point_tested,
        "ret_fusion_known": has["ret_fusion"] or "RET" in fusion_tested,
        "ntrk_fusion_known": has["ntrk_fusion"] or all(g in fusion_tested for g in _NTRK),
        "braf_known": "BRAF" in point_tested,
        "dna_only_no_fusion": bool(dna_only_fusion_negative) and not actionable_capable,
        "missing_tests": ", ".join(needed) if needed else "",
        "ref": sorted({v.source for v in rec.variants} | {g.source for g in rec.genes_tested}),
        "label": (
            "Molecular: "
            + (", ".join(f["label"] for f in facts) or "no alteration found")
            + ("; testing complete" if complete else f"; not yet tested: {', '.join(needed)}")
        ),
    }
    if fact["dna_only_no_fusion"]:
        fact["dna_label"] = (
            "DNA-only assay reported no fusion in "
            + ", ".join(dna_only_fusion_negative)
            + ": fusion status unknown (E4)"
        )
    return fact, facts


def _history(
    rec: cm.PatientRecord, ctx: _Ctx, pd_events: list, drugs: dict
) -> tuple[dict, dt.date | None]:
    exposures = [t for t in rec.therapies if t.start is None or t.start <= ctx.as_of]
    vegfr = [t for t in exposures if drugs.get(t.drug, {}).get("vegfr")]
    ntrk = [t for t in exposures if drugs.get(t.drug, {}).get("ntrk_inhibitor")]

    def active(t: cm.TherapyExposure) -> bool:
        return (
            t.start is not None
            and (t.end is None or t.end >= ctx.as_of)
            and (t.status or "active") not in _STOPPED
        )

    def progressed_on(t: cm.TherapyExposure) -> bool:
        """Stopped for progression, or PD dated while on it (start..end)."""
        if t.stop_reason == cm.StopReason.PROGRESSION:
            return True
        return t.start is not None and any(
            t.start <= day and (t.end is None or day <= t.end) for day, _, _ in pd_events
        )

    def progressed_following(t: cm.TherapyExposure) -> bool:
        """G1 "PD on or after": on it, or after it when the stop reason is not intolerance
        (PD after stopping for intolerance is G2's case, not a label-qualifying PD)."""
        if progressed_on(t):
            return True
        return (
            t.stop_reason is None
            and t.end is not None
            and any(day > t.end for day, _, _ in pd_events)
        )

    current = [t for t in exposures if active(t)]
    therapy_start = max((t.start for t in current), default=None)
    vegfr_pd = any(progressed_following(t) for t in vegfr)
    intolerant = any(t.stop_reason == cm.StopReason.INTOLERANCE for t in vegfr)
    on_vegfr = any(active(t) for t in vegfr)
    planned = [lt for lt in rec.local_therapies if lt.date and lt.date > ctx.as_of]
    lines = [
        f"{t.drug} {_iso(t.start)}–{_iso(t.end) if t.end else 'ongoing'}"
        + (f", stopped for {t.stop_reason.value}" if t.stop_reason else "")
        for t in exposures
    ]
    fact = {
        "type": "history",
        "prior_systemic": bool(exposures),
        "prior_vegfr": bool(vegfr),
        "vegfr_pd": vegfr_pd,
        "vegfr_intolerance_no_pd": intolerant and not vegfr_pd,
        "prior_ntrk_inhibitor": bool(ntrk),
        "on_systemic": bool(current),
        "surgery_planned_on_vegfr": bool(planned) and on_vegfr,
        "ref": [t.source for t in exposures],
        "label": "Systemic therapy: " + ("; ".join(lines) if lines else "none"),
    }
    progressed = {t.drug for t in exposures if progressed_on(t)}
    return fact | {"_progressed": sorted(progressed)}, therapy_start


def _age_below(rec: cm.PatientRecord, as_of: dt.date, min_age: Mapping | None) -> bool | None:
    if not min_age:
        return False
    if rec.birth_date is None:
        return None
    if "years" in min_age:
        return rec.age_on(as_of) < min_age["years"]
    limit = add_months(rec.birth_date, int(min_age["months_exclusive"]))
    return as_of <= limit  # must be OLDER than N months


def _drugs(rec: cm.PatientRecord, ctx: _Ctx, region: str, progressed: list) -> list[dict]:
    out = []
    for name, d in load_therapies()["drugs"].items():
        below = _age_below(rec, ctx.as_of, d.get("min_age"))
        reg = (d.get("regions") or {}).get(region)
        warns = set(d.get("warns") or ())
        out.append(
            {
                "type": "drug",
                "drug": name,
                "us_status": d["us_status"],
                "accelerated": d["us_status"] == "accelerated",
                "age_below_label": bool(below),
                "age_unknown": below is None,
                "age_reason": d.get("age_reason", ""),
                "vegfr": bool(d.get("vegfr")),
                "htn_warning": "htn" in warns,
                "htn_blocking": bool(d.get("htn_blocking")),
                "qt_warning": "qt" in warns,
                "bleed_warning": "bleed" in warns,
                "infection_warning": "infection" in warns,
                # H5: a region with no entry is "not verified", which is shown (safer).
                "region_differs": region != "US"
                and (reg is None or bool(reg.get("differs_from_us"))),
                "region_note": f"{region}: {reg['note']}"
                if reg
                else f"{region}: status not verified",
                "progressed_on": name in progressed,
            }
        )
    return out


def _tg(rec: cm.PatientRecord, ctx: _Ctx) -> list[dict]:
    out = []
    for name, series in (("Tg", rec.thyroglobulin), ("TgAb", rec.tg_antibodies)):
        dated = sorted((x for x in series if ctx.known(x.date)), key=lambda x: x.date)
        if len(dated) >= 2 and dated[-1].value > dated[-2].value:
            out.append(
                {
                    "type": "tg",
                    "rising": True,
                    "marker": name,
                    "ref": [dated[-2].source, dated[-1].source],
                    "label": f"{name} rising: {dated[-2].value:g} ({dated[-2].date.isoformat()})"
                    f" -> {dated[-1].value:g} ({dated[-1].date.isoformat()})",
                }
            )
    return out


def _structural(rec: cm.PatientRecord, ctx: _Ctx) -> dict:
    last = _latest(rec.structural_disease, ctx)
    absent = bool(last and not last.value)
    if absent:  # later structural evidence contradicts "no structural disease"
        later = [
            s for s in rec.lesion_sums if ctx.known(s.date) and s.date > last.date and s.sum_mm > 0
        ]
        later += [n for n in rec.new_lesions if ctx.known(n.date) and n.date > last.date]
        absent = not later
    fact: dict[str, Any] = {"type": "structural", "absent": absent}
    if last:
        fact.update(
            ref=last.source,
            label=f"Structural disease {'absent' if absent else 'present'}"
            f" ({last.source}, {_iso(last.date)})",
        )
    return fact


# --------------------------------------------------------------------------- entry point


def to_facts(
    record: cm.PatientRecord,
    as_of: dt.date,
    thresholds: Thresholds | None = None,
    *,
    region: str = "US",
) -> list[dict]:
    """Turn ``record`` into the flat facts of ``rules/README.md``, as of ``as_of``.

    The last fact has type ``missing_input`` per data gap found while mapping (its ``what`` is
    a short phrase for ``missingData``).
    """
    th = thresholds or load_thresholds()
    ctx = _Ctx(as_of, th)
    drugs_table = load_therapies()["drugs"]
    facts: list[dict] = []
    patient = _patient(record, ctx, region)
    facts.append(patient)
    facts.append(_histology(record, ctx))
    rai, dated_ther = _rai(record, ctx)
    facts.append(rai)
    facts += _activity_conflict(record, [a for a in dated_ther], ctx)
    scans, scan_status, infos = _scans(record, ctx, dated_ther)
    facts += scans
    facts.append(scan_status)

    local = [lt.date for lt in record.local_therapies if ctx.known(lt.date)]
    starts = [d for d in ([dated_ther[-1].date] if dated_ther else []) + local]
    episode_start = max(starts) if starts else None  # §A4.5
    # The current therapy (needs no PD events to be found).
    _, therapy_start = _history(record, ctx, [], drugs_table)
    if therapy_start is not None and episode_start is not None and therapy_start < episode_start:
        therapy_start = None  # the episode start is later: C1c applies
    prog, pd_events = _progression(record, ctx, episode_start, therapy_start)
    facts.append(prog)
    history, _ = _history(record, ctx, pd_events, drugs_table)
    progressed = history.pop("_progressed")
    facts.append(history)

    # B4 (JS-iv): the last therapeutic dose whose post-therapy scan showed uptake in all lesions.
    avid = [
        i
        for i in infos
        if i["kind"] == "post-therapy"
        and i["dose"] is not None
        and _intent(i["dose"], th) == "therapeutic"
        and i["scan"].uptake == cm.Uptake.ALL_LESIONS
    ]
    if avid:
        a = max(avid, key=lambda i: i["dose"].date)
        dose_day = a["dose"].date
        after = [p for p in pd_events if p[0] > dose_day]
        fact = {
            "type": "avid_rai",
            "pd_after": bool(after),
            "late": bool(after) and after[0][0] > add_months(dose_day, th.late_pd_months),
            "ref": [a["dose"].source, a["scan"].source] + [p[1] for p in after[:1]],
            "label": f"Therapeutic RAI {dose_day.isoformat()} with uptake in all lesions on the"
            f" post-therapy scan {a['scan'].date.isoformat()}"
            + (f"; PD after it on {after[0][0].isoformat()}" if after else ""),
        }
        facts.append(fact)

    clinical, flags = _clinical(record, ctx, patient.get("age"))
    facts.append(clinical)
    facts += flags
    facts.append(_safety(record, ctx))
    molecular, variants = _molecular(record, ctx)
    facts.append(molecular)
    facts += variants
    facts += _drugs(record, ctx, region, progressed)
    facts += _tg(record, ctx)
    facts.append(_structural(record, ctx))
    dq = [n for n in record.data_quality if n.missing]
    facts.append(
        {
            "type": "data_quality",
            "missing_count": len(dq),
            "ref": [n.source for n in dq],
            "label": "; ".join(f"{n.missing} ({n.source})" for n in dq) or "none",
        }
    )
    facts += [{"type": "missing_input", "what": w} for w in ctx.missing]
    return facts
