"""Genomic findings from FHIR: variant Observations, region studied, MolecularSequence.

Reads every variant encoding of DECISIONS §D3: Genomics Reporting IG Variants (STU1-STU3),
mCODE variants, the legacy R4 ``observation-genetics*`` extensions, coordinate-only variants
(SPDI, g.HGVS, ref/alt/start components) and R4 ``MolecularSequence``. Fusions follow §A3's
fusion row and §A4.9; negatives follow §A4.4; every gene with a Present or Absent finding, and
every region studied, becomes a :class:`GeneTested` (§A4.3).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from plugin.thyroid.clinical_model import GeneTested, PatientRecord, Variant, VariantKind
from plugin.thyroid.knowledge.codes import CodeLists, codings, concept_texts
from plugin.thyroid.reading.entries import Entry, ReadContext, components
from plugin.thyroid.reading.variants import (
    GenomicAllele,
    change_kind,
    coding_change,
    fusion_in_text,
    hotspot_at,
    hotspot_named,
    mentions_fusion,
    normalise_build,
    parse_g_hgvs,
    parse_spdi,
    protein_change,
    protein_in_text,
    sequence_allele,
)

_SYMBOL = re.compile(r"^[A-Z][A-Z0-9-]{1,14}$")
_LEGACY = "/observation-geneticsgene"


@dataclass
class _Finding:
    """What one variant Observation says, before it becomes model objects."""

    genes: list[str] = field(default_factory=list)
    unresolved: list[str] = field(default_factory=list)
    proteins: list[str] = field(default_factory=list)
    codings: list[str] = field(default_factory=list)
    alleles: list[GenomicAllele] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    fusion_term: bool = False
    kind: VariantKind | None = None
    vaf: float | None = None
    source_class: str | None = None


def _strings(concept_or_value: Any) -> list[str]:
    """Every candidate string of a component value: codes, displays, text, valueString."""
    if isinstance(concept_or_value, str):
        return [concept_or_value]
    if not isinstance(concept_or_value, Mapping):
        return []
    found = [c.get("code") for c in codings(concept_or_value)] + concept_texts(concept_or_value)
    return [s for s in found if isinstance(s, str) and s.strip()]


def _value(part: Mapping[str, Any]) -> Any:
    for key in ("valueCodeableConcept", "valueString", "valueCoding"):
        if key in part:
            return part[key]
    return None


def gene_of(concept: Mapping[str, Any] | None, codes: CodeLists) -> tuple[str | None, str]:
    """(HGNC symbol or None, what was written) for a gene CodeableConcept; codes over text."""
    written = ", ".join(_strings(concept)) or "no code"
    for coding in codings(concept):
        symbol = codes.gene_symbol(coding)
        if symbol:
            return symbol, written
    for coding in codings(concept):
        display = coding.get("display")
        if codes.alias(coding.get("system")) == "hgnc" and display and _SYMBOL.match(display):
            return display.strip(), written
    known = set(codes.genes_by_id.values())
    if isinstance(concept, Mapping) and not codings(concept) and concept.get("text") in known:
        return concept["text"], written
    return None, written


def _add_gene(finding: _Finding, concept: Any, codes: CodeLists) -> None:
    symbol, written = gene_of(concept, codes)
    if symbol and symbol not in finding.genes:
        finding.genes.append(symbol)
    elif symbol is None:
        finding.unresolved.append(written)


def _legacy(res: Mapping[str, Any], finding: _Finding, codes: CodeLists) -> None:
    """The R4 ``observation-genetics*`` extensions, flat (STU3 ``...AminoAcidChangeName``) or
    complex (R4 ``observation-geneticsAminoAcidChange`` with ``Name`` / ``Type`` sub-extensions);
    a sub-extension is read in the context of its parent's URL."""
    stack: list[tuple[Any, str]] = [(e, "") for e in res.get("extension") or []]
    while stack:
        ext, parent = stack.pop(0)
        if not isinstance(ext, Mapping):
            continue
        url = str(ext.get("url") or "").lower()
        if "/" not in url and parent:  # a sub-extension: "Name", "Type", "Id"
            url = f"{parent}{url}"
        stack.extend((e, url) for e in ext.get("extension") or [])
        value = _value(ext)
        if url.endswith("geneticsgene"):
            _add_gene(finding, value, codes)
        elif "aminoacidchange" in url and not url.endswith("type"):
            finding.proteins += [p for s in _strings(value) if (p := _amino_acid_change(s))]
            finding.codings += [c for s in _strings(value) if (c := coding_change(s))]
        elif url.endswith("name") and "variant" in url:
            finding.proteins += [p for s in _strings(value) if (p := protein_change(s))]
            finding.codings += [c for s in _strings(value) if (c := coding_change(s))]
        elif "dnavariant" in url or url.endswith("variant"):
            finding.codings += [c for s in _strings(value) if (c := coding_change(s))]
            finding.alleles += [a for s in _strings(value) if (a := parse_g_hgvs(s))]
        elif url.endswith("genomicsourceclass"):
            finding.source_class = _source_class(value, codes)


