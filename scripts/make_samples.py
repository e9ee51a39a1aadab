"""Write the thyroid sample patients: FHIR Bundles, patient-view requests and expected assessments.

Usage: .venv/bin/python scripts/make_samples.py   (rewrites fhir_samples/thyroid/*)

Every scenario is written by hand below from DECISIONS §D3's input profile (codes exactly as §A3
says; project codes in https://rair-cds.org/fhir/CodeSystem/concepts). The evaluation date is
fixed at 2026-11-27 so the expected assessments are reproducible (``--as-of 2026-11-27``).

Outputs (all committed; this script only regenerates them):

* ``fhir_samples/thyroid/bundles/<scenario>.json``: a FHIR R4 ``collection`` Bundle;
* ``fhir_samples/thyroid/patient-view.<scenario>.json``: a ready-made CDS Hooks request whose
  prefetch is built from the bundle with the service's prefetch keys;
* ``fhir_samples/thyroid/expected/<scenario>.json``: the §A1 fields expected (see README);
* ``fhir_samples/thyroid/index.json``: name, title and paths of every scenario.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "fhir_samples" / "thyroid"
EVALUATION_DATE = "2026-11-27"

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
NS = uuid.UUID("6f1d7c1e-5b0a-4a8e-9d7e-2f1b6a0c9e11")

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
PREFETCH_QUERIES = {
    "patient": "Patient",
    "conditions": "Condition",
    "observations": "Observation",
    "procedures": "Procedure",
    "medicationStatements": "MedicationStatement",
    "medicationRequests": "MedicationRequest",
    "medicationAdministrations": "MedicationAdministration",
    "diagnosticReports": "DiagnosticReport",
    "molecularSequences": "MolecularSequence",
}


def cc(system: str, code: str, display: str | None = None, text: str | None = None) -> dict:
    coding = {"system": system, "code": code}
    if display:
        coding["display"] = display
    out: dict = {"coding": [coding]}
    if text:
        out["text"] = text
    return out


class Patient:
    """Builds one scenario's resources with stable ids."""

    def __init__(self, pid: str, birth: str, sex: str, name: tuple[str, str]) -> None:
        self.pid = pid
        self.ref = {"reference": f"Patient/{pid}"}
        self.resources: list[dict] = [
            {
                "resourceType": "Patient",
                "id": pid,
                "name": [{"family": name[0], "given": [name[1]]}],
                "gender": sex,
                "birthDate": birth,
            }
        ]
        self._n = 0

    def _id(self, prefix: str) -> str:
        self._n += 1
        return f"{self.pid}-{prefix}-{self._n}"

    def add(self, resource: dict) -> dict:
        self.resources.append(resource)
        return resource

    # --- diagnosis -------------------------------------------------------------------------
    def cancer(self, histology: str = "PTC", onset: str = "2022-09-15") -> None:
        morph, display = HISTOLOGY[histology]
        self.add({
            "resourceType": "Condition",
            "id": self._id("cond"),
            "clinicalStatus": cc("http://terminology.hl7.org/CodeSystem/condition-clinical",
                                 "active"),
            "verificationStatus": cc(
                "http://terminology.hl7.org/CodeSystem/condition-ver-status", "confirmed"),
            "code": {
                "coding": [
                    {"system": ICD10, "code": "C73",
                     "display": "Malignant neoplasm of thyroid gland"},
                    {"system": ICDO3, "code": morph, "display": display},
                ],
                "text": f"Thyroid carcinoma ({display.lower()})",
            },
            "subject": self.ref,
            "onsetDateTime": onset,
        })

    def thyroidectomy(self, date: str) -> None:
        self.add({
            "resourceType": "Procedure", "id": self._id("surg"), "status": "completed",
            "code": cc(SNOMED, "13619001", "Thyroidectomy"),
            "subject": self.ref, "performedDateTime": date,
        })

    # --- radioiodine -----------------------------------------------------------------------
    def rai(self, date: str, value: float | None, unit: str | None = "mCi",
            intent: str | None = "therapeutic") -> None:
        dose: dict = {"value": value}
        if unit:
            dose.update({"unit": unit, "system": UCUM, "code": unit})
        res: dict = {
            "resourceType": "MedicationAdministration", "id": self._id("rai"),
            "status": "completed",
            "medicationCodeableConcept": cc(SNOMED, "111160004", "Sodium iodide (131-I)",
                                            "Sodium iodide I-131"),
            "subject": self.ref, "effectiveDateTime": date,
            "dosage": {"route": cc(SNOMED, "26643006", "Oral route"), "dose": dose},
        }
        if intent:
            res["category"] = cc(RAIR, intent)
        self.add(res)

    def scan(self, date: str, kind: str, uptake: str, tsh: float | None = None) -> None:
        comps = [{"code": cc(RAIR, "scan-kind"), "valueCodeableConcept": cc(RAIR, f"{kind}-scan")}]
        if tsh is not None:
            comps.append({"code": cc(LOINC, "3016-3", "Thyrotropin [Units/volume] in Serum"),
                          "valueQuantity": {"value": tsh, "unit": "mIU/L", "system": UCUM,
                                            "code": "m[IU]/L"}})
        self.add({
            "resourceType": "Observation", "id": self._id("wbs"), "status": "final",
            "category": [cc("http://terminology.hl7.org/CodeSystem/observation-category",
                            "imaging")],
            "code": cc(RAIR, "rai-wbs", "Radioiodine whole-body scan"),
            "subject": self.ref, "effectiveDateTime": date,
            "valueCodeableConcept": cc(RAIR, f"uptake-{uptake}-lesions"),
            "component": comps,
        })

    def contrast(self, date: str) -> None:
        self.add({
            "resourceType": "Procedure", "id": self._id("ctc"), "status": "completed",
            "code": cc(RAIR, "iodinated-contrast",
                       text="Contrast-enhanced CT chest (iodinated IV contrast)"),
            "subject": self.ref, "performedDateTime": date,
        })

    # --- disease course --------------------------------------------------------------------
    def _obs(self, prefix: str, code: dict, date: str, **value: object) -> None:
        self.add({"resourceType": "Observation", "id": self._id(prefix), "status": "final",
                  "code": code, "subject": self.ref, "effectiveDateTime": date, **value})

    def lesion_sum(self, date: str, mm: float) -> None:
        self._obs("sld", cc(RAIR, "target-lesion-sum", "Sum of target-lesion diameters"), date,
                  valueQuantity={"value": mm, "unit": "mm", "system": UCUM, "code": "mm"})

    def new_lesion(self, date: str) -> None:
        self._obs("newl", cc(RAIR, "new-lesion", "New lesion"), date, valueBoolean=True)

    def status(self, date: str, value: str) -> None:
        codes = {"worsened": ("271299001", "Patient's condition worsened"),
                 "stable": ("359746009", "Patient's condition stable"),
                 "improved": ("268910001", "Patient's condition improved")}
        code, display = codes[value]
        self._obs("cds", cc(LOINC, "97509-4", "Cancer disease status"), date,
                  valueCodeableConcept=cc(SNOMED, code, display))

    def flag(self, code: str, date: str, value: bool) -> None:
        self._obs(code, cc(RAIR, code), date, valueBoolean=value)

    def tg(self, date: str, ng_ml: float) -> None:
        self._obs("tg", cc(LOINC, "3013-0", "Thyroglobulin [Mass/volume] in Serum or Plasma"),
                  date, valueQuantity={"value": ng_ml, "unit": "ng/mL", "system": UCUM,
                                       "code": "ng/mL"})

    def tg_ab(self, date: str, value: float) -> None:
        self._obs("tgab", cc(LOINC, "8098-6", "Thyroglobulin Ab [Units/volume] in Serum"), date,
                  valueQuantity={"value": value, "unit": "[IU]/mL", "system": UCUM,
                                 "code": "[IU]/mL"})

    # --- safety ----------------------------------------------------------------------------
    def bp(self, date: str, sys_: int, dia: int) -> None:
        def q(v: int) -> dict:
            return {"value": v, "unit": "mmHg", "system": UCUM, "code": "mm[Hg]"}
        self._obs("bp", cc(LOINC, "85354-9", "Blood pressure panel"), date, component=[
            {"code": cc(LOINC, "8480-6", "Systolic blood pressure"), "valueQuantity": q(sys_)},
            {"code": cc(LOINC, "8462-4", "Diastolic blood pressure"), "valueQuantity": q(dia)},
        ])

    def pregnancy(self, date: str, pregnant: bool) -> None:
        value = cc(LOINC, "LA15173-0", "Pregnant") if pregnant else cc(LOINC, "LA26683-5",
                                                                          "Not pregnant")
        self._obs("preg", cc(LOINC, "82810-3", "Pregnancy status"), date,
                  valueCodeableConcept=value)

    def hemoptysis(self, date: str) -> None:
        self.add({
            "resourceType": "Condition", "id": self._id("hemo"),
            "clinicalStatus": cc("http://terminology.hl7.org/CodeSystem/condition-clinical",
                                 "active"),
            "code": cc(SNOMED, "66857006", "Hemoptysis"),
            "subject": self.ref, "onsetDateTime": date,
        })

    # --- therapy ---------------------------------------------------------------------------
    def therapy(self, drug: str, start: str, end: str | None = None,
                stopped: str | None = None) -> None:
        res: dict = {
            "resourceType": "MedicationStatement", "id": self._id("med"),
            "status": "completed" if end else "active",
            "medicationCodeableConcept": cc(RXNORM, RXNORM_IDS[drug], drug),
            "subject": self.ref,
            "effectivePeriod": {"start": start, **({"end": end} if end else {})},
        }
        if stopped:
            res["statusReason"] = [cc(RAIR, f"stopped-{stopped}")]
        self.add(res)

    # --- genomics --------------------------------------------------------------------------
    def _gene(self, symbol: str) -> dict:
        return {"code": cc(LOINC, "48018-6", "Gene studied [ID]"),
                "valueCodeableConcept": cc(HGNC, f"HGNC:{GENE_IDS[symbol]}", symbol)}

    def variant(self, gene: str, *, p_hgvs: str | None = None, c_hgvs: str | None = None,
                date: str = "2026-08-20", present: bool = True, fusion_partner: str | None = None,
                extra_genes: tuple[str, ...] = (), rna: bool = True, vaf: float | None = None,
                text: str | None = None) -> None:
        comps = []
        if fusion_partner:
            comps += [self._gene(fusion_partner), self._gene(gene)]
            comps.append({"code": cc(LOINC, "48019-4", "DNA change type"),
                          "valueCodeableConcept": cc(SO, "SO:0001565", "gene_fusion")})
            comps.append({"code": cc(LOINC, "81252-9", "Discrete genetic variant"),
                          "valueCodeableConcept": {"text": f"{fusion_partner}::{gene}"}})
        else:
            comps.append(self._gene(gene))
            comps += [self._gene(g) for g in extra_genes]
        if c_hgvs:
            comps.append({"code": cc(LOINC, "48004-6", "DNA change (c.HGVS)"),
                          "valueCodeableConcept": cc(HGVS, c_hgvs, c_hgvs)})
        if p_hgvs:
            comps.append({"code": cc(LOINC, "48005-3", "Amino acid change (pHGVS)"),
                          "valueCodeableConcept": cc(HGVS, p_hgvs, p_hgvs)})
        if vaf is not None:
            comps.append({"code": cc(LOINC, "81258-6", "Sample variant allelic frequency"),
                          "valueQuantity": {"value": vaf, "system": UCUM, "code": "1"}})
        comps.append({"code": cc(LOINC, "48002-0", "Genomic source class"),
                      "valueCodeableConcept": cc(LOINC, "LA6684-0", "Somatic")})
        method = (cc(RAIR, "rna-fusion-assay", "Comprehensive DNA + RNA (fusion) NGS panel",
                     "Tissue NGS, DNA + RNA fusion panel") if rna
                  else cc(RAIR, "dna-only-assay", "DNA hotspot panel", "DNA hotspot NGS panel"))
        self.add({
            "resourceType": "Observation", "id": self._id("var"), "status": "final",
            "category": [cc("http://terminology.hl7.org/CodeSystem/observation-category",
                            "laboratory")],
            "code": cc(LOINC, "69548-6", "Genetic variant assessment"),
            "subject": self.ref, "effectiveDateTime": date,
            "valueCodeableConcept": (cc(LOINC, "LA9633-4", "Present") if present
                                     else cc(LOINC, "LA9634-2", "Absent")),
            "method": method,
            **({"note": [{"text": text}]} if text else {}),
            "component": comps,
        })

    def negatives(self, genes: tuple[str, ...] = ("BRAF", "RET", "NTRK1", "NTRK2", "NTRK3", "ALK"),
                  date: str = "2026-08-20") -> None:
        """A fusion-capable panel reporting no alteration in ``genes`` (pertinent negatives)."""
        self.variant(genes[0], extra_genes=genes[1:], present=False, date=date)


