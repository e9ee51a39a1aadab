"""The codes of ``rules/thyroid/codes.yaml`` that decide what a clinician sees (issue 13).

Each test sends FHIR coded only with the code under test (no display, no text, so the text
fallbacks cannot rescue a lost code) and checks what the reader makes of it. The codes are
DOMAIN.md §A3's (FHIR input profile, also quoted in the README's input table); the SNOMED
"Negative" answer comes from the HL7 R4 core genomics example and the Sequence Ontology
deletion/indel terms from the Genomics Reporting IG examples. ``scripts/mutate_knowledge.py``
removes each safety code (and a sample of the others) to check that a test notices.
"""

from __future__ import annotations

import datetime as dt

import pytest
from test_thyroid_rules_builder import AS_OF, rair_pd

from plugin.thyroid.assessment.builder import assess
from plugin.thyroid.clinical_model import RaiIntent, VariantKind
from plugin.thyroid.knowledge.codes import load_codes
from plugin.thyroid.reading.medication import recognise_drug
from plugin.thyroid.reading.record import read_record

LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
RAIR = "https://rair-cds.org/fhir/CodeSystem/concepts"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
HGNC = "http://www.genenames.org/geneId"
SO = "http://www.sequenceontology.org"
ICDO3 = "http://terminology.hl7.org/CodeSystem/icd-o-3"
ACTIVITY = "https://rair-cds.org/fhir/StructureDefinition/administered-activity"


def cc(system: str, code: str) -> dict:
    return {"coding": [{"system": system, "code": code}]}


def obs(code: dict, rid: str = "o1", **extra) -> dict:
    return {"resourceType": "Observation", "id": rid, "status": "final", "code": code,
            "effectiveDateTime": (AS_OF - dt.timedelta(days=5)).isoformat(), **extra}


def mmhg(value: float) -> dict:
    return {"value": value, "unit": "mm[Hg]", "system": "http://unitsofmeasure.org",
            "code": "mm[Hg]"}


# --------------------------------------------------------------- blood pressure


def bp_panel(systolic: float, diastolic: float) -> dict:
    return obs(cc(LOINC, "85354-9"), "bp", component=[
        {"code": cc(LOINC, "8480-6"), "valueQuantity": mmhg(systolic)},
        {"code": cc(LOINC, "8462-4"), "valueQuantity": mmhg(diastolic)}])


@pytest.mark.parametrize(("systolic", "diastolic"), [(150, 80), (130, 95)])
def test_a_coded_bp_panel_blocks_selpercatinib_when_uncontrolled(
        systolic: float, diastolic: float) -> None:
    """§A3 safety row (LOINC 85354-9 panel, 8480-6 systolic, 8462-4 diastolic) + §A4.8."""
    record = read_record([bp_panel(systolic, diastolic)])
    (bp,) = record.blood_pressures
    assert (bp.systolic, bp.diastolic) == (systolic, diastolic)
    b = rair_pd().variant("RET", "fusion", "fusion", partner="CCDC6")
    b.r.blood_pressures = record.blood_pressures
    j = assess(b.build(), AS_OF).to_json()
    assert any(w["code"] == "W-HTN" and w["blocking"] and "selpercatinib" in w.get("drugs", [])
               for w in j["warnings"])


@pytest.mark.parametrize(("code", "field"), [("8480-6", "systolic"), ("8462-4", "diastolic")])
def test_a_single_bp_observation_is_read(code: str, field: str) -> None:
    (bp,) = read_record([obs(cc(LOINC, code), valueQuantity=mmhg(150))]).blood_pressures
    assert getattr(bp, field) == 150


# --------------------------------------------------------------- pregnancy and lactation


@pytest.mark.parametrize(("answer", "pregnant"), [("LA15173-0", True), ("LA26683-5", False)])
def test_a_coded_pregnancy_status_is_read(answer: str, pregnant: bool) -> None:
    """§A3: pregnancy status LOINC 82810-3, answers LA15173-0 pregnant / LA26683-5 not."""
    record = read_record([obs(cc(LOINC, "82810-3"), valueCodeableConcept=cc(LOINC, answer))])
    assert [p.pregnant for p in record.pregnancy] == [pregnant]
    b = rair_pd(age=30, sex="female")
    b.r.pregnancy = record.pregnancy
    j = assess(b.build(), AS_OF).to_json()
    blocking = any(w["code"] == "W-PREG" and w["blocking"] for w in j["warnings"])
    assert blocking is pregnant


def test_lactation_is_read_from_its_code() -> None:
    record = read_record([obs(cc(RAIR, "lactating"), valueBoolean=True)])
    assert [f.value for f in record.lactation] == [True]