def _amino_acid_change(text: str) -> str | None:
    """A field that holds a protein change (p.HGVS 48005-3, the legacy amino-acid change):
    ``p.V600E``, ``p.Val600Glu``, ``NP_004324.2:p.(Val600Glu)`` or a bare ``V600E``."""
    return protein_change(text) or protein_in_text(text)


def _source_class(concept: Any, codes: CodeLists) -> str | None:
    return codes.first_of(concept, ("somatic", "germline"))


def _position(comp: Mapping[str, Any]) -> int | None:
    for key, path in (("valueRange", ("low", "value")), ("valueInteger", ()),
                      ("valueQuantity", ("value",))):
        value: Any = comp.get(key)
        for step in path:
            value = value.get(step) if isinstance(value, Mapping) else None
        if isinstance(value, int | float) and not isinstance(value, bool):
            return int(value)
    return None


def _components(res: Mapping[str, Any], finding: _Finding, codes: CodeLists,
                ctx: ReadContext, src: str) -> None:
    build = next((b for c in components(res) if codes.is_(c.get("code"), "assembly")
                  for b in [_build(c.get("valueCodeableConcept"), codes)] if b), None)
    ref = alt = seq = None
    start = zero_based = None
    for comp in components(res):
        code, value = comp.get("code"), _value(comp)
        name = codes.first_of(code, (
            "gene_component", "p_hgvs", "c_hgvs", "g_hgvs", "variation_code", "change_type",
            "allele_fraction", "source_class", "ref_allele", "alt_allele", "exact_start_end",
            "coordinate_system", "reference_sequence"))
        strings = _strings(value)
        if name == "gene_component":
            _add_gene(finding, value, codes)
        elif name == "p_hgvs":
            finding.proteins += [p for s in strings if (p := _amino_acid_change(s))]
        elif name == "c_hgvs":
            finding.codings += [c for s in strings if (c := coding_change(s))]
        elif name == "g_hgvs":
            finding.alleles += [a for s in strings if (a := parse_g_hgvs(s, build))]
        elif name == "variation_code":
            finding.alleles += [a for s in strings if (a := parse_spdi(s))]
            finding.texts += [t for t in concept_texts(value)] + (
                [value] if isinstance(value, str) else [])
        elif name == "allele_fraction":
            finding.vaf = _fraction(comp.get("valueQuantity"))
        elif name == "source_class":
            finding.source_class = _source_class(value, codes)
        elif name == "ref_allele":
            ref = strings[0] if strings else None
        elif name == "alt_allele":
            alt = strings[0] if strings else None
        elif name == "exact_start_end":
            start = _position(comp)
        elif name == "coordinate_system":
            zero_based = True if codes.is_(value, "zero_based") else (
                False if codes.is_(value, "one_based") else None)
        elif name == "reference_sequence":
            seq = strings[0] if strings else None
        if name == "change_type" or name is None:
            _change_type(value, finding, codes)
    if ref and alt and start is not None:
        if zero_based is None:
            ctx.note(src, "variant coordinates without a coordinate system (92822-6); not used")
        else:
            finding.alleles.append(sequence_allele(seq, build, start, ref, alt,
                                                   zero_based=zero_based))


