"""Radioiodine whole-body scans: kind, validity (A3) and the latest evaluable scan (B1-B3, A5)."""

from __future__ import annotations

from typing import Any

from plugin.thyroid import clinical_model as cm
from plugin.thyroid.facts.common import FactContext
from plugin.thyroid.facts.derivation import ScanReading


def scan_facts(
    rec: cm.PatientRecord, ctx: FactContext, dated_ther: list, readings: tuple[ScanReading, ...]
) -> tuple[list[dict], dict, list]:
    """The scan facts; ``readings`` are the derivation's (kind and the dose each scan follows)."""
    th = ctx.th
    first_ther = dated_ther[0].date if dated_ther else None
    last_ther = dated_ther[-1].date if dated_ther else None
    contrast = [e.date for e in rec.iodine_exposures if ctx.known(e.date)]
    # A3 (safer reading): iodinated contrast of unknown date may fall inside the window, so it
    # makes every negative or partial scan uninterpretable until it is dated (W-IODINE).
    undated_contrast = [e for e in rec.iodine_exposures if e.date is None]
    for e in undated_contrast:
        ctx.note(f"date of iodinated contrast {e.source} (A3)")
    infos: list[dict[str, Any]] = []
    undated = []
    for reading in readings:
        s = reading.scan
        if s.date is None:
            undated.append(s)
            continue
        if s.date > ctx.as_of:
            ctx.note(
                f"radioiodine scan {s.source} is dated {s.date} (after the evaluation date;"
                " ignored)"
            )
            continue
        kind, dose = reading.kind, reading.dose
        ref_day = dose.date if dose is not None and dose.date is not None else s.date
        # A3: contrast within 8 weeks before the dose the scan follows (the scan date when the
        # dose is not recorded).
        iodine = any(0 <= (ref_day - c).days <= th.iodine_window_days for c in contrast)
        iodine_text = "; iodinated contrast within 8 weeks before the dose" if iodine else ""
        if undated_contrast and not iodine:
            iodine, iodine_text = True, "; iodinated contrast of unknown date on file"
        tsh_low = s.tsh_miu_per_l is not None and s.tsh_miu_per_l <= th.tsh_min_miu_per_l
        negative = s.uptake.value in ("none", "some")
        valid = not (negative and (iodine or tsh_low))
        after = first_ther is not None and s.date > first_ther
        tsh = (
            f"TSH {s.tsh_miu_per_l:g} mIU/L" if s.tsh_miu_per_l is not None else "TSH not recorded"
        )
        label = (
            f"{kind} radioiodine scan {s.date.isoformat()}: uptake {s.uptake.value}"
            f" ({tsh}{iodine_text if negative else ''})"
        )
        infos.append(
            dict(
                scan=s,
                kind=kind,
                valid=valid,
                iodine=iodine and negative,
                tsh_low=tsh_low and negative,
                after=after,
                after_last=last_ther is not None and s.date > last_ther,
                label=label,
                dose=dose,
                has_tsh=s.tsh_miu_per_l is not None,
            )
        )
    infos.sort(key=lambda i: i["scan"].date)
    known = [i for i in infos if i["after"] and i["scan"].uptake != cm.Uptake.UNKNOWN]
    latest = known[-1] if known else None
    # Contradictory scan reports never decide a criterion (A5, safer): reports of the same day
    # with different uptake, or an undated report whose uptake differs from the latest dated
    # one (it may be the newer scan). No scan is then "latest"; the status is NOT_ESTABLISHED
    # unless JS-iv/JS-v decide it, and missingData asks to reconcile them.
    conflict = ""
    if latest is not None:
        same_day = [i for i in known if i["scan"].date == latest["scan"].date]
        patterns = sorted({i["scan"].uptake.value for i in same_day})
        if len(patterns) > 1:
            for i in same_day:
                i["conflict"] = True
            conflict = (
                f"reconcile the radioiodine scan reports of {latest['scan'].date.isoformat()}"
                f" (uptake {' vs '.join(patterns)}: "
                + ", ".join(i["scan"].source for i in same_day)
                + ")"
            )
        else:
            odd = [u for u in undated if u.uptake not in (cm.Uptake.UNKNOWN, latest["scan"].uptake)]
            if odd:
                conflict = (
                    f"date of radioiodine scan {odd[0].source} (uptake {odd[0].uptake.value},"
                    f" unlike the latest dated scan's {latest['scan'].uptake.value})"
                )
    if conflict:
        latest = None
    for u in undated:
        if u.source not in conflict:
            ctx.note(f"date of radioiodine scan {u.source}")
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
                "after_last_therapy": i["after_last"],
                "latest": i is latest,
                "ref": s.source,
                "label": i["label"],
            }
        )
    status: dict[str, Any] = {"type": "scan_status", "evaluable": False}
    missing = ""
    if conflict:
        missing = conflict
    elif latest is None:
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
