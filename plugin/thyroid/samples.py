"""The bundled sample patients (``fhir_samples/thyroid``), listed for the demo page and tests.

Each scenario has a FHIR collection Bundle, a ready-made ``patient-view`` request (its prefetch
built from the bundle) and the expected §A1 assessment fields, all written by
``scripts/make_samples.py`` and listed in ``fhir_samples/thyroid/index.json``.
"""

from __future__ import annotations

import json
from typing import Any

from plugin.package_data import data_dir

SAMPLES_DIR = data_dir("fhir_samples") / "thyroid"
INDEX = SAMPLES_DIR / "index.json"


def evaluation_date() -> str:
    """The evaluation date the expected assessments assume (ISO ``YYYY-MM-DD``)."""
    return str(json.loads(INDEX.read_text(encoding="utf-8"))["evaluationDate"])


def sample_index() -> list[dict[str, Any]]:
    """Every scenario: ``name``, ``title``, ``patientId`` and absolute paths ``bundle``,
    ``request`` and ``expected`` (strings), in the index's order."""
    data = json.loads(INDEX.read_text(encoding="utf-8"))
    rows = []
    for item in data["scenarios"]:
        rows.append({
            "name": item["name"],
            "title": item["title"],
            "patientId": item.get("patientId"),
            "bundle": str(SAMPLES_DIR / item["bundle"]),
            "request": str(SAMPLES_DIR / item["request"]),
            "expected": str(SAMPLES_DIR / item["expected"]),
        })
    return rows