# --------------------------------------------------------------- I-131


def administration(medication: dict, mbq: float, category: str | None = None) -> dict:
    res = {"resourceType": "MedicationAdministration", "id": "ma", "status": "completed",
           "effectiveDateTime": "2024-01-10", "medicationCodeableConcept": medication,
           "dosage": {"dose": {"value": mbq, "unit": "MBq",
                               "system": "http://unitsofmeasure.org", "code": "MBq"}}}
    if category:
        res["category"] = cc(RAIR, category)
    return res


@pytest.mark.parametrize("code", [(SNOMED, "111160004"), (RAIR, "i131")])
def test_an_i131_administration_is_recognised_by_its_code_alone(code: tuple[str, str]) -> None:
    """§A3 radioiodine row / §A4.10: SNOMED 111160004 or rair#i131."""
    (dose,) = read_record([administration(cc(*code), 5550)]).rai_administrations
    assert (dose.activity_mbq, dose.intent) == (5550, RaiIntent.THERAPEUTIC)


@pytest.mark.parametrize(("category", "mbq", "intent"), [
    ("therapeutic", 1000, RaiIntent.THERAPEUTIC),  # coded intent wins over the activity
    ("diagnostic", 2000, RaiIntent.DIAGNOSTIC),
])
def test_a_coded_intent_is_read(category: str, mbq: int, intent: RaiIntent) -> None:
    (dose,) = read_record([administration(cc(SNOMED, "111160004"), mbq, category)]) \
        .rai_administrations
    assert (dose.intent, dose.intent_coded) == (intent, True)


def test_a_radiopharmaceutical_procedure_with_i131_is_a_dose() -> None:
    proc = {"resourceType": "Procedure", "id": "p", "status": "completed",
            "performedDateTime": "2024-01-10", "code": cc(SNOMED, "440252007"),
            "usedCode": [cc(SNOMED, "111160004")],
            "extension": [{"url": ACTIVITY, "valueQuantity": {
                "value": 5550, "unit": "MBq", "system": "http://unitsofmeasure.org",
                "code": "MBq"}}]}
    assert len(read_record([proc]).rai_administrations) == 1


@pytest.mark.parametrize("code", [(SNOMED, "440252007"), (RAIR, "rai-therapy")])
def test_a_service_request_for_rai_therapy_is_an_i131_order(code: tuple[str, str]) -> None:
    """§A4.10: a ServiceRequest coded SNOMED 440252007 or rair#rai-therapy is I-131 therapy."""
    from plugin.thyroid.orders.drafts import read_draft_order

    resource = {"resourceType": "ServiceRequest", "id": "sr", "status": "draft",
                "intent": "order", "code": cc(*code)}
    order = read_draft_order(resource, "ServiceRequest/sr",
                             {"resourceType": "Bundle", "entry": [{"resource": resource}]})
    assert order.i131


def test_the_i131_order_total_ignores_a_coded_diagnostic_dose_of_unknown_activity() -> None:
    """B0.3 / §5: only therapeutic doses count toward the cumulative activity, so a coded
    diagnostic dose whose activity is unknown leaves the total exact (issue 13: counting it
    turned "exactly 22,200 MBq" into "at least")."""
    from orders_helpers import assessment, i131_order, therapeutic

    from plugin.thyroid.clinical_model import PatientRecord, RadioiodineAdministration
    from plugin.thyroid.orders.cards import cards_for_order

    record = PatientRecord(rai_administrations=[
        therapeutic(18500),
        RadioiodineAdministration("MA/dx", dt.date(2024, 6, 1), None, RaiIntent.DIAGNOSTIC, True),
    ])
    (card,) = cards_for_order(i131_order(value=100), assessment(), record, "p1")
    assert "exactly 22,200 MBq" in card.card.detail
    assert "at least" not in card.card.detail


# --------------------------------------------------------------- genomics


def variant(components: list, present: bool = True, rid: str = "v1") -> dict:
    answer = "LA9633-4" if present else "LA9634-2"
    return obs(cc(LOINC, "69548-6"), rid, valueCodeableConcept=cc(LOINC, answer),
               component=components)


def component(code: str, value: dict) -> dict:
    return {"code": cc(LOINC, code), "valueCodeableConcept": value}


def gene(symbol_id: str) -> dict:
    return component("48018-6", cc(HGNC, f"HGNC:{symbol_id}"))


