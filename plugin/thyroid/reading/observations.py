"""Non-genomic observations: scans, disease course, labs, clinical flags and safety data.

Reads the §A3 rows for the radioiodine whole-body scan (Observation or DiagnosticReport),
disease status, RECIST response, tumour measurements, thyroglobulin, cumulative activity,
oligoprogression, structural disease, symptoms and threats, and safety data. A value whose unit
cannot be converted is left out of the record with a data-quality note, never guessed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from plugin.thyroid.clinical_model import (
    BloodPressure,
    ClinicalFlag,
    CumulativeActivitySummary,
    DiseaseStatus,
    DiseaseStatusAssessment,
    LabResult,
    LesionSum,
    NewLesion,
    PatientRecord,
    PregnancyStatus,
    RadioiodineScan,
    RecistAssessment,
    RecistResponse,
    ScanKind,
    Uptake,
)
from plugin.thyroid.knowledge.codes import CodeLists, codings
from plugin.thyroid.reading.entries import (
    Entry,
    ReadContext,
    components,
    quantity_unit,
    quantity_value,
)
from plugin.thyroid.reading.medication import activity_mbq

_STATUS = {"status_worsened": DiseaseStatus.WORSENED, "status_stable": DiseaseStatus.STABLE,
           "status_improved": DiseaseStatus.IMPROVED,
           "status_undetermined": DiseaseStatus.UNDETERMINED}
_RECIST = {"recist_pd": RecistResponse.PD, "recist_sd": RecistResponse.SD,
           "recist_pr": RecistResponse.PR, "recist_cr": RecistResponse.CR}
_UPTAKE = {"uptake_all": Uptake.ALL_LESIONS, "uptake_some": Uptake.SOME_LESIONS,
           "uptake_none": Uptake.NO_LESIONS}
_KIND = {"scan_diagnostic": ScanKind.DIAGNOSTIC, "scan_post_therapy": ScanKind.POST_THERAPY}
_MM_PER = {"mm": 1.0, "cm": 10.0}
_TSH_UNITS = {"mIU/L", "m[IU]/L", "uIU/mL", "u[IU]/mL", "µIU/mL", "mU/L"}  # all equal 1 mIU/L
_EXCLUDED = {"entered-in-error", "cancelled"}
_FLAG_LISTS = {"oligoprogression": "oligoprogression", "structural_disease": "structural_disease",
               "symptomatic_disease": "symptomatic", "hemoptysis": "hemorrhage",
               "airway_invasion": "airway_invasion", "lactating": "lactation",
               "congenital_long_qt": "congenital_long_qt", "rai_ineligible": "rai_ineligible"}


def _scan_kind(concepts: list[Any], codes: CodeLists) -> ScanKind | None:
    for concept in concepts:
        found = codes.first_of(concept, _KIND)
        if found:
            return _KIND[found]
    return None


def _scan(entry: Entry, ctx: ReadContext, record: PatientRecord, codes: CodeLists) -> None:
    res, src = entry.resource, entry.source
    comps = components(res)
    kinds = [c.get("valueCodeableConcept") for c in comps if codes.is_(c.get("code"), "scan_kind")]
    values = [res.get("valueCodeableConcept"), *(res.get("conclusionCode") or [])]
    if res.get("resourceType") == "DiagnosticReport":
        kinds = [*(res.get("category") or []), res.get("code"), *(res.get("conclusionCode") or [])]
    kind = _scan_kind(kinds, codes)
    uptake = next((_UPTAKE[f] for v in values if (f := codes.first_of(v, _UPTAKE))), None)
    if uptake is None:
        ctx.note(src, "whole-body scan without a coded uptake pattern", f"scan uptake ({src})")
    tsh = None
    for comp in comps:
        if codes.is_(comp.get("code"), "tsh"):
            q = comp.get("valueQuantity")
            if quantity_value(q) is not None and quantity_unit(q) in _TSH_UNITS:
                tsh = quantity_value(q)
            else:
                ctx.note(src, "stimulation TSH without a value in mIU/L", f"scan TSH ({src})")
    record.scans.append(RadioiodineScan(src, ctx.date(res, src), kind or ScanKind.UNKNOWN,
                                        uptake or Uptake.UNKNOWN, tsh))


def _lab(entry: Entry, ctx: ReadContext, target: list[LabResult], what: str) -> None:
    res, src = entry.resource, entry.source
    q = res.get("valueQuantity")
    value = quantity_value(q)
    if value is None:
        ctx.note(src, f"{what} without a numeric value", f"{what} value ({src})")
        return
    target.append(LabResult(src, ctx.date(res, src), value, quantity_unit(q)))


def _qtc(entry: Entry, ctx: ReadContext, record: PatientRecord) -> None:
    res, src = entry.resource, entry.source
    q = res.get("valueQuantity")
    value, unit = quantity_value(q), quantity_unit(q)
    factor = {"ms": 1.0, "s": 1000.0}.get(unit or "")
    if value is None or factor is None:
        ctx.note(src, "QTc without a value in ms", f"QTc ({src})")
        return
    record.qtc_ms.append(LabResult(src, ctx.date(res, src), value * factor, "ms"))


def _blood_pressure(entry: Entry, ctx: ReadContext, record: PatientRecord,
                    codes: CodeLists) -> None:
    res, src = entry.resource, entry.source
    found: dict[str, float | None] = {"systolic_bp": None, "diastolic_bp": None}
    parts = components(res) if codes.is_(res.get("code"), "blood_pressure_panel") else [res]
    for part in parts:
        name = codes.first_of(part.get("code"), found)
        if name:
            q = part.get("valueQuantity")
            if quantity_unit(q) in (None, "mm[Hg]", "mmHg") and quantity_value(q) is not None:
                found[name] = quantity_value(q)
            else:
                ctx.note(src, "blood pressure value not in mm[Hg]", f"blood pressure ({src})")
    if found["systolic_bp"] is None and found["diastolic_bp"] is None:
        ctx.note(src, "blood pressure without values", f"blood pressure ({src})")
        return
    record.blood_pressures.append(BloodPressure(src, ctx.date(res, src), found["systolic_bp"],
                                                found["diastolic_bp"]))


def _flag(entry: Entry, ctx: ReadContext, target: list[ClinicalFlag], codes: CodeLists,
          implicit_true: bool) -> None:
    """A yes/no flag: ``valueBoolean``; a finding code alone means yes when ``implicit_true``."""
    res, src = entry.resource, entry.source
    value = res.get("valueBoolean")
    if not isinstance(value, bool):
        if not implicit_true:
            ctx.note(src, "flag observation without valueBoolean", f"flag value ({src})")
            return
        value = True
    target.append(ClinicalFlag(src, ctx.date(res, src), value))


def _coded(entry: Entry, ctx: ReadContext, codes: CodeLists, table: Mapping[str, Any],
           what: str) -> Any:
    found = codes.first_of(entry.resource.get("valueCodeableConcept"), table)
    if found is None:
        ctx.note(entry.source, f"{what} value not recognised", f"{what} ({entry.source})")
        return None
    return table[found]


def read_observation(entry: Entry, ctx: ReadContext, record: PatientRecord,
                     codes: CodeLists) -> bool:
    """Read a non-genomic Observation into ``record``; False when it is not one of ours."""
    res, src = entry.resource, entry.source
    code = res.get("code")
    name = codes.first_of(code, _HANDLERS)
    if name is None:
        return False
    if res.get("status") in _EXCLUDED:
        ctx.note(src, f"Observation with status {res.get('status')} not counted")
        return True
    _HANDLERS[name](entry, ctx, record, codes)
    return True


def read_scan_report(entry: Entry, ctx: ReadContext, record: PatientRecord,
                     codes: CodeLists) -> bool:
    """Read a DiagnosticReport coded as a whole-body scan; False when it is not one."""
    if not codes.is_(entry.resource.get("code"), "rai_wbs"):
        return False
    _scan(entry, ctx, record, codes)
    return True


def read_condition_flag(entry: Entry, ctx: ReadContext, record: PatientRecord,
                        codes: CodeLists) -> bool:
    """A Condition for hemoptysis, airway invasion, lactation, congenital long QT or RAI not
    appropriate (``rair#rai-ineligible``, §A4.14)."""
    res, src = entry.resource, entry.source
    name = codes.first_of(res.get("code"), ("hemoptysis", "airway_invasion", "lactating",
                                             "congenital_long_qt", "rai_ineligible"))
    if name is None:
        return False
    verification = res.get("verificationStatus")
    refuted = any(c.get("code") in ("refuted", "entered-in-error")
                  for c in (verification or {}).get("coding") or [])
    active = codes.is_(res.get("clinicalStatus"), "condition_active")
    getattr(record, _FLAG_LISTS[name]).append(
        ClinicalFlag(src, ctx.date(res, src), not refuted, active and not refuted))
    return True


def _cumulative(entry: Entry, ctx: ReadContext, record: PatientRecord, codes: CodeLists) -> None:
    res, src = entry.resource, entry.source
    q = res.get("valueQuantity")
    mbq = activity_mbq(q)
    if mbq is None:
        ctx.note(src, "cumulative activity without a usable unit or value",
                 f"unit of cumulative activity ({src})")
    record.cumulative_summaries.append(CumulativeActivitySummary(
        src, ctx.date(res, src), mbq, quantity_value(q), quantity_unit(q)))


def _lesion_sum(entry: Entry, ctx: ReadContext, record: PatientRecord, codes: CodeLists) -> None:
    res, src = entry.resource, entry.source
    q = res.get("valueQuantity")
    value, factor = quantity_value(q), _MM_PER.get(quantity_unit(q) or "")
    if value is None or factor is None:
        ctx.note(src, "target-lesion sum without a value in mm or cm",
                 f"target-lesion sum ({src})")
        return
    record.lesion_sums.append(LesionSum(src, ctx.date(res, src), value * factor))


def _new_lesion(entry: Entry, ctx: ReadContext, record: PatientRecord, codes: CodeLists) -> None:
    res, src = entry.resource, entry.source
    if res.get("valueBoolean") is True:
        record.new_lesions.append(NewLesion(src, ctx.date(res, src)))
    elif res.get("valueBoolean") is not False:
        ctx.note(src, "new-lesion observation without valueBoolean", f"new lesion ({src})")


def _status(entry: Entry, ctx: ReadContext, record: PatientRecord, codes: CodeLists) -> None:
    value = _coded(entry, ctx, codes, _STATUS, "disease status")
    if value is not None:
        record.disease_statuses.append(DiseaseStatusAssessment(
            entry.source, ctx.date(entry.resource, entry.source), value))


def _recist(entry: Entry, ctx: ReadContext, record: PatientRecord, codes: CodeLists) -> None:
    value = _coded(entry, ctx, codes, _RECIST, "RECIST response")
    if value is not None:
        record.recist_responses.append(RecistAssessment(
            entry.source, ctx.date(entry.resource, entry.source), value))


def _pregnancy(entry: Entry, ctx: ReadContext, record: PatientRecord, codes: CodeLists) -> None:
    table = {"pregnant": True, "not_pregnant": False}
    value = _coded(entry, ctx, codes, table, "pregnancy status")
    if value is not None:
        record.pregnancy.append(PregnancyStatus(
            entry.source, ctx.date(entry.resource, entry.source), value))


def _flag_handler(attr: str, implicit: bool) -> Callable[..., None]:
    def handler(entry: Entry, ctx: ReadContext, record: PatientRecord, codes: CodeLists) -> None:
        _flag(entry, ctx, getattr(record, attr), codes, implicit)
    return handler


_HANDLERS: dict[str, Callable[[Entry, ReadContext, PatientRecord, CodeLists], None]] = {
    "rai_wbs": _scan,
    "disease_status": _status,
    "recist_response": _recist,
    "target_lesion_sum": _lesion_sum,
    "new_lesion": _new_lesion,
    "thyroglobulin": lambda e, c, r, k: _lab(e, c, r.thyroglobulin, "thyroglobulin"),
    "tg_antibodies": lambda e, c, r, k: _lab(e, c, r.tg_antibodies, "Tg antibodies"),
    "cumulative_activity": _cumulative,
    "blood_pressure_panel": _blood_pressure,
    "systolic_bp": _blood_pressure,
    "diastolic_bp": _blood_pressure,
    "qtc": lambda e, c, r, k: _qtc(e, c, r),
    "potassium": lambda e, c, r, k: _lab(e, c, r.potassium, "potassium"),
    "pregnancy_status": _pregnancy,
    **{name: _flag_handler(attr, name in ("hemoptysis", "airway_invasion", "rai_ineligible"))
       for name, attr in _FLAG_LISTS.items()},
}

#: The concept lists an Observation is read by (its ``Observation.code``): the handlers above, the
#: genomics region studied and variant (``reading.genomics``), and the panel codes that legacy
#: genetics Observations carry (recognised by their extensions, searched for by this code).
#: Observations with none of these codes are skipped before model validation, and the prefetch
#: templates search only for these codes (``plugin/thyroid/patient_view.py``), both from
#: ``rules/thyroid/codes.yaml``.
OBSERVATION_CONCEPTS: tuple[str, ...] = (
    *_HANDLERS, "region_studied", "variant_observation", "genetics_panel"
)

_read_keys: dict[int, tuple[CodeLists, frozenset[tuple[str, str]]]] = {}
#: has_read_code answers by raw (system, code), per CodeLists: a record repeats its lab codes
_answers: dict[int, tuple[CodeLists, dict[tuple[Any, Any], bool]]] = {}
_MAX_ANSWERS = 20_000


def observation_keys(codes: CodeLists) -> frozenset[tuple[str, str]]:
    """Every (system alias, code) pair of :data:`OBSERVATION_CONCEPTS` in ``codes``."""
    known = _read_keys.get(id(codes))
    if known is None or known[0] is not codes:
        keys = frozenset(k for name in OBSERVATION_CONCEPTS for k in codes.concepts[name])
        known = _read_keys[id(codes)] = (codes, keys)
    return known[1]


def _read_code_answers(codes: CodeLists) -> dict[tuple[Any, Any], bool]:
    """The memo of :func:`has_read_code` for ``codes``: raw (system, code) -> answer."""
    known = _answers.get(id(codes))
    if known is None or known[0] is not codes:
        known = _answers[id(codes)] = (codes, {})
    return known[1]


def has_read_code(res: Mapping[str, Any], codes: CodeLists) -> bool:
    """Whether ``res.code`` has a coding in :data:`OBSERVATION_CONCEPTS`."""
    answers = _read_code_answers(codes)
    concept = res.get("code")
    # the usual shape (a dict with a list of codings, str system and code) answers from the
    # memo without building the codings list: a long record repeats a few lab codes 10,000 times
    listed = concept.get("coding") if type(concept) is dict else None
    if type(listed) is list:
        unknown = False
        for coding in listed:
            try:
                found = answers.get((coding.get("system"), coding.get("code")))
            except (AttributeError, TypeError):  # not a dict, or a system or code not hashable
                found = None
            if found:
                return True
            unknown = unknown or found is None
        if not unknown:
            return False
    for coding in codings(concept):
        raw = (coding.get("system"), coding.get("code"))
        hashable = isinstance(raw[0], str | None) and isinstance(raw[1], str | None)
        found = answers.get(raw) if hashable else None
        if found is None:
            found = codes.key(coding) in observation_keys(codes)
            if hashable and len(answers) < _MAX_ANSWERS:
                answers[raw] = found
        if found:
            return True
    return False