# --------------------------------------------------------------------------------------------
# Scenario building blocks
# --------------------------------------------------------------------------------------------

def adult(pid: str, sex: str = "female", birth: str = "1962-04-18",
          name: tuple[str, str] = ("Example", "Alex"), histology: str = "PTC") -> Patient:
    p = Patient(pid, birth, sex, name)
    p.cancer(histology)
    p.thyroidectomy("2022-10-03")
    return p


def js_ii_base(p: Patient, rai_date: str = "2024-03-01", scan_date: str = "2024-03-08") -> None:
    """One therapeutic 150 mCi (5,550 MBq) RAI; post-therapy scan with no uptake, TSH 85."""
    p.rai(rai_date, 150)
    p.scan(scan_date, "post-therapy", "no", tsh=85)


def recent_pd(p: Patient, first: tuple[str, float] = ("2025-01-15", 30),
              second: tuple[str, float] = ("2026-06-10", 38)) -> None:
    """Target-lesion sums rising >= 20 % and >= 5 mm, the rise dated within 14 months."""
    p.lesion_sum(*first)
    p.lesion_sum(*second)
    p.status(second[0], "worsened")


SCENARIOS: list[dict] = []


def scenario(name: str, title: str, expected: dict, notes: str = ""):  # noqa: ANN201
    def wrap(fn):  # noqa: ANN001, ANN202
        SCENARIOS.append({"name": name, "title": title, "build": fn, "expected": expected,
                          "notes": notes})
        return fn
    return wrap


NEG = {"rairCriteria": []}

# --- RAI-refractory status by criterion -----------------------------------------------------


@scenario("js-i-diagnostic-scan-no-uptake",
          "JS-i: no uptake on a diagnostic scan after therapy; stable disease",
          {"rairStatus": "YES", "rairCriteria": ["JS-i"], "progression": "NO_PD",
           "action": "MONITOR", "suggestMolecularTesting": False, "drivers": [],
           "rulesFired": ["B1"]},
          "Avid on the 2023 post-therapy scan; the 2025 rhTSH diagnostic scan (TSH 110) shows no "
          "uptake. Sums 22 -> 23 mm: no PD, so D1 monitoring and no testing (E2).")
def _(p: Patient) -> None:
    p.rai("2023-05-10", 100)
    p.scan("2023-05-17", "post-therapy", "all", tsh=92)
    p.rai("2025-09-13", 4, intent="diagnostic")
    p.scan("2025-09-15", "diagnostic", "no", tsh=110)
    p.lesion_sum("2025-09-20", 22)
    p.lesion_sum("2026-09-20", 23)