def _change_type(value: Any, finding: _Finding, codes: CodeLists) -> None:
    if codes.is_(value, "fusion_terms"):
        finding.fusion_term = True
    elif codes.is_(value, "indel_terms"):
        finding.kind = VariantKind.INDEL
    elif codes.is_(value, "snv_terms") and finding.kind is None:
        finding.kind = VariantKind.SNV


def _build(concept: Any, codes: CodeLists) -> str | None:
    if codes.is_(concept, "grch37"):
        return "GRCh37"
    if codes.is_(concept, "grch38"):
        return "GRCh38"
    return next((b for s in _strings(concept) if (b := normalise_build(s, codes))), None)


def _fraction(quantity: Any) -> float | None:
    if not isinstance(quantity, Mapping) or not isinstance(quantity.get("value"), int | float):
        return None
    value = float(quantity["value"])
    return value / 100 if (quantity.get("code") or quantity.get("unit")) == "%" else value


def assay_fusion_capable(resource: Mapping[str, Any], codes: CodeLists) -> bool | None:
    """True for an RNA / fusion assay, False for a stated DNA-only assay, else ``None``."""
    concepts = [resource.get("method"), resource.get("code")]
    concepts += [_value(c) for c in components(resource)]
    concepts = [c for c in concepts if isinstance(c, Mapping)]
    if any(codes.is_(c, "rna_fusion_assay") for c in concepts):
        return True
    if any(codes.is_(c, "dna_only_assay") for c in concepts):
        return False
    method_texts = concept_texts(resource.get("method"))
    if codes.text_matches(method_texts, "rna_fusion_assay"):
        return True
    if codes.text_matches(method_texts, "dna_only_assay"):
        return False
    return None


def _presence(res: Mapping[str, Any], codes: CodeLists) -> bool | None:
    for concept in [res.get("valueCodeableConcept"), *(res.get("interpretation") or [])]:
        if codes.is_(concept, "finding_present"):
            return True
        if codes.is_(concept, "finding_absent"):
            return False
    return res.get("valueBoolean") if isinstance(res.get("valueBoolean"), bool) else None


def is_variant_observation(res: Mapping[str, Any], codes: CodeLists) -> bool:
    """A GR / mCODE Variant, or an Observation using the legacy genetics extensions."""
    if codes.is_(res.get("code"), "variant_observation"):
        return True
    profiles = [str(p).lower() for p in (res.get("meta") or {}).get("profile") or []]
    if any(p.endswith(("/variant", "-genetic-variant")) for p in profiles):
        return True
    return any(str(e.get("url", "")).lower().endswith(_LEGACY)
               for e in res.get("extension") or [] if isinstance(e, Mapping))


