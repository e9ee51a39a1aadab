"""Shared pieces of the thyroid fact mapper (``plugin.thyroid.facts.builder``): the DESIGN
thresholds, the drug table, date and activity helpers, and the per-call context.

Split out of ``to_facts.py`` along concept boundaries; see that module for the conventions.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any, TypeGuard

import yaml

from plugin.thyroid.clinical_model import MBQ_PER_MCI, activity_text
from plugin.thyroid.knowledge.loader import default_folder

MCI_MBQ = MBQ_PER_MCI  # B0.3 (the name ``to_facts`` exports)


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
    """The thresholds file (default: the knowledge folder's ``thresholds.yaml``), then overrides.

    The file is read once per path; overrides are applied to a copy.

    :raises KeyError: if the file lacks a threshold or an override names an unknown one.
    """
    base = _read_thresholds(Path(path or default_folder() / "thresholds.yaml").resolve())
    return base.overridden(overrides) if overrides else base


@cache
def _read_thresholds(path: Path) -> Thresholds:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    values = dict(data["thresholds"])
    values["version"] = str(data["version"])
    return Thresholds(**values)


def load_therapies(path: Path | None = None) -> dict[str, Any]:
    """The drug table (default: the knowledge folder's ``therapies.yaml``; read once per path)."""
    return _read_therapies(Path(path or default_folder() / "therapies.yaml").resolve())


@cache
def _read_therapies(path: Path) -> dict[str, Any]:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


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
    return activity_text(mbq)


def day_text(day: dt.date | None) -> str:
    """``day`` in ISO form, or ``"undated"``."""
    return day.isoformat() if day else "undated"


def decimal_of(x: float) -> Decimal:
    """``x`` as an exact decimal of its shortest repr (RECIST arithmetic)."""
    return Decimal(str(x))


class FactContext:
    """What every fact builder needs: the day, the thresholds, the drug table (``therapies``, the
    parsed ``therapies.yaml``; ``drugs`` its drug entries) and the missing-data notes."""

    def __init__(
        self, as_of: dt.date, th: Thresholds, therapies: Mapping[str, Any] | None = None
    ) -> None:
        self.as_of = as_of
        self.th = th
        self.therapies: Mapping[str, Any] = load_therapies() if therapies is None else therapies
        self.drugs: Mapping[str, Any] = self.therapies["drugs"]
        self.missing: list[str] = []

    def days_ago(self, day: dt.date) -> int:
        return (self.as_of - day).days

    def known(self, day: dt.date | None) -> TypeGuard[dt.date]:
        """Dated on or before the evaluation date."""
        return day is not None and day <= self.as_of

    def note(self, what: str) -> None:
        if what not in self.missing:
            self.missing.append(what)


def latest_on(items: Iterable[Any], as_of: dt.date) -> Any:
    """The latest item dated on or before ``as_of`` (undated and later items are not "latest"):
    the reading the safety rules use (blood pressure, QTc, potassium, pregnancy, lactation)."""
    dated = [i for i in items if i.date is not None and i.date <= as_of]
    return max(dated, key=lambda i: i.date) if dated else None


def within_days(day: dt.date, as_of: dt.date, days: int) -> bool:
    """``day`` is on or before ``as_of`` and at most ``days`` days before it."""
    return 0 <= (as_of - day).days <= days