@scenario("js-ii-post-therapy-no-uptake",
          "JS-ii: no uptake on the post-therapy scan; recent PD; not yet tested",
          {"rairStatus": "YES", "rairCriteria": ["JS-ii"], "progression": "RECENT_PD",
           "action": "ORDER_MOLECULAR_TESTING", "suggestMolecularTesting": True, "drivers": [],
           "rulesFired": ["B2", "C1", "C2", "E1"]},
          "150 mCi in 2024, post-therapy scan negative (TSH 85). Sums 30 -> 38 mm (+27 %, +8 mm) "
          "in June 2026. No molecular result: E1 before systemic therapy.")
def _(p: Patient) -> None:
    js_ii_base(p)
    recent_pd(p)


@scenario("js-iii-some-lesions",
          "JS-iii: uptake in some lesions only, recent PD",
          {"rairStatus": "YES", "rairCriteria": ["JS-iii"], "progression": "RECENT_PD",
           "action": "LOCAL_THERAPY_FIRST", "suggestMolecularTesting": True,
           "warnings": [{"code": "W-FRAMEWORK-DISCORDANCE", "blocking": False}],
           "rulesFired": ["B3"]},
          "Mixed uptake on the post-therapy scan; §A4.1 step 5 (JS-iii with RECENT_PD) gives "
          "local therapy first; E1 still fires (no molecular result).")
def _(p: Patient) -> None:
    p.rai("2024-04-02", 150)
    p.scan("2024-04-09", "post-therapy", "some", tsh=76)
    recent_pd(p, ("2025-02-01", 26), ("2026-07-01", 33))


@scenario("js-iv-progression-despite-uptake",
          "JS-iv: progression within 12 months despite avid RAI; no actionable driver",
          {"rairStatus": "YES", "rairCriteria": ["JS-iv"], "progression": "RECENT_PD",
           "action": "SYSTEMIC_FIRST_LINE", "suggestMolecularTesting": False, "drivers": [],
           "therapies": {"onLabel": [{"drug": "lenvatinib", "preferred": True},
                                     {"drug": "sorafenib"}],
                         "notEligible": [{"drug": "cabozantinib"}]},
           "warnings": [{"code": "W-HTN", "blocking": False}],
           "rulesFired": ["B4", "C1", "C2", "F1"]},
          "150 mCi Feb 2025 with uptake in all lesions; sums 25 -> 32 mm in Jan 2026 (11 months "
          "after RAI, no W-LATE-PD). Fusion-capable panel negative: F1, lenvatinib preferred.")
def _(p: Patient) -> None:
    p.rai("2025-02-03", 150)
    p.scan("2025-02-10", "post-therapy", "all", tsh=88)
    recent_pd(p, ("2025-05-01", 25), ("2026-01-15", 32))
    p.negatives(date="2026-03-01")


@scenario("js-v-cumulative-601-mci",
          "JS-v: PD after 601 mCi (22,237 MBq) cumulative, no scan reports",
          {"rairStatus": "YES", "rairCriteria": ["JS-v"], "progression": "RECENT_PD",
           "action": "SYSTEMIC_FIRST_LINE", "suggestMolecularTesting": False,
           "therapies": {"onLabel": [{"drug": "lenvatinib", "preferred": True}]},
           "warnings": [{"code": "W-DATA-MISSING", "blocking": False}],
           "rulesFired": ["B5", "C1"]},
          "150+150+150+151 mCi = 22,237 MBq > 22,200 MBq with PD (B5). Uptake unknown while a "
          "criterion is met: W-DATA-MISSING informational (§2.9).")
def _(p: Patient) -> None:
    for date, mci in (("2016-04-12", 150), ("2018-06-20", 150), ("2020-09-08", 150),
                      ("2022-11-15", 151)):
        p.rai(date, mci)
    recent_pd(p, ("2023-06-01", 40), ("2026-08-01", 50))
    p.negatives(date="2026-09-01")


@scenario("exactly-600-mci-not-met",
          "600 mCi exactly (22,200 MBq) with PD: JS-v not met, uptake unknown",
          {"rairStatus": "NOT_ESTABLISHED", "rairCriteria": [], "progression": "RECENT_PD",
           "action": "COMPLETE_DATA", "suggestMolecularTesting": False,
           "warnings": [{"code": "W-THRESHOLD-EQUAL", "blocking": False},
                        {"code": "W-DATA-MISSING", "blocking": True}],
           "missingData": "non-empty"},
          "4 x 150 mCi = 22,200 MBq is not > 22,200 MBq (B0.3, §5). No scan report: A5.")
def _(p: Patient) -> None:
    for date in ("2016-04-12", "2018-06-20", "2020-09-08", "2022-11-15"):
        p.rai(date, 150)
    recent_pd(p, ("2023-06-01", 40), ("2026-08-01", 50))
    p.negatives(date="2026-09-01")


@scenario("not-refractory-avid-stable",
          "Not RAI-refractory: avid post-therapy scan, stable disease",
          {"rairStatus": "NO", "rairCriteria": [], "progression": "NO_PD", "action": "MONITOR",
           "suggestMolecularTesting": False, "rulesFired": ["B6"]},
          "100 mCi in 2024 with uptake in all lesions; sums 18 -> 17 mm.")
def _(p: Patient) -> None:
    p.rai("2024-06-01", 100)
    p.scan("2024-06-08", "post-therapy", "all", tsh=64)
    p.lesion_sum("2025-01-10", 18)
    p.lesion_sum("2026-07-10", 17)
    p.status("2026-07-10", "stable")


@scenario("not-established-no-post-therapy-scan",
          "Not established: therapeutic RAI but no post-therapy scan report; PD",
          {"rairStatus": "NOT_ESTABLISHED", "rairCriteria": [], "progression": "RECENT_PD",
           "action": "COMPLETE_DATA", "suggestMolecularTesting": False,
           "warnings": [{"code": "W-DATA-MISSING", "blocking": True}],
           "missingData": "non-empty", "rulesFired": ["A5"]},
          "150 mCi in 2025, PD in 2026, no scan of any kind: A5 (never NO).")
def _(p: Patient) -> None:
    p.rai("2025-03-01", 150)
    recent_pd(p, ("2025-06-01", 30), ("2026-09-01", 37))


@scenario("no-prior-therapeutic-rai",
          "A2: diagnostic tracer only, no therapeutic RAI",
          {"rairStatus": "NOT_ESTABLISHED", "rairCriteria": [], "action": "RAI_EVALUATION",
           "suggestMolecularTesting": False, "rulesFired": ["A2"]},
          "A 2 mCi (74 MBq) diagnostic dose and a negative diagnostic scan; no therapeutic "
          "administration (ATA 2025 Rec 59A).")
def _(p: Patient) -> None:
    p.rai("2025-10-01", 2, intent="diagnostic")
    p.scan("2025-10-03", "diagnostic", "no", tsh=60)
    p.lesion_sum("2025-10-05", 21)


@scenario("scan-after-iodinated-contrast",
          "A3: negative post-therapy scan within 8 weeks of iodinated contrast",
          {"rairStatus": "NOT_ESTABLISHED", "rairCriteria": [], "progression": "RECENT_PD",
           "action": "COMPLETE_DATA", "suggestMolecularTesting": False,
           "warnings": [{"code": "W-IODINE", "blocking": True}],
           "missingData": "non-empty", "rulesFired": ["A3"]},
          "Contrast CT 2024-12-10, 150 mCi 2025-01-20 (41 days later), negative scan 2025-01-27.")
def _(p: Patient) -> None:
    p.contrast("2024-12-10")
    p.rai("2025-01-20", 150)
    p.scan("2025-01-27", "post-therapy", "no", tsh=90)
    recent_pd(p, ("2025-04-01", 30), ("2026-08-15", 37))


