"""The thyroid-cancer record in the domain's own words.

``from_fhir`` reads FHIR R4 resources into a :class:`PatientRecord`; ``to_facts`` turns the record
into flat facts for the rule engine. The rules never see FHIR and FHIR never reaches the cards.

Conventions (they hold for every class here):

* Dates are :class:`datetime.date` (the day of ``effective[x]``/``performed[x]``/``authoredOn``,
  the start of a period); ``None`` means the date is unknown.
* Radioiodine activity is an **integer MBq** (1 mCi = 37 MBq exactly, DECISIONS §K0.3);
  ``None`` means unknown. A number without a unit is never guessed: it is ``None``, and the
  reader adds a :class:`DataQualityNote`.
* ``source`` is the relative reference of the FHIR resource the value came from
  (``"Observation/abc"``), so every conclusion can point back to its evidence.
* Drug names are lower-case INN (``"lenvatinib"``); genes are HGNC symbols (``"BRAF"``).
* A list that is empty means "nothing in the record", never "not asked".
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from enum import StrEnum

MBQ_PER_MCI = 37  # DECISIONS §K0.3: 1 mCi = 37 MBq exactly


def mci_text(mbq: int, *, grouped: bool = False) -> str:
    """The activity in mCi, the one formatter: whole only when exact, otherwise to one decimal
    (``27.0`` for 1000 MBq); ``grouped`` adds thousands separators."""
    sep = "," if grouped else ""
    whole, rest = divmod(mbq, MBQ_PER_MCI)
    return f"{whole:{sep}}" if rest == 0 else f"{mbq / MBQ_PER_MCI:{sep}.1f}"


def activity_text(mbq: int, *, grouped: bool = False) -> str:
    """``5550 MBq (150 mCi)``, or ``5,550 MBq (150 mCi)`` when ``grouped`` (thousands
    separators); mCi as :func:`mci_text`."""
    sep = "," if grouped else ""
    return f"{mbq:{sep}} MBq ({mci_text(mbq, grouped=grouped)} mCi)"


class Histology(StrEnum):
    """Histology class (DECISIONS §D3, thyroid-cancer row)."""

    PTC = "PTC"  # papillary
    FTC = "FTC"  # follicular
    OTC = "OTC"  # oncocytic (formerly Hürthle)
    PDTC = "PDTC"  # poorly differentiated
    ATC = "ATC"  # anaplastic
    MTC = "MTC"  # medullary


class RaiIntent(StrEnum):
    """Why radioiodine was given. ``UNKNOWN`` only when neither coded nor activity is known."""

    THERAPEUTIC = "therapeutic"
    DIAGNOSTIC = "diagnostic"
    UNKNOWN = "unknown"


class ScanKind(StrEnum):
    """Radioiodine whole-body scan kind (``rair#scan-kind``)."""

    DIAGNOSTIC = "diagnostic"
    POST_THERAPY = "post-therapy"
    UNKNOWN = "unknown"


class Uptake(StrEnum):
    """Uptake pattern on a whole-body scan."""

    ALL_LESIONS = "all"
    SOME_LESIONS = "some"
    NO_LESIONS = "none"
    UNKNOWN = "unknown"


class DiseaseStatus(StrEnum):
    """mCODE CancerDiseaseStatus values."""

    WORSENED = "worsened"  # SNOMED 271299001, counts as progression
    STABLE = "stable"  # 359746009
    IMPROVED = "improved"  # 268910001
    UNDETERMINED = "undetermined"  # 709137006


class RecistResponse(StrEnum):
    """RECIST response category (RadLex)."""

    PD = "PD"
    SD = "SD"
    PR = "PR"
    CR = "CR"


class VariantKind(StrEnum):
    """Kind of a genomic alteration (DECISIONS §D1 ``drivers[].kind``)."""

    SNV = "snv"
    INDEL = "indel"
    FUSION = "fusion"
    PROMOTER = "promoter"
    OTHER = "other"  # CNV, structural variant other than a fusion, or not stated


class StopReason(StrEnum):
    """Why a systemic therapy was stopped (``rair#stopped-*``)."""

    PROGRESSION = "progression"
    INTOLERANCE = "intolerance"


@dataclass(frozen=True, slots=True)
class DataQualityNote:
    """A resource, or part of one, that could not be read or was read with a caveat.

    ``missing`` is a short phrase for the assessment's ``missingData`` when the problem leaves a
    fact unknown (e.g. ``"unit of RAI activity (MedicationAdministration/x)"``); ``None`` when
    the note is informational only.
    """

    source: str
    message: str
    missing: str | None = None


@dataclass(frozen=True, slots=True)
class CancerDiagnosis:
    """A thyroid-cancer Condition. ``histology`` is ``None`` when no rule of §A3 found one."""

    source: str
    histology: Histology | None
    onset: dt.date | None = None
    histology_evidence: str | None = None  # e.g. "ICD-O-3 8260/3", "text: papillary"


@dataclass(frozen=True, slots=True)
class RadioiodineAdministration:
    """One I-131 administration.

    ``intent_coded`` is True when the intent came from a ``rair#therapeutic``/``rair#diagnostic``
    category; False when it was inferred from the activity (< 1,110 MBq diagnostic, DESIGN).
    """

    source: str
    date: dt.date | None
    activity_mbq: int | None
    intent: RaiIntent
    intent_coded: bool = False


@dataclass(frozen=True, slots=True)
class RadioiodineScan:
    """A radioiodine whole-body scan (Observation or DiagnosticReport, ``rair#rai-wbs``).

    ``kind`` is what the record codes (``rair#scan-kind``); a kind inferred from timing is the
    derivation's (:class:`plugin.thyroid.facts.derivation.ScanReading`).
    ``tsh_miu_per_l`` is the stimulation TSH recorded on the scan, if any.
    """

    source: str
    date: dt.date | None
    kind: ScanKind
    uptake: Uptake
    tsh_miu_per_l: float | None = None


@dataclass(frozen=True, slots=True)
class StableIodineExposure:
    """Iodinated contrast or another stable-iodine load (rule A3)."""

    source: str
    date: dt.date | None


@dataclass(frozen=True, slots=True)
class DiseaseStatusAssessment:
    """A dated mCODE CancerDiseaseStatus."""

    source: str
    date: dt.date | None
    status: DiseaseStatus


@dataclass(frozen=True, slots=True)
class RecistAssessment:
    """A dated RECIST response category recorded by a radiologist."""

    source: str
    date: dt.date | None
    response: RecistResponse


@dataclass(frozen=True, slots=True)
class LesionSum:
    """Sum of target-lesion diameters, in millimetres (``cm`` is converted)."""

    source: str
    date: dt.date | None
    sum_mm: float


@dataclass(frozen=True, slots=True)
class NewLesion:
    """A new lesion seen on imaging (``rair#new-lesion`` true)."""

    source: str
    date: dt.date | None


@dataclass(frozen=True, slots=True)
class LabResult:
    """A dated numeric lab value with its UCUM unit (thyroglobulin, Tg antibodies, potassium)."""

    source: str
    date: dt.date | None
    value: float
    unit: str | None


@dataclass(frozen=True, slots=True)
class CumulativeActivitySummary:
    """A recorded summary of cumulative activity (cross-check only, rule A6).

    ``activity_mbq`` is ``None`` when the unit is missing or unknown; ``raw_value`` and
    ``raw_unit`` keep what was written.
    """

    source: str
    date: dt.date | None
    activity_mbq: int | None
    raw_value: float | None
    raw_unit: str | None


@dataclass(frozen=True, slots=True)
class ClinicalFlag:
    """A dated yes/no finding: oligoprogression, structural disease, symptomatic disease,
    hemorrhage (hemoptysis etc.), airway or major-vessel invasion, lactation.

    ``active`` is True for an active Condition (a hemorrhage counts as recent when active).
    """

    source: str
    date: dt.date | None
    value: bool
    active: bool = False


@dataclass(frozen=True, slots=True)
class Variant:
    """A genomic finding, positive or a pertinent negative.

    * ``gene``: HGNC symbol of the gene (for fusions: the actionable 3' gene, §A4.9).
    * ``alteration``: one-letter protein change (``V600E``), ``C228T``/``C250T`` for the TERT
      promoter, ``fusion`` for fusions, or ``None`` when the change is not stated (a negative).
    * ``present``: False for a pertinent negative (``LA9634-2`` Absent).
    * ``fusion_only``: for negatives, True when the negative is restricted to fusions (§A4.4).
    * ``fusion_capable``: whether the assay that produced it detects fusions (RNA / fusion
      assay); ``None`` when the record does not say (treated as DNA-only for fusion status, E4).
    * ``description``: the text the finding was read from, for cards (``"CCDC6::RET"``).
    * ``genomic_source``: ``"somatic"`` or ``"germline"`` when the report states it (48002-0).
    """

    source: str
    gene: str
    present: bool
    kind: VariantKind
    alteration: str | None = None
    partner: str | None = None
    fusion_only: bool = False
    fusion_capable: bool | None = None
    date: dt.date | None = None
    description: str | None = None
    allele_fraction: float | None = None
    genomic_source: str | None = None  # "somatic" / "germline" (LOINC 48002-0), if stated


@dataclass(frozen=True, slots=True)
class GeneTested:
    """A gene covered by a test (region studied, or any finding on a panel; §A4.3)."""

    source: str
    gene: str
    fusion_capable: bool | None
    date: dt.date | None = None


@dataclass(frozen=True, slots=True)
class TherapyExposure:
    """A systemic therapy the patient received or receives (one drug per exposure)."""

    source: str
    drug: str
    start: dt.date | None
    end: dt.date | None = None
    stop_reason: StopReason | None = None
    status: str | None = None  # FHIR status as written (active, completed, stopped, ...)


@dataclass(frozen=True, slots=True)
class LocalTherapy:
    """Surgery, external-beam radiation or ablation of disease (starts a monitoring episode)."""

    source: str
    date: dt.date | None
    description: str | None = None


@dataclass(frozen=True, slots=True)
class BloodPressure:
    """A blood-pressure panel (LOINC 85354-9), in mmHg; either value may be missing."""

    source: str
    date: dt.date | None
    systolic: float | None
    diastolic: float | None


@dataclass(frozen=True, slots=True)
class PregnancyStatus:
    """Pregnancy status (LOINC 82810-3): True pregnant, False not pregnant."""

    source: str
    date: dt.date | None
    pregnant: bool


@dataclass
class PatientRecord:
    """Everything the rules may use about one patient, read from FHIR.

    Lists are in no particular order; consumers sort by date. ``data_quality`` holds every
    resource that could not be read, or was read with a caveat: nothing is dropped silently.
    """

    patient_source: str | None = None
    birth_date: dt.date | None = None
    sex: str | None = None
    diagnoses: list[CancerDiagnosis] = field(default_factory=list)
    rai_administrations: list[RadioiodineAdministration] = field(default_factory=list)
    scans: list[RadioiodineScan] = field(default_factory=list)
    iodine_exposures: list[StableIodineExposure] = field(default_factory=list)
    disease_statuses: list[DiseaseStatusAssessment] = field(default_factory=list)
    recist_responses: list[RecistAssessment] = field(default_factory=list)
    lesion_sums: list[LesionSum] = field(default_factory=list)
    new_lesions: list[NewLesion] = field(default_factory=list)
    thyroglobulin: list[LabResult] = field(default_factory=list)
    tg_antibodies: list[LabResult] = field(default_factory=list)
    cumulative_summaries: list[CumulativeActivitySummary] = field(default_factory=list)
    oligoprogression: list[ClinicalFlag] = field(default_factory=list)
    structural_disease: list[ClinicalFlag] = field(default_factory=list)
    symptomatic: list[ClinicalFlag] = field(default_factory=list)
    hemorrhage: list[ClinicalFlag] = field(default_factory=list)
    airway_invasion: list[ClinicalFlag] = field(default_factory=list)
    rai_ineligible: list[ClinicalFlag] = field(default_factory=list)  # rair#rai-ineligible
    variants: list[Variant] = field(default_factory=list)
    genes_tested: list[GeneTested] = field(default_factory=list)
    therapies: list[TherapyExposure] = field(default_factory=list)
    local_therapies: list[LocalTherapy] = field(default_factory=list)
    blood_pressures: list[BloodPressure] = field(default_factory=list)
    qtc_ms: list[LabResult] = field(default_factory=list)
    potassium: list[LabResult] = field(default_factory=list)
    pregnancy: list[PregnancyStatus] = field(default_factory=list)
    lactation: list[ClinicalFlag] = field(default_factory=list)
    congenital_long_qt: list[ClinicalFlag] = field(default_factory=list)
    data_quality: list[DataQualityNote] = field(default_factory=list)

    def age_on(self, day: dt.date) -> int | None:
        """Age in whole years on ``day``; ``None`` when the birth date is unknown."""
        if self.birth_date is None:
            return None
        years = day.year - self.birth_date.year
        if (day.month, day.day) < (self.birth_date.month, self.birth_date.day):
            years -= 1
        return years
