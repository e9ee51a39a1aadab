"""Medications and procedures: radioiodine, systemic therapy, contrast and local therapy.

Reads ``MedicationAdministration``, ``MedicationStatement``, ``MedicationRequest`` and
``Procedure`` per DECISIONS §D3 (radioiodine, stable iodine, therapy history rows). Activities
are integer MBq (1 mCi = 37 MBq exactly, half up); a number without a unit is unknown, never
guessed. The intent threshold (1,110 MBq) is a DESIGN default passed in by the caller.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from plugin.thyroid.clinical_model import (
    MBQ_PER_MCI,
    LocalTherapy,
    PatientRecord,
    RadioiodineAdministration,
    RaiIntent,
    StableIodineExposure,
    StopReason,
    TherapyExposure,
)
from plugin.thyroid.knowledge.codes import (
    CodeLists,
    codings,
    concept_texts,
    load_codes,
    normalise_system,
)
from plugin.thyroid.reading.entries import Entry, ReadContext, parse_date

_MBQ_PER_UNIT = {"mCi": Decimal(MBQ_PER_MCI), "MBq": Decimal(1), "GBq": Decimal(1000)}
# Case-insensitive spellings that cannot be confused with another unit ("mBq" is millibecquerel).
_UNIT_SPELLINGS = {"mci": "mCi", "millicurie": "mCi", "millicuries": "mCi", "gbq": "GBq",
                   "MBQ": "MBq", "megabecquerel": "MBq", "gigabecquerel": "GBq"}
_SKIPPED_STATUS = {"entered-in-error", "not-done", "not-taken", "cancelled"}


def activity_unit(quantity: Mapping[str, Any] | None) -> str | None:
    """The activity unit of a Quantity as ``mCi``/``MBq``/``GBq``, else ``None``."""
    if not isinstance(quantity, Mapping):
        return None
    for key in ("code", "unit"):
        raw = quantity.get(key)
        if isinstance(raw, str) and raw.strip():
            raw = raw.strip()
            unit = raw if raw in _MBQ_PER_UNIT else _UNIT_SPELLINGS.get(raw) or (
                _UNIT_SPELLINGS.get(raw.lower()) if raw.lower() != "mbq" else None)
            if unit:
                return unit
    return None


def activity_mbq(quantity: Mapping[str, Any] | None) -> int | None:
    """Integer MBq of an activity Quantity (UCUM mCi/MBq/GBq, half up); no unit -> ``None``."""
    if not isinstance(quantity, Mapping):
        return None
    value, unit = quantity.get("value"), activity_unit(quantity)
    if unit is None or isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        mbq = Decimal(str(value)) * _MBQ_PER_UNIT[unit]
    except InvalidOperation:
        return None
    return int(mbq.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def _concepts(concept: Mapping[str, Any] | None) -> list[Mapping[str, Any]]:
    """A CodeableConcept, or a Medication's code plus its ingredient concepts."""
    if not isinstance(concept, Mapping):
        return []
    if concept.get("resourceType") == "Medication":
        found = [concept.get("code")]
        for ingredient in concept.get("ingredient") or []:
            if isinstance(ingredient, Mapping):
                found.append(ingredient.get("itemCodeableConcept"))
        return [c for c in found if isinstance(c, Mapping)]
    return [concept]


def is_i131(concept: Mapping[str, Any] | None, codes: CodeLists | None = None) -> bool:
    """True for SNOMED 111160004 / ``rair#i131``, or text naming I-131 (§A3)."""
    codes = codes or load_codes()
    parts = _concepts(concept)
    if any(codes.is_(c, "i131") for c in parts):
        return True
    return codes.text_matches((t for c in parts for t in concept_texts(c)), "i131")


def recognise_drug(concept: Mapping[str, Any] | None, codes: CodeLists | None = None) -> list[str]:
    """INN names of the §A3 drugs in a CodeableConcept or Medication (codes over names)."""
    codes = codes or load_codes()
    parts = _concepts(concept)
    rxnorm = {c.get("code") for p in parts for c in codings(p) if codes.alias(c.get("system"))
              == "rxnorm" and c.get("code")}
    by_code = [name for name, (rx, _) in codes.drugs.items() if rx & rxnorm]
    if by_code:
        return by_code
    texts = [t for p in parts for t in concept_texts(p)]
    return [name for name, (_, pats) in codes.drugs.items()
            if any(p.search(t) for t in texts for p in pats)]


def _medication(entry: Entry, ctx: ReadContext) -> Mapping[str, Any] | None:
    res = entry.resource
    if isinstance(res.get("medicationCodeableConcept"), Mapping):
        return res["medicationCodeableConcept"]
    if "medicationReference" in res:
        found = ctx.resolve(res["medicationReference"], res)
        if found is None:
            ctx.note(entry.source, "medicationReference could not be resolved in the input")
        return found
    return None


