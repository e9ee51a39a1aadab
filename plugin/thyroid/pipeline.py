"""The pipeline the three thyroid services share: prefetch -> resources -> record -> assessment.

``flatten_prefetch`` unpacks the hook's prefetch into FHIR resources (Bundles opened, duplicates
dropped, an ``OperationOutcome`` turned into a data-quality note); :class:`Pipeline` reads them
into a :class:`~plugin.thyroid.clinical_model.PatientRecord` (:mod:`plugin.thyroid.reading`),
derives the evaluation's clinical numbers once (:mod:`plugin.thyroid.facts.derivation`) and
assesses the record with the rules (:mod:`plugin.thyroid.assessment.builder`). Patient-view,
order-select and order-sign call the same :meth:`Pipeline.evaluate`, so the three hooks give the
same assessment for the same record; each then renders its own cards.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from plugin.thyroid.assessment.builder import assess
from plugin.thyroid.assessment.model import Assessment
from plugin.thyroid.clinical_model import DataQualityNote, PatientRecord
from plugin.thyroid.facts.derivation import Derivation, derive
from plugin.thyroid.knowledge.loader import Knowledge
from plugin.thyroid.prefetch import unavailable_message
from plugin.thyroid.reading.record import read_record

#: record, evaluation date -> assessment (a replacement for the rules, in tests)
RecordAssessor = Callable[[PatientRecord, dt.date], Assessment]
#: resources -> record (a replacement for the reader, in tests)
Reader = Callable[[list[Mapping[str, Any]]], PatientRecord]


@dataclass(frozen=True)
class Evaluation:
    """One patient evaluated: the record read, its derivation and the assessment built on it."""

    record: PatientRecord
    derivation: Derivation
    assessment: Assessment


#: resources, evaluation date, extra data-quality notes, unavailable prefetch keys -> evaluation
Assessor = Callable[
    [list[Mapping[str, Any]], dt.date, Iterable[DataQualityNote], Iterable[str]], Evaluation
]


def flatten_prefetch(
    prefetch: Mapping[str, Any],
) -> tuple[list[Mapping[str, Any]], list[DataQualityNote]]:
    """Every resource in the prefetch, Bundles unpacked and duplicates (same Type/id) dropped.

    Searchset ``OperationOutcome`` entries (``search.mode`` ``outcome``) and an
    ``OperationOutcome`` in place of a resource become data-quality notes, not resources.
    """
    resources: list[Mapping[str, Any]] = []
    notes: list[DataQualityNote] = []
    seen: set[str] = set()
    for key, value in prefetch.items():
        _add(value, key, resources, notes, seen)
    return resources, notes


def _add(resource: Any, key: str, resources: list[Mapping[str, Any]],
         notes: list[DataQualityNote], seen: set[str]) -> None:
    # a module function, not a closure over ``resources``: a recursive closure is a reference
    # cycle, which kept a 10,000-resource record alive until the next full garbage collection
    if type(resource) is not dict and not isinstance(resource, Mapping):
        if resource is not None:
            notes.append(DataQualityNote(f"prefetch '{key}'", "entry is not a JSON object"))
        return
    rtype = resource.get("resourceType")
    if rtype == "Bundle":
        for entry in resource.get("entry") or []:
            if type(entry) is dict or isinstance(entry, Mapping):
                _add(entry.get("resource"), key, resources, notes, seen)
        return
    if rtype == "OperationOutcome":
        notes.append(_outcome_note(resource, key))
        return
    rid = resource.get("id")
    if rid:
        ident = rtype + "/" + rid if type(rid) is str and type(rtype) is str else f"{rtype}/{rid}"
        if ident in seen:
            return
        seen.add(ident)
    resources.append(resource)


def _outcome_note(outcome: Mapping[str, Any], key: str) -> DataQualityNote:
    # severity and code only: diagnostics and details text are free text that may echo the
    # patient's data (names, identifiers), and end up on a card
    texts = [
        "/".join(str(i.get(k)) for k in ("severity", "code")
                 if isinstance(v := i.get(k), str) and v.isascii()
                 and v.replace("-", "").isalpha())
        for i in outcome.get("issue") or [] if isinstance(i, Mapping)
    ]
    texts = [t for t in texts if t]
    return DataQualityNote(
        f"prefetch '{key}'",
        "the FHIR server returned an OperationOutcome ("
        + ("; ".join(dict.fromkeys(texts)) or "no issue code") + ")",
    )


class Pipeline:
    """Read, derive and assess with one :class:`Knowledge` (``reader``, ``assessor``: for tests)."""

    def __init__(
        self,
        knowledge: Knowledge,
        *,
        reader: Reader | None = None,
        assessor: RecordAssessor | None = None,
    ) -> None:
        self.knowledge = knowledge
        self._reader = reader
        self._assessor = assessor

    def evaluate(
        self,
        resources: list[Mapping[str, Any]],
        as_of: dt.date,
        extra_notes: Iterable[DataQualityNote] = (),
        unavailable: Iterable[str] = (),
    ) -> Evaluation:
        """The evaluation of ``resources`` as of ``as_of``.

        ``extra_notes`` (from :func:`flatten_prefetch`) join the record's data-quality notes;
        each ``unavailable`` prefetch key becomes a ``missingData`` line.
        """
        k = self.knowledge
        if self._reader is None:
            record = read_record(resources, codes=k.codes,
                                 diagnostic_below_mbq=k.thresholds.diagnostic_cut_mbq)
        else:
            record = self._reader(resources)
        record.data_quality.extend(extra_notes)
        derivation = derive(record, as_of, k.thresholds, k.therapies)
        if self._assessor is None:
            assessment = assess(record, as_of, knowledge=k, derivation=derivation)
        else:
            assessment = self._assessor(record, as_of)
        for line in unavailable_message(unavailable):
            if line not in assessment.missing_data:
                assessment.missing_data.append(line)
        return Evaluation(record, derivation, assessment)
