"""Code systems, identifiers and the CodeableConcept helper of the sample patients.

Codes exactly as DECISIONS §A3 says; project codes in https://rair-cds.org/fhir/CodeSystem/concepts.
"""

from __future__ import annotations

RAIR = "https://rair-cds.org/fhir/CodeSystem/concepts"
LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
ICD10 = "http://hl7.org/fhir/sid/icd-10-cm"
ICDO3 = "http://terminology.hl7.org/CodeSystem/icd-o-3"
UCUM = "http://unitsofmeasure.org"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
HGNC = "http://www.genenames.org/geneId"
HGVS = "http://varnomen.hgvs.org"
SO = "http://www.sequenceontology.org"
RADLEX = "http://www.radlex.org"
ACTIVITY_EXT = "https://rair-cds.org/fhir/StructureDefinition/administered-activity"

GENE_IDS = {
    "BRAF": 1097, "NRAS": 7989, "HRAS": 5173, "KRAS": 6407, "RET": 9967, "NTRK1": 8031,
    "NTRK2": 8032, "NTRK3": 8033, "ALK": 427, "TERT": 11730,
    # fusion partners (HGNC ids)
    "CCDC6": 18782, "ETV6": 3495, "EML4": 1316,
}
RXNORM_IDS = {
    "lenvatinib": "1603296", "sorafenib": "495881", "cabozantinib": "1363268",
    "selpercatinib": "2370147", "larotrectinib": "2105628",
}
HISTOLOGY = {
    "PTC": ("8260/3", "Papillary adenocarcinoma, NOS"),
    "FTC": ("8330/3", "Follicular adenocarcinoma, NOS"),
    "ATC": ("8020/3", "Carcinoma, undifferentiated, NOS"),
    "MTC": ("8510/3", "Medullary carcinoma, NOS"),
}


def cc(system: str, code: str, display: str | None = None, text: str | None = None) -> dict:
    coding = {"system": system, "code": code}
    if display:
        coding["display"] = display
    out: dict = {"coding": [coding]}
    if text:
        out["text"] = text
    return out
