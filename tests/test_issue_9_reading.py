"""Issue 9, reading drivers (DECISIONS §D4.13); §A4.14 is in ``test_issue_9_eligibility.py``.

A DNA-only BRAF V600E is a known driver while fusion testing stays open (the testing card says
"RNA fusion testing not done"); an unreadable BRAF alteration is ``unknown``, named in
missingData, leaves testing incomplete and never raises W-BRAF-NONV600E; protein changes in one-
or three-letter form in every field that holds one, including the R4 legacy
``observation-geneticsAminoAcidChange`` ``Name`` sub-extension.
"""

from __future__ import annotations

import copy

import pytest
from test_thyroid_rules_builder import AS_OF, B, rair_pd

from plugin.thyroid.assessment.builder import assess
from plugin.thyroid.cards.render import render
from plugin.thyroid.reading.record import read_record

LOINC = "http://loinc.org"
HGNC = "http://www.genenames.org"
EXT = "http://hl7.org/fhir/StructureDefinition/"


def _cc(system: str, code: str, display: str | None = None) -> dict:
    coding = {"system": system, "code": code}
    if display:
        coding["display"] = display
    return {"coding": [coding]}


def _legacy_r4(name: dict | None, *, type_: dict | None = None) -> dict:
    """The R4 legacy shape: geneticsGene plus the complex AminoAcidChange extension."""
    sub = []
    if name is not None:
        sub.append({"url": "Name", "valueCodeableConcept": name})
    if type_ is not None:
        sub.append({"url": "Type", "valueCodeableConcept": type_})
    return {
        "resourceType": "Observation", "id": "braf-legacy", "status": "final",
        "extension": [
            {"url": EXT + "observation-geneticsGene",
             "valueCodeableConcept": _cc(HGNC, "1097", "BRAF")},
            {"url": EXT + "observation-geneticsAminoAcidChange", "extension": sub},
        ],
        "code": _cc(LOINC, "55233-1"), "subject": {"reference": "Patient/p1"},
        "effectiveDateTime": "2026-07-01",
        "valueCodeableConcept": _cc(LOINC, "LA9633-4", "Present"),
    }


def _legacy_flat(text: str) -> dict:
    """The STU3 flat ``observation-geneticsAminoAcidChangeName`` still seen in exports."""
    res = _legacy_r4(None)
    res["extension"][1] = {"url": EXT + "observation-geneticsAminoAcidChangeName",
                           "valueCodeableConcept": {"text": text}}
    return res


def _gr_variant(p_hgvs: str) -> dict:
    return {
        "resourceType": "Observation", "id": "braf-gr", "status": "final",
        "code": _cc(LOINC, "69548-6"), "effectiveDateTime": "2026-07-01",
        "valueCodeableConcept": _cc(LOINC, "LA9633-4"),
        "component": [
            {"code": _cc(LOINC, "48018-6"), "valueCodeableConcept": _cc(HGNC, "HGNC:1097")},
            {"code": _cc(LOINC, "48005-3"), "valueCodeableConcept": {"text": p_hgvs}},
        ],
    }


V600E_ENCODINGS = {
    "r4 Name one-letter text": _legacy_r4({"text": "p.V600E"}),
    "r4 Name three-letter text": _legacy_r4({"text": "p.Val600Glu"}),
    "r4 Name bare one-letter": _legacy_r4({"text": "V600E"}),
    "r4 Name NP_ accession": _legacy_r4({"text": "NP_004324.2:p.(Val600Glu)"}),
    "r4 Name coding display": _legacy_r4(
        {"coding": [{"system": "http://www.ncbi.nlm.nih.gov/clinvar", "code": "13961",
                     "display": "p.Val600Glu"}]},
        type_=_cc("http://snomed.info/sct", "36845000", "missense")),
    "r4 geneticsVariant Name c.HGVS": {**_legacy_r4(None), "extension": [
        _legacy_r4(None)["extension"][0],
        {"url": EXT + "observation-geneticsVariant", "extension": [
            {"url": "Name", "valueCodeableConcept": {"text": "NM_004333.4:c.1799T>A"}}]}]},
    "flat STU3 bare": _legacy_flat("V600E"),
    "flat STU3 three-letter": _legacy_flat("p.Val600Glu"),
    "GR p.HGVS bare one-letter": _gr_variant("V600E"),
    "GR p.HGVS bare three-letter": _gr_variant("Val600Glu"),
    "GR p.HGVS one-letter": _gr_variant("p.V600E"),
}