def _category(res: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    cat = res.get("category")
    return [c for c in (cat if isinstance(cat, list) else [cat]) if isinstance(c, Mapping)]


def _dose(entry: Entry, codes: CodeLists) -> tuple[Mapping[str, Any] | None, bool]:
    """(dose Quantity, whether a dose element exists) of an administration or statement."""
    res = entry.resource
    if res.get("resourceType") == "MedicationAdministration":
        dosage = d if isinstance(d := res.get("dosage"), Mapping) else {}
        return dosage.get("dose"), "dose" in dosage
    if res.get("resourceType") == "Procedure":
        for ext in res.get("extension") or []:
            if isinstance(ext, Mapping) and _ext_is(ext, "administered_activity", codes):
                return ext.get("valueQuantity"), True
        return None, False
    for dosage in res.get("dosage") or res.get("dosageInstruction") or []:
        for dr in (dosage.get("doseAndRate") or []) if isinstance(dosage, Mapping) else []:
            if isinstance(dr, Mapping) and "doseQuantity" in dr:
                return dr["doseQuantity"], True
    return None, False


def _ext_is(ext: Mapping[str, Any], name: str, codes: CodeLists) -> bool:
    return normalise_system(ext.get("url")) == codes.extensions[name]


def _rai(entry: Entry, ctx: ReadContext, record: PatientRecord, codes: CodeLists,
         threshold_mbq: int) -> None:
    src = entry.source
    quantity, has_dose = _dose(entry, codes)
    mbq = activity_mbq(quantity)
    if mbq is None:
        if not has_dose or not isinstance(quantity, Mapping) or quantity.get("value") is None:
            ctx.note(src, "I-131 administration without an activity value", f"RAI activity ({src})")
        elif activity_unit(quantity) is None:
            ctx.note(src, "I-131 activity has no usable unit (mCi, MBq or GBq); not guessed",
                     f"unit of RAI activity ({src})")
    category = _category(entry.resource)
    if any(codes.is_(c, "intent_therapeutic") for c in category):
        intent, coded = RaiIntent.THERAPEUTIC, True
    elif any(codes.is_(c, "intent_diagnostic") for c in category):
        intent, coded = RaiIntent.DIAGNOSTIC, True
    elif mbq is not None:
        intent = RaiIntent.DIAGNOSTIC if mbq < threshold_mbq else RaiIntent.THERAPEUTIC
        coded = False
    else:
        intent, coded = RaiIntent.UNKNOWN, False
        ctx.note(src, "RAI intent unknown: no intent category and no activity",
                 f"intent of RAI administration ({src})")
    record.rai_administrations.append(
        RadioiodineAdministration(src, ctx.date(entry.resource, src), mbq, intent, coded))


def _stop_reason(res: Mapping[str, Any], codes: CodeLists) -> StopReason | None:
    reasons = res.get("statusReason")
    for reason in reasons if isinstance(reasons, list) else [reasons]:
        if codes.is_(reason, "stopped_progression"):
            return StopReason.PROGRESSION
        if codes.is_(reason, "stopped_intolerance"):
            return StopReason.INTOLERANCE
    return None


def _therapy(entry: Entry, ctx: ReadContext, record: PatientRecord, drugs: list[str],
             codes: CodeLists) -> None:
    res, src = entry.resource, entry.source
    period = p if isinstance(p := res.get("effectivePeriod"), Mapping) else {}
    start = ctx.date(res, src)
    end = parse_date(period.get("end"))
    for drug in drugs:
        record.therapies.append(TherapyExposure(
            src, drug, start, end, _stop_reason(res, codes), res.get("status")))


def read_medication(entry: Entry, ctx: ReadContext, record: PatientRecord, codes: CodeLists,
                    *, threshold_mbq: int) -> None:
    """Read a MedicationAdministration, -Statement or -Request into ``record``."""
    res, src, rtype = entry.resource, entry.source, entry.resource.get("resourceType")
    med = _medication(entry, ctx)
    i131 = is_i131(med, codes)
    drugs = recognise_drug(med, codes)
    contrast = any(codes.is_(c, "iodinated_contrast") for c in _concepts(med)) or \
        codes.text_matches([t for c in _concepts(med) for t in concept_texts(c)],
                           "iodinated_contrast")
    if not (i131 or drugs or contrast):
        quantity, has_dose = _dose(entry, codes)
        if has_dose and isinstance(quantity, Mapping) and quantity.get("value") is None:
            ctx.note(src, "dose Quantity has no value")
        return
    if res.get("status") in _SKIPPED_STATUS:
        ctx.note(src, f"{rtype} with status {res.get('status')} not counted")
        return
    if i131 and rtype == "MedicationRequest":
        ctx.note(src, "I-131 MedicationRequest is an order, not an administration; not counted")
    elif i131:
        _rai(entry, ctx, record, codes, threshold_mbq)
    if contrast and rtype == "MedicationAdministration":
        record.iodine_exposures.append(StableIodineExposure(src, ctx.date(res, src)))
    if drugs:
        _therapy(entry, ctx, record, drugs, codes)


def read_procedure(entry: Entry, ctx: ReadContext, record: PatientRecord, codes: CodeLists,
                   *, threshold_mbq: int) -> None:
    """Read a Procedure: I-131 administration, iodinated contrast, or local therapy."""
    res, src = entry.resource, entry.source
    code = res.get("code")
    texts = concept_texts(code)
    used = [u for u in res.get("usedCode") or [] if isinstance(u, Mapping)]
    rai = codes.is_(code, "radiopharmaceutical_procedure") and (
        any(is_i131(u, codes) for u in used) or codes.text_matches(texts, "i131"))
    contrast = codes.is_(code, "iodinated_contrast") or codes.text_matches(
        texts, "iodinated_contrast")
    local = codes.is_(code, "local_therapy") or any(
        codes.is_(c, "local_therapy") for c in _category(res))
    if not (rai or contrast or local):
        return
    if res.get("status") in _SKIPPED_STATUS:
        ctx.note(src, f"Procedure with status {res.get('status')} not counted")
        return
    if rai:
        _rai(entry, ctx, record, codes, threshold_mbq)
    if contrast:
        record.iodine_exposures.append(StableIodineExposure(src, ctx.date(res, src)))
    if local:
        description = texts[0] if texts else None
        record.local_therapies.append(LocalTherapy(src, ctx.date(res, src), description))
