"""The ``patient-view`` service: RAI-refractory status, next step, therapy options, warnings.

``evaluate(call)`` flattens the prefetch into FHIR resources, reads them into a
:class:`~plugin.thyroid.clinical_model.PatientRecord` (``from_fhir.read_record``), assesses the
record as of ``call.evaluation_date`` (``assess.assess``) and renders the cards
(:mod:`plugin.thyroid.cards.render`). The full §A1 assessment travels in the response extension
``{"rair-cds": {"assessment": ...}}``.

Prefetch (:data:`PREFETCH`): one read and eight searches that standard FHIR R4 servers (HAPI,
public sandboxes) answer, with the spec's ``{{context.patientId}}`` token only. Observations are
fetched in one search (``_count=200``; the protocol layer follows ``next`` links) rather than split
by category, because the concepts we read (scans, sums, variants, safety data) span categories and
many servers leave ``category`` empty. That search asks only for the codes the reader uses
(``code=system|code,...``, generated from ``rules/thyroid/codes.yaml`` via
``from_fhir_observations.OBSERVATION_CONCEPTS``; issue 11), so a long-followed patient's routine
labs are not sent; a site's local codes follow when added to that file.

Required data (:data:`NEEDS_DATA`): ``patient``, ``conditions`` and ``observations``. Without the
Condition the histology gate (A1, A1b) cannot be applied, so an anaplastic or medullary
carcinoma could be assessed as DTC; without Observations there are no scans, sums or variants,
and every answer would be "data missing". The other keys are optional: when one cannot be had
(``call.missing_prefetch``) it is listed in ``missingData`` and on a data-quality card, because a
conclusion such as "no prior therapeutic RAI" may then be wrong. A key the EHR answers with
``null`` means "no data" and is not missing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from cds_hooks.service import HookCall, HookResult, ServiceDefinition
from plugin.thyroid.assessment.model import Assessment
from plugin.thyroid.cards.render import render
from plugin.thyroid.clinical_model import DataQualityNote, PatientRecord
from plugin.thyroid.facts.derivation import Derivation, derive
from plugin.thyroid.knowledge.codes import search_tokens
from plugin.thyroid.knowledge.loader import Knowledge, load_knowledge
from plugin.thyroid.reading.observations import OBSERVATION_CONCEPTS

SERVICE_ID = "rair-patient-view"
VERSION = "0.1.0"

# Searches use the typed reference form ``patient=Patient/<id>``: every conformant server accepts
# it, and at least one real server (Medplum's router, tests/realfhir) matches nothing for the bare
# id. ``_count=200`` asks for large pages; further pages are followed through link[next].
PREFETCH: dict[str, str] = {
    "patient": "Patient/{{context.patientId}}",
    "conditions": "Condition?patient=Patient/{{context.patientId}}",
    "observations": "Observation?patient=Patient/{{context.patientId}}&code="
    + ",".join(search_tokens(OBSERVATION_CONCEPTS))
    + "&_count=200",
    "procedures": "Procedure?patient=Patient/{{context.patientId}}",
    "medicationStatements": "MedicationStatement?patient=Patient/{{context.patientId}}",
    "medicationRequests": "MedicationRequest?patient=Patient/{{context.patientId}}",
    "medicationAdministrations": "MedicationAdministration?patient=Patient/{{context.patientId}}",
    "diagnosticReports": "DiagnosticReport?patient=Patient/{{context.patientId}}",
    "molecularSequences": "MolecularSequence?patient=Patient/{{context.patientId}}",
}
NEEDS_DATA: tuple[str, ...] = ("patient", "conditions", "observations")

#: What each optional key carries, for the missing-data message.
KEY_CONTENT = {
    "procedures": "Procedure (surgery, radiopharmaceutical administrations, contrast)",
    "medicationStatements": "MedicationStatement (RAI and systemic therapy history)",
    "medicationRequests": "MedicationRequest (systemic therapy history)",
    "medicationAdministrations": "MedicationAdministration (I-131 administrations)",
    "diagnosticReports": "DiagnosticReport (scan reports)",
    "molecularSequences": "MolecularSequence (genomic variants)",
    "patient": "Patient (age)",
    "conditions": "Condition (histology, hemoptysis)",
    "observations": "Observation (scans, imaging, variants, labs)",
}

#: record, evaluation date -> assessment (a replacement for the rules, in tests)
RecordAssessor = Callable[[PatientRecord, dt.date], Assessment]
Reader = Callable[[list[Mapping[str, Any]]], PatientRecord]


@dataclass(frozen=True)
class Evaluation:
    """One patient evaluated: the record read, its derivation and the assessment built on it."""

    record: PatientRecord
    derivation: Derivation
    assessment: Assessment


#: resources, evaluation date, extra data-quality notes, unavailable prefetch keys -> evaluation
Assessor = Callable[
    [list[Mapping[str, Any]], dt.date, Iterable[DataQualityNote], Iterable[str]], Evaluation
]

DESCRIPTION = (
    "Radioiodine-refractory differentiated thyroid cancer: whether the disease is RAI-refractory "
    "(2019 joint-statement criteria) and on what evidence, the next step, molecular testing, "
    "therapy options by US label and ATA 2025 guideline, and blocking safety warnings."
)
USAGE = (
    "Needs the patient's thyroid-cancer Condition and Observations (FHIR R4; RAI scans, "
    "target-lesion sums, variants, labs) plus, when available, radioiodine and systemic-therapy "
    "medication records, procedures and diagnostic reports (DECISIONS §D3 profile). Decision "
    "support for clinicians; not for patients."
)


def definition() -> ServiceDefinition:
    """The discovery entry of the patient-view service."""
    return ServiceDefinition(
        id=SERVICE_ID,
        hook="patient-view",
        title="RAI-refractory thyroid cancer: status and next step",
        description=DESCRIPTION,
        prefetch=dict(PREFETCH),
        usage_requirements=USAGE,
        version=VERSION,
        hook_version="1.0",
        needs_data=NEEDS_DATA,
    )


def flatten_prefetch(
    prefetch: Mapping[str, Any],
) -> tuple[list[Mapping[str, Any]], list[DataQualityNote]]:
    """Every resource in the prefetch, Bundles unpacked and duplicates (same Type/id) dropped.

    Searchset ``OperationOutcome`` entries (``search.mode`` ``outcome``) and an
    ``OperationOutcome`` in place of a resource become data-quality notes, not resources.
    """
    resources: list[Mapping[str, Any]] = []
    notes: list[DataQualityNote] = []
    seen: set[str] = set()

    def add(resource: Any, key: str) -> None:
        if not isinstance(resource, Mapping):
            if resource is not None:
                notes.append(DataQualityNote(f"prefetch '{key}'", "entry is not a JSON object"))
            return
        rtype = resource.get("resourceType")
        if rtype == "Bundle":
            for entry in resource.get("entry") or []:
                if isinstance(entry, Mapping):
                    add(entry.get("resource"), key)
            return
        if rtype == "OperationOutcome":
            # severity and code only: diagnostics and details text are free text that may
            # echo the patient's data (names, identifiers), and end up on a card
            texts = [
                "/".join(str(i.get(k)) for k in ("severity", "code")
                         if isinstance(v := i.get(k), str) and v.isascii()
                         and v.replace("-", "").isalpha())
                for i in resource.get("issue") or [] if isinstance(i, Mapping)
            ]
            texts = [t for t in texts if t]
            notes.append(DataQualityNote(
                f"prefetch '{key}'",
                "the FHIR server returned an OperationOutcome ("
                + ("; ".join(dict.fromkeys(texts)) or "no issue code") + ")",
            ))
            return
        ident = f"{rtype}/{resource.get('id')}" if resource.get("id") else None
        if ident is not None:
            if ident in seen:
                return
            seen.add(ident)
        resources.append(resource)

    for key, value in prefetch.items():
        add(value, key)
    return resources, notes


def unavailable_message(keys: Iterable[str]) -> list[str]:
    """The ``missingData`` lines for prefetch keys that could not be had."""
    return [f"not retrieved from the EHR: {KEY_CONTENT.get(k, k)}" for k in keys]


class PatientViewService:
    """``rair-patient-view``: one patient's RAI-refractory assessment as cards."""

    def __init__(
        self,
        *,
        knowledge: Knowledge | None = None,
        reader: Reader | None = None,
        assessor: RecordAssessor | None = None,
        templates: Mapping[str, Any] | None = None,
    ) -> None:
        """:param knowledge: the loaded knowledge (default: the default folder's)."""
        self.definition = definition()
        self.knowledge = knowledge or load_knowledge()
        self._reader = reader
        self._assessor = assessor
        self._templates = templates or self.knowledge.templates

    def evaluate_resources(
        self,
        resources: list[Mapping[str, Any]],
        as_of: dt.date,
        extra_notes: Iterable[DataQualityNote] = (),
        unavailable: Iterable[str] = (),
    ) -> Evaluation:
        """Read, derive and assess a list of FHIR resources (the pipeline every service uses)."""
        from plugin.thyroid.assessment.builder import assess
        from plugin.thyroid.reading.record import read_record

        k = self.knowledge
        if self._reader is None:
            record = read_record(resources, codes=k.codes,
                                 diagnostic_below_mbq=k.thresholds.diagnostic_cut_mbq)
        else:
            record = self._reader(resources)
        record.data_quality.extend(extra_notes)
        derivation = derive(record, as_of, k.thresholds, k.therapies)
        if self._assessor is None:
            assessment = assess(record, as_of, knowledge=k, derivation=derivation)
        else:
            assessment = self._assessor(record, as_of)
        for line in unavailable_message(unavailable):
            if line not in assessment.missing_data:
                assessment.missing_data.append(line)
        return Evaluation(record, derivation, assessment)

    def assess_resources(
        self,
        resources: list[Mapping[str, Any]],
        as_of: dt.date,
        extra_notes: Iterable[DataQualityNote] = (),
        unavailable: Iterable[str] = (),
    ) -> tuple[PatientRecord, Assessment]:
        """:meth:`evaluate_resources` without the derivation (the record and the assessment)."""
        done = self.evaluate_resources(resources, as_of, extra_notes, unavailable)
        return done.record, done.assessment

    def evaluate(self, call: HookCall) -> HookResult:
        """Decide the cards for one ``patient-view`` call."""
        resources, notes = flatten_prefetch(call.prefetch)
        unavailable = tuple(call.missing_prefetch)
        done = self.evaluate_resources(resources, call.evaluation_date, notes, unavailable)
        assessment = done.assessment
        patient_id = call.context.get("patientId") if isinstance(call.context, Mapping) else None
        rendered = render(
            assessment,
            done.record,
            patient_id=str(patient_id) if patient_id else None,
            unavailable=unavailable,
            templates=self._templates,
            derivation=done.derivation,
        )
        return HookResult(
            cards=[rc.card for rc in rendered],
            extension={"rair-cds": {"assessment": assessment.to_json()}},
            card_kinds={rc.card.uuid: rc.kind for rc in rendered},
            card_rules={rc.card.uuid: list(rc.rules) for rc in rendered},
        )
