"""Genomic findings in every encoding of DECISIONS §D3: SNVs, hotspots, fusions, negatives."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from plugin.thyroid.clinical_model import VariantKind
from plugin.thyroid.knowledge.codes import load_codes
from plugin.thyroid.reading.record import read_record
from plugin.thyroid.reading.variants import fusion_in_text, parse_spdi, protein_change

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "fhir"
LOINC = "http://loinc.org"
REFSEQ = "http://www.ncbi.nlm.nih.gov/refseq"
SO = "http://www.sequenceontology.org"


def _fixture(name):
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def _cc(system, code, display=None):
    coding = {"system": system, "code": code}
    if display:
        coding["display"] = display
    return {"coding": [coding]}


def _component(code, **value):
    return {"code": _cc(LOINC, code), **value}


def _variant(components, present=True, **extra):
    answer = "LA9633-4" if present else "LA9634-2"
    return {"resourceType": "Observation", "id": "v1", "status": "final",
            "code": _cc(LOINC, "69548-6"), "effectiveDateTime": "2024-03-01",
            "valueCodeableConcept": _cc(LOINC, answer), "component": components, **extra}


@pytest.mark.parametrize("name", sorted(p.name for p in FIXTURES.glob("braf_v600e.*.json")))
def test_braf_v600e_in_each_fixture_encoding(name):
    record = read_record([_fixture(name)])
    (braf,) = record.variants
    assert (braf.gene, braf.alteration, braf.kind, braf.present) == (
        "BRAF", "V600E", VariantKind.SNV, True)
    assert record.data_quality == []


def test_braf_fixture_encodings_cover_the_brief():
    names = {p.name for p in FIXTURES.glob("braf_v600e.*.json")}
    assert len(names) == 7  # 1-letter p., legacy, SPDI 38, g. 37, MolSeq 0/38, MolSeq 1/37, ref/alt


def test_legacy_dates_are_the_utc_day():
    (braf,) = read_record([_fixture("braf_v600e.legacy_extensions.json")]).variants
    assert braf.date.isoformat() == "2024-03-03"  # 23:30 at -05:00 is the next UTC day


@pytest.mark.parametrize("build,seq,pos,ref,alt,gene,alteration,kind", [
    ("LA14029-5", "NC_000005.9", 1295228, "G", "A", "TERT", "C228T", VariantKind.PROMOTER),
    ("LA26806-2", "NC_000005.10", 1295113, "G", "A", "TERT", "C228T", VariantKind.PROMOTER),
    ("LA14029-5", "NC_000005.9", 1295250, "G", "A", "TERT", "C250T", VariantKind.PROMOTER),
    ("LA26806-2", "NC_000005.10", 1295135, "G", "A", "TERT", "C250T", VariantKind.PROMOTER),
    ("LA14029-5", "NC_000010.10", 43617416, "T", "C", "RET", "M918T", VariantKind.SNV),
    ("LA14029-5", "NC_000001.10", 115256529, "T", "C", "NRAS", "Q61R", VariantKind.SNV),
    ("LA26806-2", "NC_000001.11", 114713908, "T", "C", "NRAS", "Q61R", VariantKind.SNV),
])
@pytest.mark.parametrize("encoding", ["g_hgvs", "spdi", "components_0", "components_1"])
def test_hotspots_from_coordinates_alone(build, seq, pos, ref, alt, gene, alteration, kind,
                                         encoding):
    if encoding == "g_hgvs":
        comps = [_component("62374-4", valueCodeableConcept=_cc(LOINC, build)),
                 _component("81290-9", valueCodeableConcept={"text": f"{seq}:g.{pos}{ref}>{alt}"})]
    elif encoding == "spdi":
        comps = [_component("81252-9", valueCodeableConcept=_cc(
            "https://api.ncbi.nlm.nih.gov/variation/v0", f"{seq}:{pos - 1}:{ref}:{alt}"))]
    else:
        zero = encoding == "components_0"
        comps = [_component("48013-7", valueCodeableConcept=_cc(REFSEQ, seq)),
                 _component("69547-8", valueString=ref), _component("69551-0", valueString=alt),
                 _component("81254-5", valueRange={"low": {"value": pos - 1 if zero else pos}}),
                 _component("92822-6", valueCodeableConcept=_cc(
                     LOINC, "LA30100-4" if zero else "LA30102-0"))]
    (found,) = read_record([_variant(comps)]).variants
    assert (found.gene, found.alteration, found.kind) == (gene, alteration, kind)


def test_off_by_one_spdi_is_not_a_hotspot():
    comps = [_component("81252-9", valueCodeableConcept=_cc(
        "https://api.ncbi.nlm.nih.gov/variation/v0", "NC_000007.14:140753336:A:T"))]
    record = read_record([_variant(comps)])
    assert record.variants == [] and record.data_quality[0].missing


def test_tert_promoter_by_c_hgvs_with_gene():
    comps = [_component("48018-6", valueCodeableConcept=_cc("http://www.genenames.org", "11730")),
             _component("48004-6", valueCodeableConcept={"text": "NM_198253.2:c.-146C>T"})]
    (tert,) = read_record([_variant(comps)]).variants
    assert (tert.gene, tert.alteration, tert.kind) == ("TERT", "C250T", VariantKind.PROMOTER)


def test_ret_m918t_from_three_letter_p_hgvs_is_a_point_mutation():
    comps = [_component("48018-6", valueCodeableConcept=_cc("https://genenames.org/geneId/",
                                                            "hgnc:9967")),
             _component("48005-3", valueCodeableConcept={"text": "NP_066124.1:p.Met918Thr"})]
    (ret,) = read_record([_variant(comps)]).variants
    assert (ret.gene, ret.alteration, ret.kind) == ("RET", "M918T", VariantKind.SNV)


@pytest.mark.parametrize("text,expected", [
    ("p.Val600Glu", "V600E"), ("NP_004324.2:p.Val600Glu", "V600E"), ("p.(Ala412Val)", "A412V"),
    ("p.V600E", "V600E"), ("p.Gln61Arg", "Q61R"), ("p.Trp243Ter", "W243*"), ("V600E", None),
    ("p.Glu746_Ala750del", "E746_A750del"),
])
def test_protein_change(text, expected):
    assert protein_change(text) == expected


def test_spdi_is_zero_based():
    assert parse_spdi("NC_000007.14:140753335:A:T").position == 140753336


@pytest.mark.parametrize("fixture,gene,partner", [
    ("ret_fusion.two_gene_components.json", "RET", "CCDC6"),
    ("ntrk3_fusion.text_etv6_ntrk3.json", "NTRK3", "ETV6"),
    ("alk_fusion.so_term_without_prefix.json", "ALK", "EML4"),
    ("ret_fusion.ret_ptc1.json", "RET", "CCDC6"),
])
def test_fusion_fixtures(fixture, gene, partner):
    record = read_record([_fixture(fixture)])
    (fusion,) = record.variants
    assert (fusion.gene, fusion.partner, fusion.kind, fusion.alteration) == (
        gene, partner, VariantKind.FUSION, "fusion")


@pytest.mark.parametrize("text,gene,partner", [
    ("CCDC6::RET", "RET", "CCDC6"), ("CCDC6-RET", "RET", "CCDC6"), ("ETV6-NTRK3", "NTRK3", "ETV6"),
    ("EML4::ALK", "ALK", "EML4"), ("RET fusion", "RET", None), ("RET/PTC3", "RET", "NCOA4"),
    ("RET/PTC2", "RET", None), ("NCOA4-RET fusion", "RET", "NCOA4"),
    ("TPM3::NTRK1", "NTRK1", "TPM3"),
    ("ROS1 Fusion", "ROS1", None), ("RET-CCDC6", "RET", "CCDC6"),
])
def test_fusion_text(text, gene, partner):
    assert fusion_in_text([text], load_codes()) == (gene, partner)


@pytest.mark.parametrize("text", ["BRAF V600E", "NC_000007.14:140753335:A:T", "HGNC:1097",
                                  "LA9633-4", "c.1799T>A"])
def test_not_fusion_text(text):
    assert fusion_in_text([text], load_codes()) is None


@pytest.mark.parametrize("component", [
    _component("48019-4", valueCodeableConcept=_cc(SO, "SO:0001886")),
    {"code": _cc("http://hl7.org/fhir/uv/genomics-reporting/CodeSystem/tbd-codes-cs",
                 "feature-consequence"),
     "valueCodeableConcept": _cc("http://sequenceontology.org", "0001565")},
])
def test_fusion_term_in_change_type_or_consequence(component):
    comps = [_component("48018-6", valueCodeableConcept=_cc("http://www.genenames.org/geneId",
                                                            "HGNC:8031")), component]
    (fusion,) = read_record([_variant(comps)]).variants
    assert (fusion.gene, fusion.kind, fusion.partner) == ("NTRK1", VariantKind.FUSION, None)


def test_dna_panel_negative_negates_all_types_and_is_not_fusion_capable():
    record = read_record([_fixture("negative.dna_panel_braf_ret.json")])
    assert {(v.gene, v.present, v.fusion_only, v.fusion_capable) for v in record.variants} == {
        ("BRAF", False, False, False), ("RET", False, False, False)}
    assert {(g.gene, g.fusion_capable) for g in record.genes_tested} == {
        ("BRAF", False), ("RET", False)}


def test_rna_fusion_negative_is_fusion_only_and_fusion_capable():
    record = read_record([_fixture("negative.rna_fusion_panel.json")])
    assert {v.gene for v in record.variants} == {"RET", "NTRK1", "NTRK2", "NTRK3", "ALK"}
    assert all(not v.present and v.fusion_only and v.kind is VariantKind.FUSION
               and v.fusion_capable for v in record.variants)


def test_present_finding_is_not_cancelled_by_a_negative():
    record = read_record([_fixture("braf_v600e.spdi_grch38.json"),
                          _fixture("negative.dna_panel_braf_ret.json")])
    assert {(v.gene, v.present) for v in record.variants} == {
        ("BRAF", True), ("BRAF", False), ("RET", False)}


def test_region_studied_in_rna_report_makes_its_findings_fusion_capable():
    record = read_record([_fixture("region_studied.rna_panel_report.json")])
    (braf,) = record.variants
    assert braf.fusion_capable is True and braf.alteration == "V600E"
    assert {g.gene for g in record.genes_tested if g.fusion_capable} == {
        "BRAF", "RET", "NTRK1", "NTRK2", "NTRK3", "ALK"}


def test_variant_without_method_has_unknown_fusion_capability():
    (braf,) = read_record([_fixture("braf_v600e.p_hgvs_one_letter.json")]).variants
    assert braf.fusion_capable is None


def test_variant_without_presence_value_is_noted_not_read():
    obs = _variant([_component("48018-6", valueCodeableConcept=_cc(
        "http://www.genenames.org/geneId", "HGNC:1097"))])
    del obs["valueCodeableConcept"]
    record = read_record([obs])
    assert record.variants == [] and record.data_quality[0].missing


def test_coordinates_without_coordinate_system_are_not_guessed():
    comps = [_component("48013-7", valueCodeableConcept=_cc("http://www.ncbi.nlm.nih.gov/refseq",
                                                            "NC_000007.13")),
             _component("69547-8", valueString="A"), _component("69551-0", valueString="T"),
             _component("81254-5", valueRange={"low": {"value": 140453136}})]
    record = read_record([_variant(comps)])
    assert record.variants == []
    assert any("coordinate system" in n.message for n in record.data_quality)


def test_entered_in_error_finding_is_not_counted():
    obs = dict(_fixture("braf_v600e.p_hgvs_one_letter.json"), status="entered-in-error")
    record = read_record([obs])
    assert record.variants == [] and record.genes_tested == []
    assert "entered-in-error" in record.data_quality[0].message


@pytest.mark.parametrize("fixture,capable", [
    ("ret_fusion.two_gene_components.json", True),  # method rair#rna-fusion-assay
    ("ntrk3_fusion.text_etv6_ntrk3.json", True),  # method text "Targeted RNA fusion panel"
    ("alk_fusion.so_term_without_prefix.json", True),  # no method: a detected fusion proves it
])
def test_present_fusion_fusion_capability(fixture, capable):
    (fusion,) = read_record([_fixture(fixture)]).variants
    assert fusion.fusion_capable is capable