@scenario("scan-low-tsh",
          "A3: negative post-therapy scan with inadequate TSH stimulation (12 mIU/L)",
          {"rairStatus": "NOT_ESTABLISHED", "rairCriteria": [], "progression": "NO_PD",
           "action": "COMPLETE_DATA", "suggestMolecularTesting": False,
           "warnings": [{"code": "W-TSH", "blocking": True}],
           "missingData": "non-empty", "rulesFired": ["A3"]},
          "TSH 12 mIU/L on the scan (goal > 30); sums stable.")
def _(p: Patient) -> None:
    p.rai("2024-09-10", 100)
    p.scan("2024-09-17", "post-therapy", "no", tsh=12)
    p.lesion_sum("2025-03-01", 20)
    p.lesion_sum("2026-06-01", 21)


@scenario("tg-only-no-structural-disease",
          "A4: rising thyroglobulin, no structurally evident disease",
          {"rairStatus": "NOT_ESTABLISHED", "rairCriteria": [], "action": "COMPLETE_DATA",
           "suggestMolecularTesting": False,
           "warnings": [{"code": "W-TG-ONLY", "blocking": False}], "rulesFired": ["A4"]},
          "Tg 2.1 -> 5.4 -> 11.8 ng/mL, TgAb negative, imaging without structural disease.")
def _(p: Patient) -> None:
    p.rai("2023-04-03", 100)
    p.scan("2023-04-10", "post-therapy", "no", tsh=95)
    p.tg("2025-03-01", 2.1)
    p.tg("2025-12-01", 5.4)
    p.tg("2026-09-01", 11.8)
    p.tg_ab("2026-09-01", 0.9)
    p.flag("structural-disease", "2026-09-05", False)


# --- drivers ---------------------------------------------------------------------------------

@scenario("braf-v600e-first-line",
          "BRAF V600E, JS-ii, recent PD: lenvatinib preferred first line",
          {"rairStatus": "YES", "rairCriteria": ["JS-ii"], "progression": "RECENT_PD",
           "action": "SYSTEMIC_FIRST_LINE", "suggestMolecularTesting": False,
           "drivers": [{"gene": "BRAF", "alteration": "V600E", "kind": "snv"}],
           "therapies": {"onLabel": [{"drug": "lenvatinib", "preferred": True},
                                     {"drug": "sorafenib"}],
                         "notEligible": [{"drug": "cabozantinib"},
                                         {"drug": "dabrafenib+trametinib"}],
                         "trialOnly": [{"drug": "dabrafenib+trametinib"}]},
           "therapiesAbsent": {"onLabel": ["dabrafenib+trametinib"],
                               "guidelineSupportedOffLabel": ["dabrafenib+trametinib"]},
           "rulesFired": ["F5", "F9"]},
          "F5 / Rec 70A: lenvatinib stays preferred; D+T is not on label first line (§A4.7: no PD "
          "on an MKI, lenvatinib/sorafenib label-eligible, poor lenvatinib candidacy not "
          "recorded), so it is notEligible with that reason; the redifferentiation trial pointer "
          "(F9, NCT03244956, the §A1 example) stays in trialOnly beside it.")
def _(p: Patient) -> None:
    js_ii_base(p)
    recent_pd(p)
    p.variant("BRAF", p_hgvs="NP_004324.2:p.Val600Glu", c_hgvs="NM_004333.4:c.1799T>A",
              vaf=0.31)


@scenario("ret-fusion-first-line",
          "CCDC6::RET fusion, JS-ii, recent PD: selpercatinib first line",
          {"rairStatus": "YES", "rairCriteria": ["JS-ii"], "progression": "RECENT_PD",
           "action": "SYSTEMIC_FIRST_LINE", "suggestMolecularTesting": False,
           "drivers": [{"gene": "RET", "alteration": "fusion", "kind": "fusion",
                        "partner": "CCDC6"}],
           "therapies": {"onLabel": [{"drug": "selpercatinib", "preferred": True},
                                     {"drug": "pralsetinib"}]},
           "warnings": [{"code": "W-ACCEL", "blocking": False, "drugs": ["pralsetinib"]},
                        {"code": "W-INFECTION", "blocking": False}],
           "rulesFired": ["F2"]},
          "F2 / Rec 68. BP 128/78 (controlled).")
def _(p: Patient) -> None:
    js_ii_base(p)
    recent_pd(p)
    p.variant("RET", fusion_partner="CCDC6",
              text="CCDC6::RET (RET/PTC1) fusion detected by RNA NGS")
    p.bp("2026-11-10", 128, 78)


@scenario("ntrk-fusion-first-line",
          "ETV6::NTRK3 fusion, JS-ii, recent PD: NTRK inhibitor first line",
          {"rairStatus": "YES", "rairCriteria": ["JS-ii"], "progression": "RECENT_PD",
           "action": "SYSTEMIC_FIRST_LINE", "suggestMolecularTesting": False,
           "drivers": [{"gene": "NTRK3", "alteration": "fusion", "kind": "fusion",
                        "partner": "ETV6"}],
           "therapies": {"onLabel": [{"drug": "larotrectinib", "preferred": True},
                                     {"drug": "entrectinib"}, {"drug": "repotrectinib"}]},
           "warnings": [{"code": "W-ACCEL", "blocking": False}],
           "rulesFired": ["F3"]},
          "F3 / Rec 67.")
def _(p: Patient) -> None:
    js_ii_base(p)
    recent_pd(p)
    p.variant("NTRK3", fusion_partner="ETV6", text="ETV6::NTRK3 fusion detected by RNA NGS")


@scenario("alk-fusion-first-line",
          "EML4::ALK fusion, JS-ii, recent PD: ALK inhibitor guideline-supported, off-label",
          {"rairStatus": "YES", "rairCriteria": ["JS-ii"], "progression": "RECENT_PD",
           "action": "SYSTEMIC_FIRST_LINE", "suggestMolecularTesting": False,
           "drivers": [{"gene": "ALK", "alteration": "fusion", "kind": "fusion",
                        "partner": "EML4"}],
           "therapies": {"guidelineSupportedOffLabel": [{"drug": "crizotinib"}],
                         "onLabel": [{"drug": "lenvatinib"}]},
           "warnings": [{"code": "W-OFF-LABEL", "blocking": False}],
           "rulesFired": ["F4"]},
          "F4 / Rec 69 (S-L): off-label ALK inhibitor; lenvatinib/sorafenib on label.")
def _(p: Patient) -> None:
    js_ii_base(p)
    recent_pd(p)
    p.variant("ALK", fusion_partner="EML4", text="EML4::ALK fusion detected by RNA NGS")


@scenario("nras-q61r-first-line",
          "NRAS Q61R only (fusion panel negative), JS-ii, recent PD: lenvatinib",
          {"rairStatus": "YES", "rairCriteria": ["JS-ii"], "progression": "RECENT_PD",
           "action": "SYSTEMIC_FIRST_LINE", "suggestMolecularTesting": False,
           "drivers": [{"gene": "NRAS", "alteration": "Q61R", "kind": "snv"}],
           "therapies": {"onLabel": [{"drug": "lenvatinib", "preferred": True}]},
           "rulesFired": ["F7"]},
          "F7: no approved RAS-targeted therapy; redifferentiation is trial only.")
def _(p: Patient) -> None:
    js_ii_base(p)
    recent_pd(p)
    p.variant("NRAS", p_hgvs="NP_002515.1:p.Gln61Arg", c_hgvs="NM_002524.4:c.182A>G", vaf=0.28)
    p.negatives()


# --- later lines -----------------------------------------------------------------------------

@scenario("cabozantinib-after-lenvatinib",
          "PD on lenvatinib (stopped for progression): cabozantinib second line",
          {"rairStatus": "YES", "rairCriteria": ["JS-ii"], "progression": "RECENT_PD",
           "action": "SYSTEMIC_LATER_LINE", "suggestMolecularTesting": False,
           "therapies": {"onLabel": [{"drug": "cabozantinib"}]},
           "rulesFired": ["G1"]},
          "Lenvatinib 2025-01-10..2026-07-20; nadir 28 mm (June 2025), 36 mm July 2026 "
          "(+29 %, +8 mm; C1b). Fusion-capable panel negative.")
