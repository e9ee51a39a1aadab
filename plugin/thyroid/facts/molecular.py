"""Molecular findings: variant classes, testing completeness (§A4.3-§A4.4) and E4 for the
thyroid fact mapper.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from plugin.thyroid import clinical_model as cm
from plugin.thyroid.facts.common import FactContext, load_therapies
from plugin.thyroid.facts.derivation import testing_state

_FUSION_GENES = ("RET", "NTRK1", "NTRK2", "NTRK3", "ALK")
_REQUIRED_GENES = ("BRAF", *_FUSION_GENES)  # §A4.3
_RAS = frozenset({"HRAS", "KRAS", "NRAS"})
_NTRK = frozenset({"NTRK1", "NTRK2", "NTRK3"})


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
        # §A4.13: an unreadable alteration is unknown, never "other than V600E"
        return "braf_v600e" if alt == "V600E" else "braf_other" if alt else "braf_unknown"
    if v.gene == "RET":
        return "ret_point"
    if v.gene in _RAS:
        return "ras"
    if v.gene == "TERT":
        return "tert"
    if v.gene in _NTRK:
        return "ntrk_point"
    return "other"


def ntrk_resistance_class(v: cm.Variant, therapies: Mapping[str, Any] | None = None) -> str:
    """The §A4.14 class (``solvent_front``, ``gatekeeper``, ``xdfg``) of an NTRK kinase-domain
    substitution, from ``therapies.yaml`` ``ntrk_resistance`` (``therapies``: the knowledge's
    table, default the knowledge folder's); ``""`` when not listed."""
    table = (therapies or load_therapies()).get("ntrk_resistance", {}).get("classes", {})
    for name, genes in table.items():
        if (v.alteration or "").upper() in (genes.get(v.gene) or []):
            return str(name)
    return ""


def _ntrk_resistance(
    classes: dict[str, list[cm.Variant]], therapies: Mapping[str, Any]
) -> dict[str, bool]:
    """G4 / §A4.14: which repotrectinib reading the resistance findings support."""
    data = therapies.get("ntrk_resistance", {})
    found = {ntrk_resistance_class(v, therapies) for v in classes.get("ntrk_point", [])} - {""}
    off_target = any(classes.get(k) for k in data.get("off_target", []))
    return {
        "ntrk_resistance_active": bool(found & set(data.get("repotrectinib_active", []))),
        "ntrk_resistance_limited": bool(found & set(data.get("limited_activity", [])))
        or (off_target and bool(classes.get("ntrk_fusion"))),
    }


def molecular_facts(rec: cm.PatientRecord, ctx: FactContext) -> tuple[dict, list[dict]]:
    present = [v for v in rec.variants if v.present]
    classes: dict[str, list[cm.Variant]] = {}
    facts = []
    for v in present:
        klass = _classify(v)
        classes.setdefault(klass, []).append(v)
        kind = v.kind.value if v.kind != cm.VariantKind.OTHER or klass == "braf_unknown" else "snv"
        facts.append(
            {
                "type": "variant",
                "gene": v.gene,
                "alteration": v.alteration or "unknown",
                "kind": "fusion" if klass.endswith("_fusion") else kind,
                "klass": klass,
                "resistance": ntrk_resistance_class(v, ctx.therapies)
                if klass == "ntrk_point"
                else "",
                "partner": v.partner or "",
                "ref": v.source,
                "label": _variant_label(v),
            }
        )
    # §A4.3 / §A4.4 / E4: which genes are tested, for point mutations and for fusions.
    tested = testing_state(rec)
    point_tested, fusion_tested = tested.point_tested, tested.fusion_tested
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
            "braf_unknown",
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
    # §A4.13: a BRAF result whose alteration cannot be read leaves testing incomplete.
    braf_unread = has["braf_unknown"] and not has["braf_v600e"]
    for v in classes.get("braf_unknown", []):
        ctx.note(f"BRAF alteration of {v.source} (the reported change could not be read)")
    complete = (actionable_capable or all_negative) and not braf_unread
    untested = [g for g in _REQUIRED_GENES if g not in point_tested]
    no_fusion = [g for g in _FUSION_GENES if g not in fusion_tested]
    needed = []
    if "BRAF" in untested:
        needed.append("BRAF V600E")
    elif braf_unread:
        needed.append("BRAF V600E (the reported BRAF change could not be read)")
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
        # §A4.3: a fusion-capable assay that reports an actionable driver completes testing, so
        # the other drivers read "not detected" (F1:no-ret/-ntrk/-braf), not "status unknown".
        "ret_fusion_known": has["ret_fusion"] or "RET" in fusion_tested or actionable_capable,
        "ntrk_fusion_known": has["ntrk_fusion"]
        or all(g in fusion_tested for g in _NTRK)
        or actionable_capable,
        "braf_known": ("BRAF" in point_tested or actionable_capable) and not braf_unread,
        "dna_only_no_fusion": bool(dna_only_fusion_negative) and not actionable_capable,
        **_ntrk_resistance(classes, ctx.therapies),
        "missing_tests": ", ".join(needed) if needed else "",
        "ref": sorted({v.source for v in rec.variants} | {g.source for g in rec.genes_tested}),
        "label": (
            "Molecular: "
            + (", ".join(f["label"] for f in facts) or "no alteration found")
            + ("; testing complete" if complete else f"; still needed: {', '.join(needed)}")
        ),
    }
    if fact["dna_only_no_fusion"]:
        fact["dna_label"] = (
            "DNA-only assay reported no fusion in "
            + ", ".join(dna_only_fusion_negative)
            + ": fusion status unknown (E4)"
        )
    return fact, facts
