"""What the thyroid services ask the EHR for: the prefetch templates and the keys they need.

One read and eight searches that standard FHIR R4 servers (HAPI, public sandboxes) answer, with
the spec's ``{{context.patientId}}`` token only. Searches use the typed reference form
``patient=Patient/<id>``: every conformant server accepts it, and at least one real server
(Medplum's router, tests/realfhir) matches nothing for the bare id. Observations are fetched in
one search (``_count=200``; the protocol layer follows ``next`` links) rather than split by
category, because the concepts we read (scans, sums, variants, safety data) span categories and
many servers leave ``category`` empty. That search asks only for the codes the reader uses
(``code=system|code,...``, from the knowledge folder's ``codes.yaml`` and
:data:`~plugin.thyroid.reading.observations.OBSERVATION_CONCEPTS`; issue 11), so a long-followed
patient's routine labs are not sent, and a site's local codes are searched for as soon as they are
in its knowledge folder.

Required data (:data:`NEEDS_DATA`): ``patient``, ``conditions`` and ``observations``. Without the
Condition the histology gate (A1, A1b) cannot be applied, so an anaplastic or medullary
carcinoma could be assessed as DTC; without Observations there are no scans, sums or variants,
and every answer would be "data missing". The other keys are optional: when one cannot be had
it is listed in ``missingData`` and on a data-quality card, because a conclusion such as "no
prior therapeutic RAI" may then be wrong. A key the EHR answers with ``null`` means "no data" and
is not missing.
"""

from __future__ import annotations

from collections.abc import Iterable

from plugin.thyroid.knowledge.codes import search_tokens
from plugin.thyroid.knowledge.loader import Knowledge
from plugin.thyroid.reading.observations import OBSERVATION_CONCEPTS

_PATIENT = "patient=Patient/{{context.patientId}}"

NEEDS_DATA: tuple[str, ...] = ("patient", "conditions", "observations")

#: What each key carries, for the missing-data message.
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


def prefetch_templates(knowledge: Knowledge) -> dict[str, str]:
    """The prefetch templates of every thyroid service, for ``knowledge``'s code lists."""
    codes = ",".join(search_tokens(OBSERVATION_CONCEPTS, knowledge.folder / "codes.yaml"))
    return {
        "patient": "Patient/{{context.patientId}}",
        "conditions": f"Condition?{_PATIENT}",
        "observations": f"Observation?{_PATIENT}&code={codes}&_count=200",
        "procedures": f"Procedure?{_PATIENT}",
        "medicationStatements": f"MedicationStatement?{_PATIENT}",
        "medicationRequests": f"MedicationRequest?{_PATIENT}",
        "medicationAdministrations": f"MedicationAdministration?{_PATIENT}",
        "diagnosticReports": f"DiagnosticReport?{_PATIENT}",
        "molecularSequences": f"MolecularSequence?{_PATIENT}",
    }


def unavailable_message(keys: Iterable[str]) -> list[str]:
    """The ``missingData`` lines for prefetch keys that could not be had."""
    return [f"not retrieved from the EHR: {KEY_CONTENT.get(k, k)}" for k in keys]
