"""The reader over the real FHIR examples in ../shared/fhir-examples, read in place.

Each case states what /work/shared/fhir-examples/INDEX.md says the file holds. Files are never
copied into the project; the module is skipped where the shared folder is absent.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from plugin.thyroid.clinical_model import DiseaseStatus, VariantKind
from plugin.thyroid.knowledge.codes import load_codes
from plugin.thyroid.reading.record import read_record
from plugin.thyroid.reading.sequence import sequence_alleles

EXAMPLES = Path(__file__).resolve().parents[1].parent / "shared" / "fhir-examples"
COMPILED = EXAMPLES / "compiled-from-fsh"
STU3 = "compiled-from-fsh/genomics-reporting-stu3-sushi__"

pytestmark = [
    pytest.mark.shared,
    pytest.mark.skipif(not EXAMPLES.is_dir(), reason=f"shared examples absent: {EXAMPLES}"),
]

ALL_FILES = sorted(EXAMPLES.glob("*.json")) + sorted(COMPILED.glob("*.json")) \
    if EXAMPLES.is_dir() else []


def _load(name: str) -> dict:
    path = EXAMPLES / name
    if not path.exists():
        pytest.skip(f"example missing: {path}")
    return json.loads(path.read_text(encoding="utf-8"))


def _read(name: str):
    return read_record([_load(name)])


def _present(record, gene):
    return [v for v in record.variants if v.gene == gene and v.present]


@pytest.mark.parametrize("path", ALL_FILES, ids=lambda p: p.name)
def test_reading_never_raises_and_every_note_has_a_source(path):
    record = read_record([json.loads(path.read_text(encoding="utf-8"))])
    assert all(note.source and note.message for note in record.data_quality)


@pytest.mark.parametrize("name", [
    "genomics-reporting-ff8778e__Bundle-oncology-diagnostic.json",
    "compiled-from-fsh/genomics-reporting-stu3-sushi__Bundle-bundle-oncology-diagnostic.json",
    "genomics-operations__find_subject_tx_implications_1.json",
])
def test_braf_v600e_in_each_example_encoding(name):
    record = _read(name)
    (braf,) = _present(record, "BRAF")
    assert (braf.alteration, braf.kind) == ("V600E", VariantKind.SNV)
    assert any(g.gene == "BRAF" for g in record.genes_tested)


def test_spdi_only_variant_has_no_gene_component_yet_is_braf():
    record = _read("genomics-operations__find_subject_tx_implications_1.json")
    (braf,) = record.variants
    assert braf.description == "NC_000007.14:140753335:A:T"
    # The implications are not findings: no therapy or extra variants come from them.
    assert record.therapies == []


@pytest.mark.parametrize("name", [
    "genomics-reporting-stu1__oncology-report-example.json",
    "genomics-reporting-ff8778e__Bundle-oncology-report-example.json",
])
def test_cegat_one_letter_report(name):
    record = _read(name)
    assert "H1047R" in {v.alteration for v in _present(record, "PIK3CA")}
    (nras,) = _present(record, "NRAS")
    assert nras.alteration == "G12C"
    assert nras.allele_fraction == pytest.approx(0.1793)
    assert nras.genomic_source == "somatic"
    assert len(record.variants) == 12


def test_cegat_three_letter_report_stu3():
    record = _read("compiled-from-fsh/genomics-reporting-stu3-sushi__"
                   "Bundle-bundle-oncology-report-example.json")
    assert "H1047R" in {v.alteration for v in _present(record, "PIK3CA")}
    # STU3 gives NRAS only as NM_002524.4:c.34G>T; no protein change is invented.
    (nras,) = _present(record, "NRAS")
    assert (nras.alteration, nras.description) == (None, "c.34G>T")


def test_legacy_extension_with_bare_hgnc_code_is_egfr():
    record = _read("fhir-r4-core__observation-example-genetics-1.json")
    (egfr,) = record.variants
    assert (egfr.gene, egfr.present, egfr.genomic_source) == ("EGFR", True, "somatic")


def test_genbank_gene_code_is_reported_not_guessed():
    record = _read("fhir-r4-core__observation-example-genetics-brcapat.json")
    assert record.variants == []
    assert any("KX470182.1" in n.message for n in record.data_quality)


def test_ros1_fusion_from_text_only():
    record = _read(STU3 + "Observation-ROS1-Fusion-var.json")
    (ros1,) = record.variants
    assert (ros1.gene, ros1.kind, ros1.alteration, ros1.partner) == (
        "ROS1", VariantKind.FUSION, "fusion", None)


def test_inversion_without_gene_is_reported_unreadable():
    record = _read(STU3 + "Observation-ExampleSomaticINV.json")
    assert record.variants == []
    (note,) = record.data_quality
    assert note.missing and "ExampleSomaticINV" in note.source


def test_coordinate_only_variant_off_hotspot_is_noted():
    record = _read(STU3 + "Observation-VariantExample.json")
    assert record.variants == []
    assert any(n.missing for n in record.data_quality)


def test_coordinate_systems_0_and_1_based_agree():
    codes = load_codes()
    zero = sequence_alleles(_load("fhir-r4-core__coord-0base-example.json"), codes)
    one = sequence_alleles(_load("fhir-r4-core__coord-1base-example.json"), codes)
    assert zero == one
    assert [(a.position, a.ref, a.alt) for a in one] == [
        (2, "", "ATG"), (5, "A", "T"), (7, "T", "")]


@pytest.mark.parametrize("name", [
    "genomics-reporting-ff8778e__Observation-obs-idh-ex.json",
    "genomics-operations__find_subject_tx_implications_6.json",
])
def test_fail_files_no_reader_uses_are_skipped_unvalidated(name):
    # issue 11: implication Observations (codes no rule reads) are not validated, so their
    # strict-validation failures are no longer data-quality notes
    record = _read(name)
    assert not any("read tolerantly" in n.message for n in record.data_quality)


def test_a_read_resource_that_fails_validation_is_noted_and_read_tolerantly():
    tg = {"resourceType": "Observation", "id": "tg-1", "status": "final",
          "issued": "not-an-instant",
          "code": {"coding": [{"system": "http://loinc.org", "code": "3013-0"}]},
          "subject": {"reference": "Patient/p"}, "effectiveDateTime": "2024-01-02",
          "valueQuantity": {"value": 12.5, "unit": "ng/mL"}}
    record = read_record([tg])
    assert any("read tolerantly" in n.message for n in record.data_quality)
    assert [lab.value for lab in record.thyroglobulin] == [12.5]


def test_fail_file_still_yields_its_variant():
    record = _read("genomics-operations__find_subject_tx_implications_6.json")
    assert [v.alteration for v in _present(record, "BRAF")] == ["V600E"]


@pytest.mark.parametrize("suffix", ["01", "02"])
def test_mcode_dose_without_value_is_noted(suffix):
    record = _read(f"mcode-stu1__MedicationStatement-mCODECancerRelatedMedicationStatement"
                   f"Example{suffix}.json")
    assert any("no value" in n.message for n in record.data_quality)


def test_mcode_disease_status_stu1_code_improved():
    record = _read("mcode-stu1__Observation-mCODECancerDiseaseStatusExample01.json")
    (status,) = record.disease_statuses
    assert status.status is DiseaseStatus.IMPROVED
    assert status.date.isoformat() == "2019-04-01"


def test_mcode_region_studied_with_clinvar_id_as_gene_is_noted():
    record = _read("mcode-stu1__Observation-mCODEGenomicRegionStudiedExample01.json")
    assert record.genes_tested == []
    assert any("619728" in n.message for n in record.data_quality)


def test_mcode_variants_are_read_with_source_class():
    stk11 = _read("mcode-stu1__Observation-mCODECancerGeneticVariantExample01.json").variants
    brca1 = _read("mcode-stu1__Observation-mCODECancerGeneticVariantExample02.json").variants
    assert [(v.gene, v.genomic_source) for v in stk11 + brca1] == [
        ("STK11", "somatic"), ("BRCA1", "germline")]


def test_non_thyroid_malignancy_is_not_a_diagnosis():
    assert _read("fhir-r4-core__condition-example-f202-malignancy.json").diagnoses == []
    assert _read("mcode-stu1__Condition-mCODEPrimaryCancerConditionExample01.json").diagnoses == []


def test_contained_medication_resolves_and_non_thyroid_drug_is_ignored():
    record = _read("fhir-r4-core__medicationadministration0305.json")
    assert record.therapies == [] and record.rai_administrations == []
    assert not any("could not be resolved" in n.message for n in record.data_quality)


def test_levothyroxine_in_snomed_is_not_a_therapy():
    assert _read("fhir-r4-core__medicationrequest0314.json").therapies == []


def test_parenthesised_predicted_protein_change():
    (ar,) = _read("genomics-reporting-ff8778e__Observation-SNVexample.json").variants
    assert (ar.gene, ar.alteration) == ("AR", "A412V")


def test_g_hgvs_without_accession_still_reads_gene_and_protein():
    record = _read("genomics-reporting-ff8778e__Bundle-oncologyexamples-r4.json")
    assert [v.alteration for v in _present(record, "JAK2")] == ["V617F"]