def _(p: Patient) -> None:
    js_ii_base(p)
    p.lesion_sum("2025-01-05", 40)
    p.status("2025-01-05", "worsened")
    p.lesion_sum("2025-06-01", 28)
    p.lesion_sum("2026-07-15", 36)
    p.status("2026-07-15", "worsened")
    p.therapy("lenvatinib", "2025-01-10", "2026-07-20", stopped="progression")
    p.negatives(date="2024-12-01")


@scenario("ntrk-resistance-repotrectinib",
          "ETV6::NTRK3 with PD on larotrectinib and NTRK3 G623R: repotrectinib",
          {"rairStatus": "YES", "rairCriteria": ["JS-ii"], "progression": "RECENT_PD",
           "action": "SYSTEMIC_LATER_LINE", "suggestMolecularTesting": False,
           "therapies": {"onLabel": [{"drug": "repotrectinib"}],
                         "notEligible": [{"drug": "larotrectinib"}, {"drug": "entrectinib"}]},
           "rulesFired": ["G4"]},
          "G4: acquired solvent-front resistance mutation after larotrectinib.")
def _(p: Patient) -> None:
    ntrk3_fusion_pd_on_larotrectinib(p)
    p.variant("NTRK3", p_hgvs="NP_001012338.1:p.Gly623Arg", date="2026-08-20", vaf=0.12,
              text="NTRK3 G623R (solvent-front) acquired resistance mutation")


# --- safety ----------------------------------------------------------------------------------

@scenario("pregnant-systemic-indicated",
          "Pregnant, RAIR with recent PD, no actionable driver: no TKI or RAI now, MDT review",
          {"rairStatus": "YES", "rairCriteria": ["JS-ii"], "progression": "RECENT_PD",
           "action": "MDT_REVIEW_REQUIRED", "suggestMolecularTesting": False,
           "therapies": {"onLabel": [{"drug": "lenvatinib", "preferred": False},
                                     {"drug": "sorafenib", "preferred": False}]},
           "warnings": [{"code": "W-PREG", "blocking": True,
                         "drugs": ["lenvatinib", "sorafenib"]}], "rulesFired": ["H4"]},
          "§A4.11 rule 4 (issue 9): W-PREG blocks every offered TKI (a non-fixable block), so "
          "no drug is preferred; SYSTEMIC_FIRST_LINE becomes MDT_REVIEW_REQUIRED and the therapy "
          "card says 'Pregnancy or lactation: no TKI or RAI now; MDT review'.")
def _(p: Patient) -> None:
    js_ii_base(p)
    recent_pd(p)
    p.negatives()
    p.pregnancy("2026-11-01", True)


@scenario("ret-fusion-uncontrolled-bp",
          "RET fusion with BP 162/98: control blood pressure, then selpercatinib (still preferred)",
          {"rairStatus": "YES", "rairCriteria": ["JS-ii"], "progression": "RECENT_PD",
           "action": "SYSTEMIC_FIRST_LINE", "suggestMolecularTesting": False,
           "therapies": {"onLabel": [{"drug": "selpercatinib", "preferred": True},
                                     {"drug": "pralsetinib", "preferred": True}]},
           "warnings": [{"code": "W-HTN", "blocking": True,
                         "drugs": ["selpercatinib", "pralsetinib", "lenvatinib"]},
                        {"code": "W-HTN", "blocking": False, "drugs": ["sorafenib"]}]},
          "§A4.11 rule 1 (issue 9): W-HTN is a FIXABLE block, by label for selpercatinib and "
          "pralsetinib ('do not initiate ... uncontrolled hypertension'), DESIGN for lenvatinib; "
          "sorafenib keeps a caution. Preferred does not move to another drug and the action is "
          "unchanged: the next step reads 'Control blood pressure before starting selpercatinib'. "
          "§A4.8 BP >= 140/90.")
def _(p: Patient) -> None:
    js_ii_base(p)
    recent_pd(p)
    p.variant("RET", fusion_partner="CCDC6", text="CCDC6::RET fusion detected by RNA NGS")
    p.bp("2026-11-10", 162, 98)


@scenario("hemoptysis-cabozantinib",
          "PD on lenvatinib with hemoptysis last month: every on-label option blocked, MDT review",
          {"rairStatus": "YES", "rairCriteria": ["JS-ii"], "progression": "RECENT_PD",
           "action": "MDT_REVIEW_REQUIRED", "suggestMolecularTesting": False,
           "therapies": {"onLabel": [{"drug": "cabozantinib", "preferred": False},
                                     {"drug": "sorafenib", "preferred": False}],
                         "notEligible": [{"drug": "lenvatinib"}]},
           "warnings": [{"code": "W-BLEED", "blocking": True,
                         "drugs": ["cabozantinib", "sorafenib"]}], "rulesFired": ["G1"]},
          "Active hemoptysis Condition 2026-10-20 (< 3 months, §A4.8). §A4.11 rule 5 (issue 9): "
          "W-BLEED blocks cabozantinib (label: recent hemorrhage) and sorafenib (DESIGN pending "
          "MDT); every on-label option is then under a non-fixable block, so the action is "
          "MDT_REVIEW_REQUIRED (rule 3), never 'options: sorafenib'.")
def _(p: Patient) -> None:
    js_ii_base(p)
    p.lesion_sum("2025-01-05", 40)
    p.lesion_sum("2025-06-01", 28)
    p.lesion_sum("2026-07-15", 36)
    p.status("2026-07-15", "worsened")
    p.therapy("lenvatinib", "2025-01-10", "2026-07-20", stopped="progression")
    p.negatives(date="2024-12-01")
    p.hemoptysis("2026-10-20")


@scenario("ret-point-mutation",
          "RET M918T point mutation in 'papillary' carcinoma: MDT review",
          {"rairStatus": "YES", "rairCriteria": ["JS-ii"], "progression": "RECENT_PD",
           "action": "MDT_REVIEW_REQUIRED", "suggestMolecularTesting": False,
           "drivers": [{"gene": "RET", "alteration": "M918T", "kind": "snv"}],
           "warnings": [{"code": "W-RET-POINT", "blocking": True}], "rulesFired": ["E6"]},
          "E6: not a fusion; pathology review for MTC and germline RET testing (VAF 0.48).")
def _(p: Patient) -> None:
    js_ii_base(p)
    recent_pd(p)
    p.variant("RET", p_hgvs="NP_066124.1:p.Met918Thr", c_hgvs="NM_020975.6:c.2753T>C", vaf=0.48)
    p.negatives(("BRAF", "NTRK1", "NTRK2", "NTRK3", "ALK"))


@scenario("child-ret-fusion",
          "Child aged 10 with a RET fusion: selpercatinib (>= 2 y); adult-only drugs not eligible",
          {"rairStatus": "YES", "rairCriteria": ["JS-ii"], "progression": "RECENT_PD",
           "action": "SYSTEMIC_FIRST_LINE", "suggestMolecularTesting": False,
           "drivers": [{"gene": "RET", "alteration": "fusion", "kind": "fusion",
                        "partner": "CCDC6"}],
           "therapies": {"onLabel": [{"drug": "selpercatinib", "preferred": True}],
                         "notEligible": [{"drug": "lenvatinib"}, {"drug": "sorafenib"},
                                         {"drug": "pralsetinib"}]},
           "warnings": [{"code": "W-PEDS-AGE", "blocking": True}], "rulesFired": ["H1"]},
          "H1, §A4.6: lenvatinib adults only, sorafenib not established, pralsetinib >= 12.")
def _(p: Patient) -> None:
    p.rai("2024-03-01", 50)
    p.scan("2024-03-08", "post-therapy", "no", tsh=70)
    recent_pd(p, ("2025-01-15", 24), ("2026-06-10", 31))
    p.variant("RET", fusion_partner="CCDC6", text="CCDC6::RET fusion detected by RNA NGS")


