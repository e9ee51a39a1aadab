"""Write the protocol samples in ``fhir_samples/thyroid/protocol/`` from the patient-view samples.

Usage: .venv/bin/python fhir_samples/thyroid/protocol/generate.py   (rewrites this folder)

``patient-view.mismatched-prefetch.json``: a ``patient-view`` request about one sample patient
(``context.patientId``) whose prefetch keys ``patient``, ``observations`` and
``medicationAdministrations`` hold another sample patient's data (an EHR that mixed two records
up). The other keys are the context patient's own; those that name no patient (empty searchsets)
cannot be told apart from the other patient's and are not trusted either.
``mismatched-prefetch.expected.json`` says what the service must answer (docs/ARCHITECTURE.md,
"One record, one patient"): never the other patient's assessment; 412 naming every such key
without a ``fhirServer``; the context patient's own expected assessment when they are fetched
from a ``fhirServer``.
Run it again after ``scripts/make_samples.py`` renumbers the sample patients.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
SAMPLES = HERE.parent
NAME = "mismatched-prefetch"
#: the patient the call is about, and the patient whose data the EHR mixed in
CONTEXT_SCENARIO = "not-refractory-avid-stable"
FOREIGN_SCENARIO = "js-iv-progression-despite-uptake"
MIXED_KEYS = ("patient", "observations", "medicationAdministrations")
NEEDED_KEYS = ("patient", "observations")  # the thyroid service's needs_data among MIXED_KEYS
NS = uuid.UUID("1b7e8f0c-3f7a-4c55-9d0e-5a1c2b3d4e5f")


def _scenario(name: str) -> dict[str, Any]:
    index = json.loads((SAMPLES / "index.json").read_text(encoding="utf-8"))
    return next(s for s in index["scenarios"] if s["name"] == name)


def _request(name: str) -> dict[str, Any]:
    path = SAMPLES / _scenario(name)["request"]
    return dict(json.loads(path.read_text(encoding="utf-8")))


def build() -> dict[str, dict[str, Any]]:
    """``{file name: JSON}`` for every file this script writes."""
    own, foreign = _request(CONTEXT_SCENARIO), _request(FOREIGN_SCENARIO)
    request = {
        "hook": "patient-view",
        "hookInstance": str(uuid.uuid5(NS, NAME)),
        "context": dict(own["context"]),
        "prefetch": {
            key: foreign["prefetch"][key] if key in MIXED_KEYS else value
            for key, value in own["prefetch"].items()
        },
    }
    unproven = [key for key, value in request["prefetch"].items()
                 if key not in MIXED_KEYS and value.get("resourceType") == "Bundle"
                 and not value.get("entry")]
    refused = [*MIXED_KEYS, *unproven]
    expected = {
        "scenario": NAME,
        "title": "Prefetch mixed up: three keys hold another patient's data",
        "contextScenario": CONTEXT_SCENARIO,
        "contextPatientId": _scenario(CONTEXT_SCENARIO)["patientId"],
        "foreignScenario": FOREIGN_SCENARIO,
        "foreignPatientId": _scenario(FOREIGN_SCENARIO)["patientId"],
        "mismatchedKeys": list(MIXED_KEYS),
        "unprovenKeys": unproven,
        "withoutFhirServer": {
            "status": 412,
            "neededKeys": list(NEEDED_KEYS),
            "optionalKeys": [k for k in refused if k not in NEEDED_KEYS],
        },
        "withFhirServer": {
            "status": 200,
            "fetchedKeys": refused,
            "expected": _scenario(CONTEXT_SCENARIO)["expected"],
        },
        "notes": "The foreign patient's record would give SYSTEMIC_FIRST_LINE (lenvatinib); the "
        "context patient is not RAI-refractory (MONITOR). A mixed-up key is never used, nor, in a "
        "prefetch that mixes patients, a key that names no patient (unprovenKeys: empty "
        "searchsets): they are fetched from fhirServer when allowed, and without a fhirServer the "
        "call fails with 412 naming each such key.",
    }
    return {
        f"patient-view.{NAME}.json": request,
        f"{NAME}.expected.json": expected,
    }


def main() -> None:
    for name, payload in build().items():
        (HERE / name).write_text(
            json.dumps(payload, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
        )
        print(f"wrote {HERE / name}")


if __name__ == "__main__":
    main()
