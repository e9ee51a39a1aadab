"""Read FHIR R4 resources into a :class:`~plugin.thyroid.clinical_model.PatientRecord`.

The entry point of the reader (DECISIONS §D3). ``read_record`` flattens Bundles and Parameters,
validates each resource it reads with ``fhir.resources.R4B`` (a resource strict parsing rejects
is still read from its JSON, with a data-quality note), and hands each one to the module for its
concept: ``reading.medication`` (radioiodine, therapy, contrast, local therapy),
``reading.observations`` (scans, course, labs, flags, safety), ``reading.genomics`` and
``reading.sequence`` (variants). Patient and Condition are read here. Resources outside the
profile (a Practitioner, a Specimen) are ignored without a note.

The reader infers no clinical conclusion: a scan's kind comes from the record only (timing is
read by :mod:`plugin.thyroid.facts.derivation`). An administration without an intent category gets
the intent its activity suggests (``diagnostic_below_mbq``, default ``diagnostic_cut_mbq`` of
``rules/thyroid/thresholds.yaml``), marked as not coded; the rules decide again from the
activity (:func:`plugin.thyroid.facts.rai.intent_of`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from plugin.thyroid.clinical_model import (
    CancerDiagnosis,
    Histology,
    PatientRecord,
)
from plugin.thyroid.facts.common import load_thresholds
from plugin.thyroid.knowledge.codes import (
    CodeLists,
    codings,
    concept_texts,
    load_codes,
    normalise_system,
)
from plugin.thyroid.reading.entries import (
    Entry,
    ReadContext,
    flatten,
    parse_date,
    validation_problem,
)
from plugin.thyroid.reading.genomics import (
    assay_fusion_capable,
    is_variant_observation,
    read_region_studied,
    read_variant,
)
from plugin.thyroid.reading.medication import (
    activity_mbq,
    is_i131,
    read_medication,
    read_procedure,
    recognise_drug,
)
from plugin.thyroid.reading.observations import (
    has_read_code,
    read_condition_flag,
    read_observation,
    read_scan_report,
)
from plugin.thyroid.reading.sequence import read_sequence
from plugin.thyroid.reading.text import clean_entry

__all__ = ["read_record", "load_codes", "recognise_drug", "is_i131", "activity_mbq"]

_READ_TYPES = {"Patient", "Condition", "Observation", "DiagnosticReport", "Procedure",
               "MedicationAdministration", "MedicationStatement", "MedicationRequest",
               "MolecularSequence"}
_EXCLUDED = {"entered-in-error", "cancelled"}
_MEDICATION_TYPES = {"MedicationAdministration", "MedicationStatement", "MedicationRequest"}


def read_record(
    resources: Iterable[Mapping[str, Any]],
    *,
    codes: CodeLists | None = None,
    diagnostic_below_mbq: int | None = None,
) -> PatientRecord:
    """Read FHIR resource dicts (Bundles and Parameters are unpacked) into a record.

    Never raises on bad input: a resource that cannot be read becomes a data-quality note.
    """
    codes = codes or load_codes()
    if diagnostic_below_mbq is None:
        diagnostic_below_mbq = load_thresholds().diagnostic_cut_mbq
    ctx = ReadContext()
    record = PatientRecord()
    entries: list[Entry] = []
    readable: list[bool] = []
    for entry in flatten(_set_aside(resources, ctx, codes)):
        # One place, before any reader: no string the rule engine refuses gets further.
        entry = clean_entry(entry, ctx)
        entries.append(entry)
        readable.append(is_readable(entry.resource, codes))
    ctx.index(entries)
    for entry, read in zip(entries, readable, strict=True):
        rtype = entry.resource.get("resourceType")
        if rtype not in _READ_TYPES:
            if not rtype:
                ctx.note(entry.source, "resource without resourceType; ignored")
            continue
        if not read:
            continue  # no reader uses it: not validated either (issue 11: cost per call)
        problem = validation_problem(entry.resource)
        if problem:
            ctx.note(entry.source, f"strict R4B validation failed ({problem}); read tolerantly")
        try:
            _dispatch(entry, ctx, record, codes, diagnostic_below_mbq)
        except Exception as exc:  # noqa: BLE001 - one malformed resource must not stop the read
            ctx.note(entry.source, f"could not be read ({type(exc).__name__})",
                     f"content of {entry.source}")
    _propagate_assay(entries, ctx, record, codes)
    record.data_quality.extend(ctx.notes)
    return record


def _set_aside(resources: Iterable[Mapping[str, Any]], ctx: ReadContext,
               codes: CodeLists) -> Iterator[Mapping[str, Any]]:
    """``resources`` but the Observations no reader uses (a long record's routine labs), which
    go to ``ctx.aside``: kept only to resolve a reference to them, neither cleaned nor validated
    (issue 11: cost per call). Cleaning could not make one readable: it turns a refused
    character into U+FFFD, which no code list or profile holds."""
    for resource in resources:
        if (
            type(resource) is dict
            and resource.get("resourceType") == "Observation"
            and not is_readable(resource, codes)
        ):
            ctx.aside.append(resource)
        else:
            yield resource


def is_readable(res: Mapping[str, Any], codes: CodeLists) -> bool:
    """False for an Observation or DiagnosticReport that no reader can use (by its code, from
    ``rules/thyroid/codes.yaml``): e.g. a routine lab. Such resources are skipped unvalidated.

    Variant Observations recognised by profile or legacy extension count as readable.
    """
    rtype = res.get("resourceType")
    if rtype == "Observation":
        if has_read_code(res, codes):
            return True
        # without a read code, only a profile or a legacy extension makes it a variant
        return bool(res.get("meta") or res.get("extension")) and is_variant_observation(res, codes)
    if rtype == "DiagnosticReport":
        return codes.is_(res.get("code"), "rai_wbs")
    return True


def _dispatch(entry: Entry, ctx: ReadContext, record: PatientRecord, codes: CodeLists,
              threshold: int) -> None:
    res = entry.resource
    rtype = res["resourceType"]
    if rtype == "Patient":
        _patient(entry, ctx, record)
    elif rtype == "Condition":
        if not _diagnosis(entry, ctx, record, codes):
            read_condition_flag(entry, ctx, record, codes)
    elif rtype in ("Observation", "DiagnosticReport") and res.get("status") in _EXCLUDED:
        ctx.note(entry.source, f"{rtype} with status {res.get('status')} not counted")
    elif rtype == "Observation":
        if codes.is_(res.get("code"), "region_studied"):
            read_region_studied(entry, ctx, record, codes)
        elif is_variant_observation(res, codes):
            read_variant(entry, ctx, record, codes)
        else:
            read_observation(entry, ctx, record, codes)
    elif rtype == "DiagnosticReport":
        read_scan_report(entry, ctx, record, codes)
    elif rtype in _MEDICATION_TYPES:
        read_medication(entry, ctx, record, codes, threshold_mbq=threshold)
    elif rtype == "Procedure":
        read_procedure(entry, ctx, record, codes, threshold_mbq=threshold)
    elif rtype == "MolecularSequence":
        read_sequence(entry, ctx, record, codes)


def _patient(entry: Entry, ctx: ReadContext, record: PatientRecord) -> None:
    res, src = entry.resource, entry.source
    if record.patient_source is not None:
        if record.patient_source != src:
            ctx.note(src, "more than one Patient in the input; the first one is used")
        return
    record.patient_source = src
    record.sex = res.get("gender") if isinstance(res.get("gender"), str) else None
    record.birth_date = parse_date(res.get("birthDate"))
    if res.get("birthDate") and record.birth_date is None:
        ctx.note(src, "birth date is partial or invalid", "birth date")


def histology_of(condition: Mapping[str, Any], codes: CodeLists) -> tuple[Histology | None,
                                                                         str | None]:
    """(histology, evidence) of a Condition, in the §A3 order; (None, None) when none found."""
    histology_ext = [e.get("valueCodeableConcept") for e in condition.get("extension") or []
                     if isinstance(e, Mapping) and normalise_system(e.get("url"))
                     == codes.extensions["mcode_histology"]]
    concepts = [c for c in [*histology_ext, condition.get("code")] if isinstance(c, Mapping)]
    for concept in concepts:  # the mCODE extension first, then Condition.code
        for coding in codings(concept):
            alias, code = codes.alias(coding.get("system")), str(coding.get("code") or "").strip()
            if alias == "icdo3" and code in codes.histology_icdo3:
                return Histology(codes.histology_icdo3[code]), f"ICD-O-3 {code}"
            if alias == "snomed" and code in codes.histology_snomed:
                return Histology(codes.histology_snomed[code]), f"SNOMED {code}"
    texts = [t for c in concepts for t in concept_texts(c)]
    for histology, patterns in codes.histology_keywords:
        for text in texts:
            if any(p.search(text) for p in patterns):
                return Histology(histology), f"text: {text}"
    return None, None


def _diagnosis(entry: Entry, ctx: ReadContext, record: PatientRecord, codes: CodeLists) -> bool:
    res, src = entry.resource, entry.source
    if not codes.is_(res.get("code"), "thyroid_cancer"):
        return False
    verification = {c.get("code") for c in codings(res.get("verificationStatus"))}
    if verification & {"refuted", "entered-in-error"}:
        ctx.note(src, "thyroid-cancer Condition refuted or entered in error; not counted")
        return True
    histology, evidence = histology_of(res, codes)
    if histology is None:
        ctx.note(src, "thyroid cancer without a recognised histology", "histology")
    record.diagnoses.append(CancerDiagnosis(src, histology, ctx.date(res, src), evidence))
    return True


def _propagate_assay(entries: list[Entry], ctx: ReadContext, record: PatientRecord,
                     codes: CodeLists) -> None:
    """Give findings of a DiagnosticReport the fusion capability the report states.

    The capability comes from the report's own code or from a region-studied result in it;
    a finding that states its own method keeps it.
    """
    source_of = {id(e.resource): e.source for e in entries}
    tested = {g.source: g.fusion_capable for g in record.genes_tested}
    for entry in entries:
        report = entry.resource
        if report.get("resourceType") != "DiagnosticReport":
            continue
        members = set()
        for ref in report.get("result") or []:
            found = ctx.resolve(ref, report)
            if found is not None and id(found) in source_of:
                members.add(source_of[id(found)])
        states = {tested.get(m) for m in members} | {assay_fusion_capable(report, codes)}
        capable = True if True in states else (False if False in states else None)
        if capable is None:
            continue
        record.variants[:] = [
            dataclasses.replace(v, fusion_capable=capable)
            if v.source in members and v.fusion_capable is None else v for v in record.variants]
        record.genes_tested[:] = [
            dataclasses.replace(g, fusion_capable=capable)
            if g.source in members and g.fusion_capable is None else g
            for g in record.genes_tested]