@scenario("atc-braf-v600e",
          "Anaplastic carcinoma with BRAF V600E: not applicable, urgent MDT",
          {"rairStatus": "NOT_APPLICABLE", "rairCriteria": [], "action": "MDT_REVIEW_REQUIRED",
           "suggestMolecularTesting": False,
           "drivers": [{"gene": "BRAF", "alteration": "V600E", "kind": "snv"}],
           "therapies": {"onLabel": [{"drug": "dabrafenib+trametinib"}]},
           "rulesFired": ["A1b", "H2"]},
          "A1b, H2: D+T US label for BRAF V600E ATC (2018).")
def _(p: Patient) -> None:
    p.variant("BRAF", p_hgvs="NP_004324.2:p.Val600Glu", c_hgvs="NM_004333.4:c.1799T>A",
              date="2026-11-05")


@scenario("mtc-medullary",
          "Medullary carcinoma: outside the RAI-refractory framework",
          {"rairStatus": "NOT_APPLICABLE", "rairCriteria": [], "action": "MDT_REVIEW_REQUIRED",
           "suggestMolecularTesting": False, "rulesFired": ["A1b"]},
          "A1b, H3: MTC pathway.")
def _(p: Patient) -> None:
    p.lesion_sum("2026-05-01", 30)


@scenario("pd-not-recent",
          "JS-ii with the last PD 17 months ago and no newer imaging: update imaging",
          {"rairStatus": "YES", "rairCriteria": ["JS-ii"], "progression": "PD_NOT_RECENT",
           "action": "UPDATE_IMAGING", "suggestMolecularTesting": False, "rulesFired": ["C3"]},
          "PD 2025-07-01, > 14 months before 2026-11-27 (C3).")
def _(p: Patient) -> None:
    js_ii_base(p, "2023-10-02", "2023-10-09")
    recent_pd(p, ("2024-08-01", 30), ("2025-07-01", 37))


@scenario("oligoprogression",
          "JS-ii with a single progressing site: local therapy first",
          {"rairStatus": "YES", "rairCriteria": ["JS-ii"], "progression": "RECENT_PD",
           "action": "LOCAL_THERAPY_FIRST", "suggestMolecularTesting": False,
           "rulesFired": ["D4"]},
          "rair#oligoprogression true (D4, §A4.1 step 5). Panel negative.")
def _(p: Patient) -> None:
    js_ii_base(p)
    recent_pd(p)
    p.flag("oligoprogression", "2026-06-10", True)
    p.negatives()


@scenario("symptomatic-untested",
          "Symptomatic RAIR with recent PD, not yet tested: treat without delay, test in parallel",
          {"rairStatus": "YES", "rairCriteria": ["JS-ii"], "progression": "RECENT_PD",
           "action": "SYSTEMIC_FIRST_LINE", "suggestMolecularTesting": True,
           "rulesFired": ["E1"]},
          "§A4.1 step 6: symptomatic -> therapy action; the testing card still shows (D3).")
def _(p: Patient) -> None:
    js_ii_base(p)
    recent_pd(p)
    p.flag("symptomatic-disease", "2026-11-01", True)


@scenario("cumulative-over-600-no-pd",
          "B5b: 650 mCi cumulative with avid, stable disease: not refractory",
          {"rairStatus": "NO", "rairCriteria": [], "progression": "NO_PD", "action": "MONITOR",
           "suggestMolecularTesting": False,
           "warnings": [{"code": "W-FRAMEWORK-DISCORDANCE", "blocking": False}],
           "rulesFired": ["B5b"]},
          "Cumulative 24,050 MBq without PD never makes RAIR (B5b, §5.2).")
def _(p: Patient) -> None:
    for date, mci in (("2017-03-01", 200), ("2019-05-01", 150), ("2021-06-01", 150),
                      ("2023-09-01", 150)):
        p.rai(date, mci)
    p.scan("2023-09-08", "post-therapy", "all", tsh=80)
    p.lesion_sum("2024-03-01", 20)
    p.lesion_sum("2026-08-01", 20)


@scenario("unitless-activity",
          "RAI activity recorded without a unit; JS-ii met from the post-therapy scan",
          {"rairStatus": "YES", "rairCriteria": ["JS-ii"], "progression": "RECENT_PD",
           "action": "ORDER_MOLECULAR_TESTING", "suggestMolecularTesting": True,
           "warnings": [{"code": "W-DATA-CONFLICT", "blocking": False}],
           "missingData": "non-empty", "rulesFired": ["A6"]},
          "A6: '150' with no unit is never guessed; data-quality note and W-DATA-CONFLICT.")
def _(p: Patient) -> None:
    p.rai("2024-03-01", 150, unit=None)
    p.scan("2024-03-08", "post-therapy", "no", tsh=85)
    recent_pd(p)


@scenario("unitless-cumulative-summary",
          "Summary cumulative activity '22.2' without a unit: itemized 300 mCi wins (A6)",
          {"rairStatus": "YES", "rairCriteria": ["JS-ii"], "progression": "RECENT_PD",
           "action": "ORDER_MOLECULAR_TESTING", "suggestMolecularTesting": True,
           "warnings": [{"code": "W-DATA-CONFLICT", "blocking": False}],
           "rulesFired": ["A6", "B2"]},
          "§5.4: a unitless 22.2 is 600 mCi if GBq and meaningless if mCi; never guessed. The "
          "itemized 2 x 150 mCi (11,100 MBq) is used.")
def _(p: Patient) -> None:
    p.rai("2022-05-02", 150)
    p.rai("2024-03-01", 150)
    p.scan("2024-03-08", "post-therapy", "no", tsh=85)
    p._obs("cum", cc(RAIR, "cumulative-activity", "Cumulative I-131 activity"), "2026-01-10",
           valueQuantity={"value": 22.2})
    recent_pd(p)


# --- issue 9: reading drivers and histology ---
# DECISIONS §D4.13 (reading drivers) and §A4.14 (histology and eligibility gaps).

LEGACY_EXT = "http://hl7.org/fhir/StructureDefinition/"


def ntrk3_fusion_pd_on_larotrectinib(p: Patient) -> None:
    """JS-ii; ETV6::NTRK3 (RNA panel, 2024); PD on larotrectinib (stopped for progression)."""
    js_ii_base(p)
    p.variant("NTRK3", fusion_partner="ETV6", date="2024-08-01",
              text="ETV6::NTRK3 fusion detected by RNA NGS")
    p.lesion_sum("2024-09-20", 45)
    p.lesion_sum("2025-03-01", 24)
    p.lesion_sum("2026-07-25", 31)
    p.status("2026-07-25", "worsened")
    p.therapy("larotrectinib", "2024-10-01", "2026-08-01", stopped="progression")


def set_histology(p: Patient, morph: str, display: str) -> None:
    """Replace the ICD-O-3 morphology of the patient's thyroid-cancer Condition."""
    cond = next(r for r in p.resources if r["resourceType"] == "Condition")
    cond["code"]["coding"][1] = {"system": ICDO3, "code": morph, "display": display}
    cond["code"]["text"] = f"Thyroid carcinoma ({display.lower()})"


