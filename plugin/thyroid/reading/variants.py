"""Genomic nomenclature: HGVS, SPDI, genomic coordinates, hotspots and fusion names.

Pure functions over strings and numbers; the FHIR side lives in ``reading.genomics``.

* Protein changes are returned in one-letter form without ``p.`` (``p.Val600Glu`` -> ``V600E``;
  ``NP_004324.2:p.(Val600Glu)`` -> ``V600E``).
* A :class:`GenomicAllele` position is always **1-based**. SPDI positions are 0-based and are
  converted here (``NC_000007.14:140753335:A:T`` -> position 140753336).
* Hotspots come from the table in ``codes.yaml`` (DECISIONS §D3), looked up by accession or
  chromosome plus build.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from plugin.thyroid.clinical_model import VariantKind
from plugin.thyroid.knowledge.codes import CodeLists

_AA3 = {
    "Ala": "A", "Arg": "R", "Asn": "N", "Asp": "D", "Cys": "C", "Gln": "Q", "Glu": "E",
    "Gly": "G", "His": "H", "Ile": "I", "Leu": "L", "Lys": "K", "Met": "M", "Phe": "F",
    "Pro": "P", "Ser": "S", "Thr": "T", "Trp": "W", "Tyr": "Y", "Val": "V", "Ter": "*",
    "Sec": "U", "Pyl": "O", "Xaa": "X",
}  # fmt: skip
_AA3_RE = re.compile("|".join(_AA3))
_PROTEIN = re.compile(
    r"^[A-Z*]\d+(?:_[A-Z*]\d+)?(?:[A-Z*=]|del|ins|dup|fs|delins|ext)[A-Za-z0-9*]*$")
_PROTEIN_TOKEN = re.compile(
    r"(?<![\w.])(?:p\.)?\(?([A-Z][a-z]{2}\d+[A-Z][a-z]{2}|[A-Z]\d+[A-Z*])\)?(?!\w)")
_CODING = re.compile(
    r"c\.[-*]?\d+(?:[+-]\d+)?(?:_[-*]?\d+(?:[+-]\d+)?)?[ACGTacgt]*(?:>[ACGT]+|del|ins|dup)\S*")
_G_HGVS = re.compile(r"^(?:([A-Za-z0-9_.]+):)?g\.(\d+)([ACGT])>([ACGT])$")
_SPDI = re.compile(r"^([A-Za-z0-9_.]+):(\d+):([ACGTN]*):([ACGTN]*)$")
_SYMBOL = r"[A-Z][A-Z0-9]{1,9}"
_PAIR = re.compile(rf"(?<![\w.:])({_SYMBOL})(::|--|-|/)({_SYMBOL})(?![\w.])")
_SINGLE = re.compile(
    rf"(?<![\w.:])({_SYMBOL})[ -](?i:gene )?(?i:fusions?|rearrangements?|translocations?)\b"
)
_FUSION_WORD = re.compile(r"\bfusions?\b|::", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class GenomicAllele:
    """A genomic change at a **1-based** position on an accession or a chromosome of a build."""

    position: int
    ref: str
    alt: str
    accession: str | None = None
    chromosome: str | None = None
    build: str | None = None


@dataclass(frozen=True, slots=True)
class Hotspot:
    """A row of the §A3 hotspot table."""

    gene: str
    alteration: str
    kind: VariantKind


def protein_change(text: str | None) -> str | None:
    """One-letter protein change from a p.HGVS string (3- or 1-letter, NP_ prefix, brackets)."""
    if not text:
        return None
    value = text.strip().split(":")[-1].strip()
    if not value.startswith("p."):
        return None
    value = value[2:].strip().strip("()")
    value = _AA3_RE.sub(lambda m: _AA3[m.group(0)], value)
    return value if _PROTEIN.match(value) else None


def protein_in_text(text: str | None) -> str | None:
    """A protein substitution named in free text (``"EGFR L858R"``, ``"p.Val600Glu"``)."""
    if not text:
        return None
    match = _PROTEIN_TOKEN.search(text)
    if not match:
        return None
    return _AA3_RE.sub(lambda m: _AA3[m.group(0)], match.group(1))


def coding_change(text: str | None) -> str | None:
    """The ``c.`` part of a c.HGVS string, without the transcript (``NM_…:c.1799T>A``)."""
    if not text:
        return None
    match = _CODING.search(text.strip())
    return match.group(0) if match else None


def change_kind(protein: str | None, coding: str | None) -> VariantKind | None:
    """SNV or indel from the shape of the HGVS strings, else ``None``."""
    for value in (coding, protein):
        if value and re.search(r"del|ins|dup|fs", value):
            return VariantKind.INDEL
    if coding and re.search(r"\d[ACGT]>[ACGT]$", coding):
        return VariantKind.SNV
    if protein and re.fullmatch(r"[A-Z]\d+[A-Z]", protein):
        return VariantKind.SNV
    return None


def parse_spdi(text: str | None) -> GenomicAllele | None:
    """SPDI ``seq:pos0:del:ins`` as a 1-based allele."""
    match = _SPDI.match((text or "").strip())
    if not match:
        return None
    seq, pos0, ref, alt = match.groups()
    return GenomicAllele(int(pos0) + 1, ref, alt, accession=seq if "_" in seq else None,
                         chromosome=None if "_" in seq else _chromosome(seq))


def parse_g_hgvs(text: str | None, build: str | None = None) -> GenomicAllele | None:
    """A g.HGVS substitution; the sequence may be an accession or a bare chromosome."""
    match = _G_HGVS.match((text or "").strip())
    if not match:
        return None
    seq, pos, ref, alt = match.groups()
    if seq and "_" in seq:
        return GenomicAllele(int(pos), ref, alt, accession=seq)
    return GenomicAllele(int(pos), ref, alt, chromosome=_chromosome(seq), build=build)


def _chromosome(text: str | None) -> str | None:
    if not text:
        return None
    value = text.strip()
    value = value[3:] if value.lower().startswith("chr") else value
    return value.upper() or None


def normalise_build(text: str | None, codes: CodeLists) -> str | None:
    """``GRCh37``/``GRCh38`` from a build name such as ``hg19`` or ``GRCh38.p13``."""
    return codes.builds.get((text or "").strip().lower()) if text else None


def sequence_allele(
    chromosome_or_accession: str | None, build: str | None, position: int, ref: str, alt: str,
    *, zero_based: bool,
) -> GenomicAllele:
    """An allele from separate coordinates; a 0-based start becomes ``start + 1``."""
    # 0-based (interbase) start: an SNV or deletion moves one right; an insertion keeps its
    # left flank, which is where the 1-based form puts it.
    pos = position + 1 if zero_based and ref not in ("", "-") else position
    seq = chromosome_or_accession or ""
    if "_" in seq:
        return GenomicAllele(pos, ref, alt, accession=seq.strip(), build=build)
    return GenomicAllele(pos, ref, alt, chromosome=_chromosome(seq), build=build)


def _accession(allele: GenomicAllele, codes: CodeLists) -> str | None:
    if allele.accession:
        return allele.accession
    for accession, (build, chrom) in codes.accessions.items():
        if chrom == allele.chromosome and build == allele.build:
            return accession
    return None


def hotspot_at(allele: GenomicAllele | None, codes: CodeLists) -> Hotspot | None:
    """The hotspot at a genomic allele, or ``None`` (also when the build is unknown)."""
    if allele is None:
        return None
    accession = _accession(allele, codes)
    key = f"{accession}:{allele.position}:{allele.ref.upper()}:{allele.alt.upper()}"
    for row in codes.hotspots:
        if key in row["genomic"]:
            return Hotspot(row["gene"], row["alteration"], VariantKind(row["kind"]))
    return None


def hotspot_named(gene: str | None, coding: str | None, alteration: str | None,
                  codes: CodeLists) -> Hotspot | None:
    """The hotspot of ``gene`` named by its c. change or its alteration name (``C228T``)."""
    for row in codes.hotspots:
        if row["gene"] != gene:
            continue
        if (coding and coding in row["coding"]) or (alteration and alteration == row["alteration"]):
            return Hotspot(row["gene"], row["alteration"], VariantKind(row["kind"]))
    return None


def mentions_fusion(texts: Iterable[str | None]) -> bool:
    """True when a text says "fusion" or uses the ``::`` fusion notation."""
    return any(_FUSION_WORD.search(t) for t in texts if t)


def fusion_in_text(texts: Iterable[str | None], codes: CodeLists) -> tuple[str, str | None] | None:
    """(3' gene, partner or None) of a fusion named in text (``CCDC6::RET``, ``RET fusion``)."""
    present = [t for t in texts if t]
    known = set(codes.genes_by_id.values()) | codes.fusion_3prime
    for text in present:
        for alias, (gene, partner) in codes.fusion_aliases.items():
            if alias in text.upper():
                return gene, partner
        if re.search(r"\bRET/PTC\d*\b", text, re.IGNORECASE):
            return "RET", None  # a RET/PTC rearrangement whose partner is not listed as certain
        for five, sep, three in _PAIR.findall(text):
            if sep == "::" or five in known or three in known:
                return orient_fusion(five, three, codes)
    for text in present:
        match = _SINGLE.search(text)
        if match:
            return match.group(1), None
    return None


def orient_fusion(five: str, three: str, codes: CodeLists) -> tuple[str, str | None]:
    """(gene, partner): the actionable 3' gene of §A4.9, else the 3' (second) gene."""
    if five in codes.fusion_3prime and three not in codes.fusion_3prime:
        return five, three
    return three, five