def _with_variants(b: B, resources: list[dict]) -> B:
    """``b`` with the variants and genes tested read from ``resources``."""
    read = read_record(resources)
    b.r.variants[:] = read.variants
    b.r.genes_tested[:] = read.genes_tested
    b.r.data_quality[:] = read.data_quality
    return b


# --- §A4.13: protein changes in every form, including the legacy R4 shape ------------------------


@pytest.mark.parametrize("name", sorted(V600E_ENCODINGS))
def test_braf_v600e_read_in_every_protein_form(name: str) -> None:
    (braf,) = read_record([copy.deepcopy(V600E_ENCODINGS[name])]).variants
    assert (braf.gene, braf.alteration, braf.present) == ("BRAF", "V600E", True), name


@pytest.mark.parametrize("name", sorted(V600E_ENCODINGS))
def test_legacy_v600e_is_a_driver_never_non_v600e(name: str) -> None:
    b = _with_variants(rair_pd(), [copy.deepcopy(V600E_ENCODINGS[name])])
    j = assess(b.build(), AS_OF).to_json()
    assert {"gene": "BRAF", "alteration": "V600E", "kind": "snv"} in j["drivers"], j
    assert all(w["code"] != "W-BRAF-NONV600E" for w in j["warnings"]), j


# --- §A4.13: an unreadable BRAF alteration -------------------------------------------------------


UNREADABLE = {
    "r4 Name free text": _legacy_r4({"text": "see scanned report"}),
    "r4 without Name": _legacy_r4(None, type_=_cc("http://snomed.info/sct", "36845000")),
    "GR without p.HGVS": {**_gr_variant("x"), "component": _gr_variant("x")["component"][:1]},
}


@pytest.mark.parametrize("name", sorted(UNREADABLE))
def test_unreadable_braf_is_unknown_missing_and_never_non_v600e(name: str) -> None:
    b = _with_variants(rair_pd(), [copy.deepcopy(UNREADABLE[name])]).tested()
    j = assess(b.build(), AS_OF).to_json()
    assert {"gene": "BRAF", "alteration": "unknown", "kind": "other"} in j["drivers"], j
    assert all(w["code"] != "W-BRAF-NONV600E" for w in j["warnings"]), j
    assert any("BRAF alteration of Observation/braf-" in m and "could not be read" in m
               for m in j["missingData"]), j
    # testing incomplete, although every gene is on a fusion-capable panel
    assert j["suggestMolecularTesting"] is True and j["action"] == "ORDER_MOLECULAR_TESTING", j
    dt = [t for t in j["therapies"]["notEligible"] if t["drug"] == "dabrafenib+trametinib"]
    assert dt and dt[0]["reason"] == "BRAF V600E status unknown", j


def test_known_non_v600e_still_warns() -> None:
    j = assess(rair_pd().variant("BRAF", "K601E").build(), AS_OF).to_json()
    assert any(w["code"] == "W-BRAF-NONV600E" for w in j["warnings"]), j


# --- §A4.13: BRAF V600E from a DNA-only assay -----------------------------------------------


def _dna_only_v600e() -> B:
    b = rair_pd()
    b.r.genes_tested.clear()
    return b.variant("BRAF", "V600E", fusion_capable=False).tested(fusion_capable=False)


def test_dna_only_v600e_is_a_driver_but_testing_stays_open() -> None:
    b = _dna_only_v600e()
    a = assess(b.build(), AS_OF)
    j = a.to_json()
    assert {"gene": "BRAF", "alteration": "V600E", "kind": "snv"} in j["drivers"]
    assert j["suggestMolecularTesting"] is True and j["action"] == "ORDER_MOLECULAR_TESTING"
    cards = {c.kind: c.card for c in render(a, b.build())}
    testing = cards["molecular-testing"]
    assert testing.summary.startswith("RNA fusion testing not done")
    assert "Recs 67-68" in testing.detail and "15 %" in testing.detail


def test_fusion_capable_v600e_completes_testing_without_that_card() -> None:
    b = rair_pd().variant("BRAF", "V600E", fusion_capable=True)
    a = assess(b.build(), AS_OF)
    assert a.suggest_molecular_testing is False
    assert all("RNA fusion testing not done" not in c.card.summary for c in render(a, b.build()))
