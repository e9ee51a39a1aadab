"""The sample-patient builder: one scenario's FHIR resources with stable ids."""

from __future__ import annotations

from sample_builder.codes import (
    GENE_IDS,
    HGNC,
    HGVS,
    HISTOLOGY,
    ICD10,
    ICDO3,
    LOINC,
    RAIR,
    RXNORM,
    RXNORM_IDS,
    SNOMED,
    SO,
    UCUM,
    cc,
)


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

    def next_id(self, prefix: str) -> str:
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
            "id": self.next_id("cond"),
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
            "resourceType": "Procedure", "id": self.next_id("surg"), "status": "completed",
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
            "resourceType": "MedicationAdministration", "id": self.next_id("rai"),
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
            "resourceType": "Observation", "id": self.next_id("wbs"), "status": "final",
            "category": [cc("http://terminology.hl7.org/CodeSystem/observation-category",
                            "imaging")],
            "code": cc(RAIR, "rai-wbs", "Radioiodine whole-body scan"),
            "subject": self.ref, "effectiveDateTime": date,
            "valueCodeableConcept": cc(RAIR, f"uptake-{uptake}-lesions"),
            "component": comps,
        })

    def contrast(self, date: str) -> None:
        self.add({
            "resourceType": "Procedure", "id": self.next_id("ctc"), "status": "completed",
            "code": cc(RAIR, "iodinated-contrast",
                       text="Contrast-enhanced CT chest (iodinated IV contrast)"),
            "subject": self.ref, "performedDateTime": date,
        })

    # --- disease course --------------------------------------------------------------------
    def _obs(self, prefix: str, code: dict, date: str, **value: object) -> None:
        self.add({"resourceType": "Observation", "id": self.next_id(prefix), "status": "final",
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
            "resourceType": "Condition", "id": self.next_id("hemo"),
            "clinicalStatus": cc("http://terminology.hl7.org/CodeSystem/condition-clinical",
                                 "active"),
            "code": cc(SNOMED, "66857006", "Hemoptysis"),
            "subject": self.ref, "onsetDateTime": date,
        })

    # --- therapy ---------------------------------------------------------------------------
    def therapy(self, drug: str, start: str, end: str | None = None,
                stopped: str | None = None) -> None:
        res: dict = {
            "resourceType": "MedicationStatement", "id": self.next_id("med"),
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
            "resourceType": "Observation", "id": self.next_id("var"), "status": "final",
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