def test_braf_v600e_reported_as_gene_plus_c_hgvs_is_a_driver() -> None:
    """§A3 hotspot table: BRAF c.1799T>A is V600E (issue 13: without it the finding read as
    "BRAF, alteration None" with no data-quality note)."""
    record = read_record([variant([gene("1097"),
                                   component("48004-6", {"text": "NM_004333.4:c.1799T>A"})])])
    (braf,) = record.variants
    assert (braf.gene, braf.alteration, braf.kind) == ("BRAF", "V600E", VariantKind.SNV)
    assert record.data_quality == []


@pytest.mark.parametrize("spdi", ["NC_000007.13:140453135:A:T", "NC_000007.14:140753335:A:T"])
def test_braf_v600e_reported_as_spdi_on_either_build_is_a_driver(spdi: str) -> None:
    """§A3 hotspot table: GRCh37 140453136 and GRCh38 140753336 (1-based; SPDI is 0-based)."""
    spdi_system = "https://api.ncbi.nlm.nih.gov/variation/v0"
    (braf,) = read_record([variant([component("81252-9", cc(spdi_system, spdi))])]).variants
    assert (braf.gene, braf.alteration) == ("BRAF", "V600E")


def test_a_negative_braf_result_does_not_cancel_a_positive_v600e() -> None:
    """§A4.3/§A4.13: a positive V600E stays a driver beside a negative BRAF panel line (issue
    13: letting the negative cancel it made the driver disappear from the assessment)."""
    positive = variant([gene("1097"), component("48005-3", {"text": "p.Val600Glu"})])
    negative = variant([gene("1097")], present=False, rid="v2")
    record = read_record([positive, negative])
    b = rair_pd()
    b.r.variants = record.variants
    j = assess(b.build(), AS_OF).to_json()
    assert {"gene": "BRAF", "alteration": "V600E", "kind": "snv"} in j["drivers"]


@pytest.mark.parametrize("so_code", ["SO:1000044", "SO:0002062", "SO:1000036", "SO:0001565",
                                     "SO:0001886"])
def test_each_fusion_sequence_ontology_term_makes_a_ret_fusion(so_code: str) -> None:
    """§A3 fusion row: the SO terms that mean a fusion (change type, LOINC 48019-4)."""
    record = read_record([variant([gene("9967"), component("48019-4", cc(SO, so_code))])])
    (ret,) = record.variants
    assert (ret.gene, ret.kind) == ("RET", VariantKind.FUSION)


@pytest.mark.parametrize(("hgnc", "symbol"), [
    ("1097", "BRAF"), ("7989", "NRAS"), ("5173", "HRAS"), ("6407", "KRAS"), ("9967", "RET"),
    ("8031", "NTRK1"), ("8032", "NTRK2"), ("8033", "NTRK3"), ("427", "ALK"),
    ("10261", "ROS1")])
def test_hgnc_ids_name_their_genes(hgnc: str, symbol: str) -> None:
    """§A3 gene list (HGNC numeric ids); ROS1 as in the Genomics Reporting IG's ROS1 fusion
    example (HGNC:10261)."""
    assert load_codes().gene_symbol({"system": HGNC, "code": f"HGNC:{hgnc}"}) == symbol


@pytest.mark.parametrize(("text", "gene_3", "partner"), [
    ("RET-CCDC6", "RET", "CCDC6"), ("NTRK1-TPM3", "NTRK1", "TPM3"),
    ("NTRK2-ETV6", "NTRK2", "ETV6"), ("NTRK3-ETV6", "NTRK3", "ETV6")])
def test_the_actionable_3_prime_gene_is_the_fusion_gene_whatever_the_order(
        text: str, gene_3: str, partner: str) -> None:
    """§A4.9: ``gene`` is the actionable 3' gene (RET, NTRK1/2/3, ALK), ``partner`` the other."""
    from plugin.thyroid.reading.variants import fusion_in_text

    assert fusion_in_text([text], load_codes()) == (gene_3, partner)


@pytest.mark.parametrize(("name", "partner"), [("RET/PTC1", "CCDC6"), ("RET/PTC3", "NCOA4")])
def test_named_ret_ptc_rearrangements_name_their_partner(name: str, partner: str) -> None:
    from plugin.thyroid.reading.variants import fusion_in_text

    assert fusion_in_text([name], load_codes()) == ("RET", partner)


# --------------------------------------------------------------- diagnosis, drugs


@pytest.mark.parametrize(("morphology", "histology"), [
    ("8050/3", "PTC"), ("8260/3", "PTC"), ("8340/3", "PTC"), ("8344/3", "PTC"),
    ("8330/3", "FTC"), ("8290/3", "OTC"), ("8337/3", "PDTC"), ("8020/3", "ATC"),
    ("8510/3", "MTC")])
