"""What the record says as of the evaluation date, computed once: the derivation.

The reader (:mod:`plugin.thyroid.reading.record`) only reads; it infers nothing. :func:`derive`
turns a
:class:`~plugin.thyroid.clinical_model.PatientRecord` and an evaluation date into one frozen
:class:`Derivation` that every consumer reads instead of computing its own copy:

* ``rai``: the radioiodine administrations as the rules count them, with the cumulative
  therapeutic activity (:func:`plugin.thyroid.facts.rai.rai_activity`: intent from the activity
  when not coded, a coded intent that contradicts the activity is unknown, a day recorded twice
  counts once, records dated after the evaluation date are not counted, "above" is strictly
  greater; docs/DECISIONS.md §K0.3, §K5);
* ``scans``: every radioiodine scan with its kind, a scan without a coded kind 2-14 days after a
  therapeutic dose being post-therapy (docs/DECISIONS.md §D3);
* ``testing``: which genes were tested, for point mutations and for fusions (§A4.3, E4:
  only a fusion-capable assay rules a fusion out);
* ``monitoring``: the monitoring episode (§A4.5) with its nadir restart (C1b, C1c), its PD
  evidence and every dated PD the therapy history counts
  (:func:`plugin.thyroid.facts.progression.monitoring`); ``recist_pd`` the lesion sums that are
  RECIST 1.1 progression over their nadir, episode and therapy windows included;
* ``history``: the systemic-therapy history, with the one definition of "current therapy" and of
  "stopped for progression / intolerance" (:func:`plugin.thyroid.facts.history.therapy_history`),
  read by the rules' facts and by the order cards' continuation check alike;
* ``safety``: age, the latest blood pressure, QTc, potassium, pregnancy and lactation status,
  recent hemorrhage and the clinical flags (:func:`plugin.thyroid.facts.safety.safety_values`).

The facts for the rules (:func:`plugin.thyroid.facts.builder.to_facts`), the patient-view cards, the
order cards and the demo's record summary all read the same object, so they cannot disagree.
Every number comes from the thresholds (``rules/thyroid/thresholds.yaml``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from plugin.thyroid import clinical_model as cm
from plugin.thyroid.facts.common import Thresholds, load_therapies, load_thresholds
from plugin.thyroid.facts.history import TherapyHistory, therapy_history
from plugin.thyroid.facts.progression import Monitoring, RecistPd, monitoring
from plugin.thyroid.facts.rai import RaiActivity, intent_of, rai_activity
from plugin.thyroid.facts.safety import SafetyValues, safety_values


@dataclass(frozen=True, slots=True)
class ScanReading:
    """One radioiodine scan with its kind as the rules read it.

    ``kind`` is ``"diagnostic"``, ``"post-therapy"`` or ``"unknown"``; ``inferred`` is True when
    the kind came from timing, not from the record. ``dose`` is the administration the scan
    follows (the latest dated one 0 to ``post_therapy_scan_max_days`` days before it, on or
    before the evaluation date), or None.
    """

    scan: cm.RadioiodineScan
    kind: str
    inferred: bool
    dose: cm.RadioiodineAdministration | None


@dataclass(frozen=True, slots=True)
class TestingState:
    """Which genes the record shows as tested (§A4.3, §A4.4, E4).

    ``point_tested``: genes with any finding or any tested-gene record (a pertinent negative
    counts). ``fusion_tested``: genes a fusion-capable assay tested, from a tested-gene record or
    a negative finding (a DNA-only panel leaves fusion status unknown).
    """

    point_tested: frozenset[str]
    fusion_tested: frozenset[str]


def testing_state(record: cm.PatientRecord) -> TestingState:
    """The :class:`TestingState` of ``record`` (the rules' and the order cards' reading)."""
    point = {g.gene for g in record.genes_tested} | {v.gene for v in record.variants}
    fusion = {g.gene for g in record.genes_tested if g.fusion_capable}
    fusion |= {v.gene for v in record.variants if not v.present and v.fusion_capable}
    return TestingState(frozenset(point), frozenset(fusion))


@dataclass(frozen=True)
class Derivation:
    """The record as of ``as_of`` under ``thresholds`` (see the module docstring)."""

    record: cm.PatientRecord
    as_of: dt.date
    thresholds: Thresholds
    rai: RaiActivity
    scans: tuple[ScanReading, ...]  # in the record's order
    testing: TestingState
    monitoring: Monitoring
    history: TherapyHistory
    safety: SafetyValues
    therapies: Mapping[str, Any]  # the drug table the history was read with

    @property
    def recist_pd(self) -> tuple[RecistPd, ...]:
        """Every RECIST 1.1 PD point the rules count, in date order."""
        return self.monitoring.recist_pd

    def current_therapies(self, drug: str | None = None) -> tuple[cm.TherapyExposure, ...]:
        """The current therapies (:func:`plugin.thyroid.facts.history.is_current`); with
        ``drug``, those sharing an ingredient with it (``dabrafenib+trametinib`` and
        ``trametinib``)."""
        if drug is None:
            return self.history.current
        wanted = set(drug.split("+"))
        return tuple(t for t in self.history.current if wanted & set(t.drug.split("+")))

    def scan_reading(self, scan: cm.RadioiodineScan) -> ScanReading:
        """The reading of ``scan`` (one of the record's scans)."""
        return next(r for r in self.scans if r.scan is scan)


def derive(
    record: cm.PatientRecord,
    as_of: dt.date,
    thresholds: Thresholds | None = None,
    therapies: Mapping[str, Any] | None = None,
) -> Derivation:
    """The derivation of ``record`` as of ``as_of``; ``thresholds`` and ``therapies`` (the drug
    table) default to the knowledge folder's."""
    th = thresholds or load_thresholds()
    table = load_therapies() if therapies is None else therapies
    admins = [a for a in record.rai_administrations if a.date and a.date <= as_of]
    rai = rai_activity(record, as_of, th)
    monitored = monitoring(record, as_of, th, rai)
    return Derivation(
        record=record,
        as_of=as_of,
        thresholds=th,
        rai=rai,
        scans=tuple(_scan_reading(s, admins, th) for s in record.scans),
        testing=testing_state(record),
        monitoring=monitored,
        history=therapy_history(record, as_of, table["drugs"], monitored.history_pd),
        safety=safety_values(record, as_of, th),
        therapies=table,
    )


def _scan_reading(
    scan: cm.RadioiodineScan, admins: list[cm.RadioiodineAdministration], th: Thresholds
) -> ScanReading:
    if scan.date is None:
        return ScanReading(scan, scan.kind.value, False, None)
    dose = None
    for a in admins:
        if a.date and 0 <= (scan.date - a.date).days <= th.post_therapy_scan_max_days:
            if dose is None or (dose.date is not None and a.date > dose.date):
                dose = a
    kind, inferred = scan.kind.value, False
    if scan.kind is cm.ScanKind.UNKNOWN and dose is not None and dose.date is not None:
        gap = (scan.date - dose.date).days
        if (
            intent_of(dose, th) == "therapeutic"
            and th.post_therapy_scan_min_days <= gap <= th.post_therapy_scan_max_days
        ):
            kind, inferred = cm.ScanKind.POST_THERAPY.value, True
    return ScanReading(scan, kind, inferred, dose)