def read_variant(entry: Entry, ctx: ReadContext, record: PatientRecord, codes: CodeLists) -> None:
    """Read a variant Observation into ``record.variants`` and ``record.genes_tested``."""
    res, src = entry.resource, entry.source
    finding = _Finding()
    _legacy(res, finding, codes)
    _components(res, finding, codes, ctx, src)
    finding.texts += concept_texts(res.get("code")) if not codings(res.get("code")) else []
    if isinstance(res.get("valueString"), str):
        finding.texts.append(res["valueString"])
    present = _presence(res, codes)
    for written in finding.unresolved:
        ctx.note(src, f"gene coding not recognised as an HGNC gene: {written}",
                 f"gene of reported variant ({src})" if present is not False else None)
    if present is None:
        ctx.note(src, "variant observation without a Present/Absent value; not read as a finding",
                 f"result of variant observation ({src})" if finding.genes else None)
        return
    fusion_text = fusion_in_text(finding.texts, codes)
    # A negative lists the genes of a panel: only a fusion term or word restricts it (§A4.4).
    is_fusion = (finding.fusion_term or fusion_text is not None or mentions_fusion(finding.texts)
                 or (present and len(finding.genes) >= 2))
    capable = assay_fusion_capable(res, codes)
    date = ctx.date(res, src)
    common: dict[str, Any] = {
        "date": date, "allele_fraction": finding.vaf, "genomic_source": finding.source_class
    }
    if is_fusion:
        gene, partner = _fusion_genes(finding, fusion_text, codes)
        if gene is None:
            ctx.note(src, "structural variant / fusion without a gene; not used",
                     f"gene of reported structural variant ({src})" if present else None)
            return
        description = next(iter(finding.texts), None) or (f"{partner}::{gene}" if partner else
                                                           f"{gene} fusion")
        if present:
            record.variants.append(Variant(src, gene, True, VariantKind.FUSION, "fusion", partner,
                                           fusion_capable=True if capable is None else capable,
                                           description=description, **common))
        else:
            for g in finding.genes or [gene]:
                record.variants.append(Variant(src, g, False, VariantKind.FUSION, None,
                                               fusion_only=True, fusion_capable=capable,
                                               description=description, **common))
        genes = sorted({gene, *finding.genes} - {partner} if present else
                       set(finding.genes or [gene]))
    else:
        genes = _point_variants(finding, present, capable, src, ctx, record, codes, common)
    for gene in genes:
        record.genes_tested.append(GeneTested(src, gene, capable, date))


def _fusion_genes(finding: _Finding, fusion_text: tuple[str, str | None] | None,
                  codes: CodeLists) -> tuple[str | None, str | None]:
    if fusion_text:
        return fusion_text
    actionable = [g for g in finding.genes if g in codes.fusion_3prime]
    gene = actionable[0] if actionable else (finding.genes[-1] if finding.genes else None)
    partner = next((g for g in finding.genes if g != gene), None)
    return gene, partner


def _point_variants(finding: _Finding, present: bool, capable: bool | None, src: str,
                    ctx: ReadContext, record: PatientRecord, codes: CodeLists,
                    common: dict[str, Any]) -> list[str]:
    protein = next(iter(finding.proteins), None) or next(
        (p for t in finding.texts if (p := protein_in_text(t))), None)
    coding = next(iter(finding.codings), None)
    hot = next((h for a in finding.alleles if (h := hotspot_at(a, codes))), None)
    genes = list(finding.genes)
    if hot is None and len(genes) == 1:
        hot = hotspot_named(genes[0], coding, protein, codes)
    if hot and genes and hot.gene not in genes:
        ctx.note(src, f"coordinates name a {hot.gene} hotspot but the gene coded is "
                 f"{', '.join(genes)}; coordinates not used")
        hot = None
    if hot and not genes:
        genes = [hot.gene]
    if not genes:
        if present:
            ctx.note(src, "variant without a gene, and its coordinates are not a recognised "
                     "hotspot; not used", f"gene of reported variant ({src})")
        return []
    alteration = hot.alteration if hot and (hot.kind is VariantKind.PROMOTER or not protein) \
        else protein
    single_base = any(len(a.ref) == len(a.alt) == 1 for a in finding.alleles)
    kind = (hot.kind if hot else None) or finding.kind or change_kind(protein, coding) or (
        VariantKind.SNV if single_base else VariantKind.OTHER)
    description = (f"p.{protein}" if protein else None) or coding or next(
        iter(finding.texts), None)
    for gene in genes:
        record.variants.append(Variant(src, gene, present, kind, alteration,
                                       fusion_capable=capable, description=description,
                                       **common))
    return genes


def read_region_studied(entry: Entry, ctx: ReadContext, record: PatientRecord,
                        codes: CodeLists) -> None:
    """A region-studied (53041-0) Observation: each gene studied is a GeneTested."""
    res, src = entry.resource, entry.source
    capable = assay_fusion_capable(res, codes)
    date = ctx.date(res, src)
    for comp in components(res):
        if codes.is_(comp.get("code"), "gene_component"):
            symbol, written = gene_of(_value(comp), codes)
            if symbol:
                record.genes_tested.append(GeneTested(src, symbol, capable, date))
            else:
                ctx.note(src, f"gene studied not recognised as an HGNC gene: {written}")
