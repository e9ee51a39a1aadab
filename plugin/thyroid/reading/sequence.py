"""R4 ``MolecularSequence``: variants read at the §A3 hotspot coordinates only.

A MolecularSequence carries raw coordinates, not a gene. Each ``variant[]`` becomes a
:class:`~plugin.thyroid.reading.variants.GenomicAllele` (1-based); the ones at a hotspot of the §A3
table
become Present :class:`Variant` findings, the rest are counted in an informational note.
``coordinateSystem`` 0 is 0-based (interbase): an SNV or deletion at start ``s`` is at 1-based
position ``s + 1``; an insertion keeps its left flank ``s``, as the 1-based form writes it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from plugin.thyroid.clinical_model import PatientRecord, Variant
from plugin.thyroid.knowledge.codes import CodeLists, codings, concept_texts
from plugin.thyroid.reading.entries import Entry, ReadContext
from plugin.thyroid.reading.variants import GenomicAllele, hotspot_at, normalise_build

_GAP = {"", "-", "."}


def _reference(ref_seq: Mapping[str, Any], codes: CodeLists) -> tuple[str | None, str | None]:
    """(accession or chromosome, build) of ``referenceSeq``."""
    seq_id = next((c.get("code") for c in codings(ref_seq.get("referenceSeqId"))
                   if isinstance(c.get("code"), str) and c["code"].startswith("NC_")), None)
    build = normalise_build(ref_seq.get("genomeBuild"), codes)
    if seq_id:
        return seq_id.strip(), codes.accessions.get(seq_id.strip(), (build, None))[0]
    chromosome = next((c.get("code") for c in codings(ref_seq.get("chromosome"))), None)
    chromosome = chromosome or next(iter(concept_texts(ref_seq.get("chromosome"))), None)
    return chromosome, build


def sequence_alleles(resource: Mapping[str, Any], codes: CodeLists) -> list[GenomicAllele]:
    """The 1-based alleles of a MolecularSequence; [] when the coordinate system is unknown."""
    system = resource.get("coordinateSystem")
    if system not in (0, 1):
        return []
    ref_seq = rs if isinstance(rs := resource.get("referenceSeq"), Mapping) else {}
    seq, build = _reference(ref_seq, codes)
    alleles = []
    for var in resource.get("variant") or []:
        if not isinstance(var, Mapping) or not isinstance(var.get("start"), int):
            continue
        ref, alt = str(var.get("referenceAllele") or ""), str(var.get("observedAllele") or "")
        start = var["start"]
        position = start + 1 if system == 0 and ref not in _GAP else start
        accession = seq if seq and seq.startswith("NC_") else None
        chromosome = None if accession else (seq[3:] if seq and seq.lower().startswith("chr")
                                             else seq)
        alleles.append(GenomicAllele(position, "" if ref in _GAP else ref,
                                     "" if alt in _GAP else alt, accession, chromosome, build))
    return alleles


def read_sequence(entry: Entry, ctx: ReadContext, record: PatientRecord, codes: CodeLists) -> None:
    """Read a MolecularSequence into ``record.variants`` (hotspots only)."""
    res, src = entry.resource, entry.source
    if not res.get("variant"):
        return
    if res.get("coordinateSystem") not in (0, 1):
        ctx.note(src, "MolecularSequence without coordinateSystem 0 or 1; variants not read")
        return
    others = 0
    for allele in sequence_alleles(res, codes):
        hot = hotspot_at(allele, codes)
        if hot is None:
            others += 1
            continue
        record.variants.append(Variant(
            src, hot.gene, True, hot.kind, hot.alteration,
            description=f"{allele.accession or allele.chromosome}:{allele.position}"
                        f"{allele.ref}>{allele.alt}",
            date=ctx.date(res, src)))
    if others:
        ctx.note(src, f"{others} MolecularSequence variant(s) not at a recognised hotspot "
                 "coordinate; not used")