def legacy_braf_v600e(p: Patient, date: str) -> None:
    """BRAF V600E in the legacy R4 genetics-extension shape: ``observation-geneticsGene`` and the
    complex ``observation-geneticsAminoAcidChange`` with its ``Name`` / ``Type`` sub-extensions."""
    p.add({
        "resourceType": "Observation", "id": p._id("var"), "status": "final",
        "extension": [
            {"url": LEGACY_EXT + "observation-geneticsGene",
             "valueCodeableConcept": cc("http://www.genenames.org", "1097", "BRAF")},
            {"url": LEGACY_EXT + "observation-geneticsAminoAcidChange", "extension": [
                {"url": "Name", "valueCodeableConcept": {"text": "p.V600E"}},
                {"url": "Type", "valueCodeableConcept": cc(SNOMED, "36845000", "Missense")}]},
            {"url": LEGACY_EXT + "observation-geneticsGenomicSourceClass",
             "valueCodeableConcept": cc(LOINC, "LA6684-0", "somatic")},
        ],
        "code": cc(LOINC, "55233-1", "Genetic analysis master panel"),
        "subject": p.ref, "effectiveDateTime": date,
        "valueCodeableConcept": cc(LOINC, "LA9633-4", "Present"),
    })


@scenario("pdtc-poorly-differentiated",
          "Poorly differentiated carcinoma (8337/3), JS-ii, recent PD: MDT review",
          {"rairStatus": "YES", "rairCriteria": ["JS-ii"], "progression": "RECENT_PD",
           "action": "MDT_REVIEW_REQUIRED", "suggestMolecularTesting": False, "drivers": [],
           "therapies": {"onLabel": [{"drug": "lenvatinib", "preferred": True},
                                     {"drug": "sorafenib"}]},
           "warnings": [{"code": "W-HISTOLOGY-PDTC", "blocking": False}],
           "rulesFired": ["A1", "B2", "F1"]},
          "§A4.14: PDTC is follicular-cell-derived; the status and lists are computed as for DTC, "
          "W-HISTOLOGY-PDTC notes it is outside ATA 2025's DTC definition, and systemic therapy "
          "goes to MDT review first.")
def _(p: Patient) -> None:
    set_histology(p, "8337/3", "Poorly differentiated thyroid carcinoma")
    js_ii_base(p)
    recent_pd(p)
    p.negatives()


@scenario("no-birth-date",
          "No date of birth, JS-ii, recent PD, panel negative: lenvatinib stays listed",
          {"rairStatus": "YES", "rairCriteria": ["JS-ii"], "progression": "RECENT_PD",
           "action": "SYSTEMIC_FIRST_LINE", "suggestMolecularTesting": False, "drivers": [],
           "therapies": {"onLabel": [{"drug": "lenvatinib", "preferred": True},
                                     {"drug": "sorafenib"}]},
           "missingDataIncludes": ["date of birth (label age limits)"],
           "rulesFired": ["F1", "H1"]},
          "§A4.14: an unknown age keeps age-limited drugs in their lists; missingData asks for the "
          "date of birth.")
def _(p: Patient) -> None:
    del p.resources[0]["birthDate"]
    js_ii_base(p)
    recent_pd(p)
    p.negatives()


@scenario("braf-v600e-legacy-extension",
          "BRAF V600E in the legacy R4 amino-acid-change extension, JS-ii, recent PD",
          {"rairStatus": "YES", "rairCriteria": ["JS-ii"], "progression": "RECENT_PD",
           "action": "SYSTEMIC_FIRST_LINE", "suggestMolecularTesting": False,
           "drivers": [{"gene": "BRAF", "alteration": "V600E", "kind": "snv"}],
           "therapies": {"onLabel": [{"drug": "lenvatinib", "preferred": True}],
                         "trialOnly": [{"drug": "dabrafenib+trametinib"}]},
           "rulesFired": ["F5"]},
          "§A4.13: p.V600E in the Name sub-extension of observation-geneticsAminoAcidChange is "
          "BRAF V600E (never 'BRAF unknown' and never W-BRAF-NONV600E). RET/NTRK/ALK negative "
          "on an RNA fusion panel.")
def _(p: Patient) -> None:
    js_ii_base(p)
    recent_pd(p)
    legacy_braf_v600e(p, "2026-08-20")
    p.negatives(("RET", "NTRK1", "NTRK2", "NTRK3", "ALK"))


@scenario("braf-v600e-dna-only",
          "BRAF V600E on a DNA-only panel, JS-ii, recent PD: RNA fusion testing not done",
          {"rairStatus": "YES", "rairCriteria": ["JS-ii"], "progression": "RECENT_PD",
           "action": "ORDER_MOLECULAR_TESTING", "suggestMolecularTesting": True,
           "drivers": [{"gene": "BRAF", "alteration": "V600E", "kind": "snv"}],
           "rulesFired": ["E1"]},
          "§A4.13: a DNA-only BRAF V600E is a known driver, but fusion status stays unknown (E4) "
          "until a fusion-capable assay is on file; the testing card says so.")
def _(p: Patient) -> None:
    js_ii_base(p)
    recent_pd(p)
    p.variant("BRAF", p_hgvs="NP_004324.2:p.Val600Glu", c_hgvs="NM_004333.4:c.1799T>A",
              rna=False)


@scenario("rai-ineligible-ret-fusion",
          "RAI judged not appropriate, CCDC6::RET fusion, recent PD: MDT review, RET inhibitors",
          {"rairStatus": "NOT_ESTABLISHED", "rairCriteria": [], "progression": "RECENT_PD",
           "action": "MDT_REVIEW_REQUIRED", "suggestMolecularTesting": False,
           "drivers": [{"gene": "RET", "alteration": "fusion", "kind": "fusion",
                        "partner": "CCDC6"}],
           "therapies": {"onLabel": [{"drug": "selpercatinib", "preferred": True},
                                     {"drug": "pralsetinib", "preferred": True}],
                         "notEligible": [{"drug": "lenvatinib"}, {"drug": "sorafenib"}]},
           "rulesFired": ["A2b", "F2"]},
          "§A4.14: rair#rai-ineligible (no RAI given): NOT_ESTABLISHED, MDT review (never "
          "RAI_EVALUATION); selpercatinib/pralsetinib ('RAI-refractory if RAI is appropriate') on "
          "label, lenvatinib/sorafenib (RAI-refractory labels) not eligible.")
def _(p: Patient) -> None:
    p.flag("rai-ineligible", "2026-09-01", True)
    recent_pd(p)
    p.variant("RET", fusion_partner="CCDC6", text="CCDC6::RET fusion detected by RNA NGS")
    p.bp("2026-11-10", 126, 80)


@scenario("ntrk-resistance-xdfg",
          "ETV6::NTRK3 with PD on larotrectinib and NTRK3 G696A (xDFG): MDT review",
          {"rairStatus": "YES", "rairCriteria": ["JS-ii"], "progression": "RECENT_PD",
           "action": "MDT_REVIEW_REQUIRED", "suggestMolecularTesting": False,
           "therapies": {"onLabel": [{"drug": "repotrectinib", "preferred": False}],
                         "notEligible": [{"drug": "larotrectinib"}, {"drug": "entrectinib"}]},
           "rulesFired": ["G4"]},
          "§A4.14 / G4: an xDFG substitution: repotrectinib listed with 'limited expected "
          "activity' and MDT review (classes in rules/thyroid/therapies.yaml).")
def _(p: Patient) -> None:
    ntrk3_fusion_pd_on_larotrectinib(p)
    p.variant("NTRK3", p_hgvs="NP_001012338.1:p.Gly696Ala", date="2026-08-20", vaf=0.1,
              text="NTRK3 G696A (xDFG) acquired resistance mutation")

# --- issue 9: blocks and BRAF after MKI ---

def braf_after_lenvatinib(p: Patient, stopped: str, sums: tuple = (28, 36)) -> None:
    """JS-ii; lenvatinib 2025-01-10..2025-06-20 stopped for ``stopped``; BRAF V600E on a
    fusion-capable panel with the other genes negative; sums after stopping ``sums``."""
    js_ii_base(p)
    p.lesion_sum("2025-01-05", 40)
    p.status("2025-01-05", "worsened")
    p.therapy("lenvatinib", "2025-01-10", "2025-06-20", stopped=stopped)
    p.lesion_sum("2025-08-01", sums[0])
    p.lesion_sum("2026-07-15", sums[1])
    if sums[1] > sums[0]:
        p.status("2026-07-15", "worsened")
    p.variant("BRAF", p_hgvs="NP_004324.2:p.Val600Glu", c_hgvs="NM_004333.4:c.1799T>A",
              vaf=0.3, date="2024-12-01")
    p.negatives(("RET", "NTRK1", "NTRK2", "NTRK3", "ALK"), date="2024-12-01")
    p.bp("2026-11-10", 128, 78)


