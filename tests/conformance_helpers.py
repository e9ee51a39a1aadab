"""Shared by the CDS Hooks conformance tests (tests/test_cds_hooks_conformance*.py)."""

from __future__ import annotations

from pathlib import Path

from conftest import SHARED_DIR

from cds_hooks.cards import Source
from cds_hooks.service import HookResult

REPO = Path(__file__).resolve().parents[1]
REQUIREMENTS_CSV = (
    SHARED_DIR / "cds-hooks-schemas" / "requirements" / "cds-hooks-2.0-service-requirements.csv"
)
SOURCE = Source(label="Test", url="https://example.org/test")
PATIENT = {"resourceType": "Patient", "id": "p1"}
BASE = "https://ehr.example.org/fhir"


def patient_view(**members):
    body = {
        "hook": "patient-view",
        "hookInstance": "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea",
        "context": {"userId": "Practitioner/example", "patientId": "p1"},
    }
    body.update(members)
    return body


class ServiceStub:
    def __init__(self, definition):
        self.definition = definition

    def evaluate(self, call):
        return HookResult()