def test_icd_o_3_morphology_gives_the_histology(morphology: str, histology: str) -> None:
    """§A3 histology row (ICD-O-3 morphology codes)."""
    condition = {"resourceType": "Condition", "id": "c",
                 "code": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10-cm",
                                      "code": "C73"}, {"system": ICDO3, "code": morphology}]}}
    (diagnosis,) = read_record([condition]).diagnoses
    assert diagnosis.histology == histology


def test_snomed_papillary_carcinoma_is_a_ptc_diagnosis() -> None:
    condition = {"resourceType": "Condition", "id": "c", "code": cc(SNOMED, "255029007")}
    (diagnosis,) = read_record([condition]).diagnoses
    assert diagnosis.histology == "PTC"


@pytest.mark.parametrize(("rxnorm", "drug"), [
    ("1363268", "cabozantinib"), ("1603296", "lenvatinib"), ("495881", "sorafenib"),
    ("2370147", "selpercatinib"), ("2394936", "pralsetinib"), ("2105628", "larotrectinib"),
    ("2197862", "entrectinib"), ("2670644", "repotrectinib"), ("1424911", "dabrafenib"),
    ("1425099", "trametinib"), ("1147220", "vemurafenib"), ("1148495", "crizotinib"),
    ("2289380", "selumetinib"), ("1098413", "vandetanib")])
def test_rxnorm_ingredient_codes_name_their_drugs(rxnorm: str, drug: str) -> None:
    """§A3 therapy row (RxNorm ingredient codes)."""
    assert recognise_drug(cc(RXNORM, rxnorm)) == [drug]


# DOMAIN.md §A3 codes (the project's own ``rair#`` codes as in the README's "project code
# system" table; the two R4/Genomics-IG example codes named in the module docstring) the reader
# matches on, by the concept they mean.
CONCEPT_CODES = [
    ("scan_diagnostic", RAIR, "diagnostic-scan"), ("scan_post_therapy", RAIR, "post-therapy-scan"),
    ("uptake_none", RAIR, "uptake-no-lesions"), ("uptake_all", RAIR, "uptake-all-lesions"),
    ("uptake_some", RAIR, "uptake-some-lesions"), ("disease_status", LOINC, "97509-4"),
    ("status_worsened", SNOMED, "271299001"), ("status_stable", SNOMED, "359746009"),
    ("status_improved", SNOMED, "268910001"), ("structural_disease", RAIR, "structural-disease"),
    ("qtc", LOINC, "8636-3"), ("potassium", LOINC, "2823-3"), ("tsh", LOINC, "3016-3"),
    ("thyroglobulin", LOINC, "3013-0"), ("region_studied", LOINC, "53041-0"),
    ("c_hgvs", LOINC, "48004-6"), ("p_hgvs", LOINC, "48005-3"),
    ("variation_code", LOINC, "81252-9"), ("change_type", LOINC, "48019-4"),
    ("finding_absent", LOINC, "LA9634-2"), ("finding_absent", SNOMED, "260385009"),
    ("finding_present", LOINC, "LA9633-4"), ("rna_fusion_assay", RAIR, "rna-fusion-assay"),
    ("dna_only_assay", RAIR, "dna-only-assay"), ("indel_terms", SO, "SO:0000159"),
    ("indel_terms", SO, "SO:1000035"), ("intent_diagnostic", RAIR, "diagnostic"),
    ("recist_pd", "http://www.radlex.org", "RID11515"), ("new_lesion", RAIR, "new-lesion"),
]


@pytest.mark.parametrize(("concept", "system", "code"), CONCEPT_CODES,
                         ids=[f"{c}:{k}" for c, _, k in CONCEPT_CODES])
def test_each_profile_code_means_its_concept(concept: str, system: str, code: str) -> None:
    assert load_codes().is_(cc(system, code), concept)


@pytest.mark.parametrize(("mbq", "intent"), [(1109, RaiIntent.DIAGNOSTIC),
                                             (1110, RaiIntent.THERAPEUTIC)])
def test_without_a_coded_intent_below_1110_mbq_a_dose_is_diagnostic(
        mbq: int, intent: RaiIntent) -> None:
    """B0.3: without an intent category, an administration below 1,110 MBq (30 mCi) is
    diagnostic; the reader takes the number from thresholds.yaml, like the rules."""
    (dose,) = read_record([administration(cc(SNOMED, "111160004"), mbq)]).rai_administrations
    assert (dose.intent, dose.intent_coded) == (intent, False)