BRAF_V600E = [{"gene": "BRAF", "alteration": "V600E", "kind": "snv"}]


@scenario("braf-v600e-after-lenvatinib-pd",
          "BRAF V600E, PD after lenvatinib (stopped for progression): dabrafenib+trametinib "
          "preferred, cabozantinib on label",
          {"rairStatus": "YES", "rairCriteria": ["JS-ii"], "progression": "RECENT_PD",
           "action": "SYSTEMIC_LATER_LINE", "suggestMolecularTesting": False,
           "drivers": BRAF_V600E,
           "therapies": {"onLabel": [{"drug": "dabrafenib+trametinib", "preferred": True},
                                     {"drug": "cabozantinib", "preferred": False}],
                         "notEligible": [{"drug": "lenvatinib"}]},
           "rulesFired": ["G1", "G3"]},
          "§A4.12 (issue 9, supersedes G3): both on label; D+T preferred because ATA 2025 Rec 66 "
          "offers cabozantinib to tumours without an actionable driver (Rec 70B not retrieved).")
def _(p: Patient) -> None:
    braf_after_lenvatinib(p, "progression")


@scenario("braf-v600e-after-lenvatinib-intolerance",
          "BRAF V600E, PD after lenvatinib stopped for intolerance: D+T preferred (MDT confirms "
          "no satisfactory alternative); lenvatinib never preferred",
          {"rairStatus": "YES", "rairCriteria": ["JS-ii"], "progression": "RECENT_PD",
           "action": "SYSTEMIC_LATER_LINE", "suggestMolecularTesting": False,
           "drivers": BRAF_V600E,
           "therapies": {"onLabel": [{"drug": "dabrafenib+trametinib", "preferred": True},
                                     {"drug": "cabozantinib", "preferred": False},
                                     {"drug": "lenvatinib", "preferred": False}]},
           "rulesFired": ["G1", "G3"]},
          "§A4.12: cabozantinib's 'progressed following prior VEGFR-targeted therapy' is met; "
          "D+T's 'no satisfactory alternative' is for the MDT to confirm (said on the option); "
          "lenvatinib stays on label with 'stopped for intolerance on 2025-06-20; a re-challenge "
          "at a lower dose is an MDT decision'.")
def _(p: Patient) -> None:
    braf_after_lenvatinib(p, "intolerance")


@scenario("braf-v600e-lenvatinib-intolerance-no-pd",
          "BRAF V600E, lenvatinib stopped for intolerance, no progression since: monitor, "
          "no option",
          {"rairStatus": "YES", "rairCriteria": ["JS-ii"], "progression": "NO_PD",
           "action": "MONITOR", "suggestMolecularTesting": False, "drivers": BRAF_V600E,
           "therapiesAbsent": {"onLabel": ["dabrafenib+trametinib", "cabozantinib", "lenvatinib",
                                           "sorafenib"],
                               "guidelineSupportedOffLabel": ["cabozantinib"]},
           "rulesFired": ["D1"]},
          "§A4.12 / G2: intolerance without progression -> D1 monitoring; no drug is listed.")
def _(p: Patient) -> None:
    braf_after_lenvatinib(p, "intolerance", sums=(28, 28))


@scenario("pregnant-no-prior-rai",
          "Pregnant, no prior therapeutic RAI: RAI deferred, MDT review (not RAI evaluation)",
          {"rairStatus": "NOT_ESTABLISHED", "rairCriteria": [], "action": "MDT_REVIEW_REQUIRED",
           "suggestMolecularTesting": False,
           "warnings": [{"code": "W-PREG", "blocking": True}], "rulesFired": ["A2", "H4"]},
          "§A4.11 rule 4 (issue 9): where §A4.1 would give RAI_EVALUATION, pregnancy gives "
          "MDT_REVIEW_REQUIRED (RAI is contraindicated in pregnancy).")
def _(p: Patient) -> None:
    p.resources[0]["birthDate"] = "1994-06-06"
    p.lesion_sum("2026-09-01", 25)
    p.pregnancy("2026-11-10", True)


# --------------------------------------------------------------------------------------------

def bundle_of(p: Patient, name: str) -> dict:
    return {
        "resourceType": "Bundle",
        "id": f"rair-sample-{name}",
        "type": "collection",
        "entry": [{"fullUrl": f"urn:uuid:{uuid.uuid5(NS, r['resourceType'] + '/' + r['id'])}",
                   "resource": r} for r in p.resources],
    }


def request_of(p: Patient, name: str) -> dict:
    prefetch: dict = {}
    for key, rtype in PREFETCH_QUERIES.items():
        if key == "patient":
            prefetch[key] = p.resources[0]
            continue
        found = [r for r in p.resources if r["resourceType"] == rtype]
        prefetch[key] = {
            "resourceType": "Bundle", "type": "searchset", "total": len(found),
            "entry": [{"fullUrl": f"https://fhir.example.org/r4/{rtype}/{r['id']}",
                       "resource": r, "search": {"mode": "match"}} for r in found],
        }
        if not found:
            del prefetch[key]["entry"]
    return {
        "hook": "patient-view",
        "hookInstance": str(uuid.uuid5(NS, "hook/" + name)),
        "context": {"userId": "Practitioner/example", "patientId": p.pid},
        "prefetch": prefetch,
    }


def main() -> None:
    (OUT / "bundles").mkdir(parents=True, exist_ok=True)
    (OUT / "expected").mkdir(parents=True, exist_ok=True)
    index = []
    for i, sc in enumerate(SCENARIOS, 1):
        name = sc["name"]
        p = adult(f"rair-{i:02d}") if name not in ("child-ret-fusion", "atc-braf-v600e",
                                                   "mtc-medullary") else None
        if name == "child-ret-fusion":
            p = Patient(f"rair-{i:02d}", "2016-05-14", "male", ("Example", "Sam"))
            p.cancer("PTC", "2023-11-01")
            p.thyroidectomy("2024-01-15")
        elif name == "atc-braf-v600e":
            p = Patient(f"rair-{i:02d}", "1951-02-02", "male", ("Example", "Lee"))
            p.cancer("ATC", "2026-10-28")
        elif name == "mtc-medullary":
            p = Patient(f"rair-{i:02d}", "1970-07-07", "female", ("Example", "Kim"))
            p.cancer("MTC", "2025-02-01")
        if name == "pregnant-systemic-indicated":
            p = Patient(f"rair-{i:02d}", "1993-03-03", "female", ("Example", "Dana"))
            p.cancer("PTC", "2022-09-15")
            p.thyroidectomy("2022-10-03")
        sc["build"](p)
        files = {
            "bundle": f"bundles/{name}.json",
            "request": f"patient-view.{name}.json",
            "expected": f"expected/{name}.json",
        }
        expected = {"scenario": name, "evaluationDate": EVALUATION_DATE, **sc["expected"]}
        if sc["notes"]:
            expected["notes"] = sc["notes"]
        for key, payload in (("bundle", bundle_of(p, name)), ("request", request_of(p, name)),
                             ("expected", expected)):
            (OUT / files[key]).write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n",
                                          encoding="utf-8")
        index.append({"name": name, "title": sc["title"], "patientId": p.pid, **files})
    (OUT / "index.json").write_text(json.dumps({"evaluationDate": EVALUATION_DATE,
                                                "scenarios": index}, indent=2) + "\n",
                                    encoding="utf-8")
    print(f"wrote {len(index)} scenarios to {OUT}")


if __name__ == "__main__":
    main()
