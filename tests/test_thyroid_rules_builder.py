"""Small PatientRecord builder for the thyroid rule tests (not a test module itself)."""

from __future__ import annotations

import datetime as dt

from plugin.thyroid import clinical_model as cm

AS_OF = dt.date(2026, 11, 27)
D = dt.date.fromisoformat
ALL_GENES = ("BRAF", "RET", "NTRK1", "NTRK2", "NTRK3", "ALK")


class B:
    """Fluent builder: ``B().ptc().rai("2024-01-10", 5550).scan(...).build()``."""

    def __init__(self, age: int | None = 60, sex: str = "male") -> None:
        self.r = cm.PatientRecord(patient_source="Patient/p1", sex=sex)
        if age is not None:
            self.r.birth_date = (
                dt.date(AS_OF.year - age, 1, 1) if age > 0 else AS_OF - dt.timedelta(days=10)
            )
        self.n = 0

    def _src(self, kind: str) -> str:
        self.n += 1
        return f"{kind}/{self.n}"

    def birth(self, day: str) -> B:
        self.r.birth_date = D(day)
        return self

    def histology(self, h: str | None = "PTC") -> B:
        self.r.diagnoses.append(
            cm.CancerDiagnosis(self._src("Condition"), cm.Histology(h) if h else None)
        )
        return self

    def rai(
        self, day: str | None, mbq: int | None, intent: str = "therapeutic", coded: bool = True
    ) -> B:
        self.r.rai_administrations.append(
            cm.RadioiodineAdministration(
                self._src("MedicationAdministration"),
                D(day) if day else None,
                mbq,
                cm.RaiIntent(intent),
                coded,
            )
        )
        return self

    def scan(
        self, day: str, kind: str = "post-therapy", uptake: str = "none", tsh: float | None = 60.0
    ) -> B:
        self.r.scans.append(
            cm.RadioiodineScan(
                self._src("Observation"), D(day), cm.ScanKind(kind), cm.Uptake(uptake), tsh
            )
        )
        return self

    def contrast(self, day: str) -> B:
        self.r.iodine_exposures.append(cm.StableIodineExposure(self._src("Procedure"), D(day)))
        return self

    def sum(self, day: str, mm: float) -> B:
        self.r.lesion_sums.append(cm.LesionSum(self._src("Observation"), D(day), mm))
        return self

    def new_lesion(self, day: str) -> B:
        self.r.new_lesions.append(cm.NewLesion(self._src("Observation"), D(day)))
        return self

    def recist(self, day: str, code: str) -> B:
        self.r.recist_responses.append(
            cm.RecistAssessment(self._src("Observation"), D(day), cm.RecistResponse(code))
        )
        return self

    def status(self, day: str, value: str) -> B:
        self.r.disease_statuses.append(
            cm.DiseaseStatusAssessment(self._src("Observation"), D(day), cm.DiseaseStatus(value))
        )
        return self

    def tg(self, day: str, value: float) -> B:
        self.r.thyroglobulin.append(cm.LabResult(self._src("Observation"), D(day), value, "ng/mL"))
        return self

    def summary(self, mbq: int | None, raw: float | None = None, unit: str | None = None) -> B:
        self.r.cumulative_summaries.append(
            cm.CumulativeActivitySummary(self._src("Observation"), None, mbq, raw, unit)
        )
        return self

    def flag(self, name: str, day: str | None, value: bool = True, active: bool = False) -> B:
        getattr(self.r, name).append(
            cm.ClinicalFlag(self._src("Observation"), D(day) if day else None, value, active)
        )
        return self

    def variant(
        self,
        gene: str,
        alt: str | None,
        kind: str = "snv",
        present: bool = True,
        fusion_capable: bool | None = True,
        partner: str | None = None,
        fusion_only: bool = False,
    ) -> B:
        self.r.variants.append(
            cm.Variant(
                self._src("Observation"),
                gene,
                present,
                cm.VariantKind(kind),
                alt,
                partner,
                fusion_only,
                fusion_capable,
            )
        )
        return self

    def tested(self, genes: tuple[str, ...] = ALL_GENES, fusion_capable: bool | None = True) -> B:
        src = self._src("Observation")
        for g in genes:
            self.r.genes_tested.append(cm.GeneTested(src, g, fusion_capable))
        return self

    def therapy(
        self,
        drug: str,
        start: str,
        end: str | None = None,
        stop: str | None = None,
        status: str | None = None,
    ) -> B:
        self.r.therapies.append(
            cm.TherapyExposure(
                self._src("MedicationStatement"),
                drug,
                D(start),
                D(end) if end else None,
                cm.StopReason(stop) if stop else None,
                status,
            )
        )
        return self

    def local(self, day: str) -> B:
        self.r.local_therapies.append(cm.LocalTherapy(self._src("Procedure"), D(day)))
        return self

    def bp(self, day: str, sys: float, dia: float) -> B:
        self.r.blood_pressures.append(cm.BloodPressure(self._src("Observation"), D(day), sys, dia))
        return self

    def qtc(self, day: str, ms: float) -> B:
        self.r.qtc_ms.append(cm.LabResult(self._src("Observation"), D(day), ms, "ms"))
        return self

    def potassium(self, day: str, v: float) -> B:
        self.r.potassium.append(cm.LabResult(self._src("Observation"), D(day), v, "mmol/L"))
        return self

    def pregnancy(self, day: str, pregnant: bool) -> B:
        self.r.pregnancy.append(cm.PregnancyStatus(self._src("Observation"), D(day), pregnant))
        return self

    def dq(self, missing: str) -> B:
        self.r.data_quality.append(
            cm.DataQualityNote(self._src("Observation"), "unreadable", missing)
        )
        return self

    def build(self) -> cm.PatientRecord:
        return self.r


def rair_pd(**kw) -> B:
    """Baseline: PTC, 60 y, one therapeutic RAI 2024-01-10 (150 mCi), post-therapy scan without
    uptake (TSH 60), PD by RECIST in June 2026, complete negative testing, normal BP."""
    return (
        B(**kw)
        .histology("PTC")
        .rai("2024-01-10", 5550)
        .scan("2024-01-15")
        .sum("2025-01-01", 40)
        .sum("2026-06-01", 50)
        .tested()
        .bp("2026-11-01", 120, 80)
    )


def stable_avid(**kw) -> B:
    """PTC with uptake in all lesions and stable sums: rairStatus NO."""
    return (
        B(**kw)
        .histology("PTC")
        .rai("2024-01-10", 5550)
        .scan("2024-01-15", uptake="all")
        .sum("2025-01-01", 40)
        .sum("2026-06-01", 41)
    )
