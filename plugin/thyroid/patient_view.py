"""The ``patient-view`` service: RAI-refractory status, next step, therapy options, warnings.

``evaluate(call)`` runs the shared pipeline (:mod:`plugin.thyroid.pipeline`: flatten the
prefetch, read, derive, assess as of ``call.evaluation_date``) and renders the cards
(:mod:`plugin.thyroid.cards.render`). The full §A1 assessment travels in the response extension
``{"rair-cds": {"assessment": ...}}``. What the service asks the EHR for, and why each key is
needed: :mod:`plugin.thyroid.prefetch`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cds_hooks.service import HookCall, HookResult, ServiceDefinition
from plugin.thyroid.cards.render import render
from plugin.thyroid.knowledge.loader import Knowledge, load_knowledge
from plugin.thyroid.pipeline import Pipeline, Reader, RecordAssessor, flatten_prefetch
from plugin.thyroid.prefetch import NEEDS_DATA, prefetch_templates

SERVICE_ID = "rair-patient-view"
VERSION = "0.1.0"

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


def definition(knowledge: Knowledge) -> ServiceDefinition:
    """The discovery entry of the patient-view service (its prefetch follows ``knowledge``)."""
    return ServiceDefinition(
        id=SERVICE_ID,
        hook="patient-view",
        title="RAI-refractory thyroid cancer: status and next step",
        description=DESCRIPTION,
        prefetch=prefetch_templates(knowledge),
        usage_requirements=USAGE,
        version=VERSION,
        hook_version="1.0",
        needs_data=NEEDS_DATA,
    )


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
        self.knowledge = knowledge or load_knowledge()
        self.definition = definition(self.knowledge)
        self.pipeline = Pipeline(self.knowledge, reader=reader, assessor=assessor)
        self._templates = templates or self.knowledge.templates

    def evaluate(self, call: HookCall) -> HookResult:
        """Decide the cards for one ``patient-view`` call."""
        resources, notes = flatten_prefetch(call.prefetch)
        unavailable = tuple(call.missing_prefetch)
        done = self.pipeline.evaluate(resources, call.evaluation_date, notes, unavailable)
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
