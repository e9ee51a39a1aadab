"""Write the thyroid sample patients: FHIR Bundles, patient-view requests and expected assessments.

Usage: .venv/bin/python scripts/make_samples.py   (rewrites fhir_samples/thyroid/*)

Every scenario is written by hand in ``scripts/sample_builder/scenarios/`` from DECISIONS §D3's
input profile (codes exactly as §A3 says; project codes in
https://rair-cds.org/fhir/CodeSystem/concepts). The evaluation date is fixed at 2026-11-27 so the
expected assessments are reproducible (``--as-of 2026-11-27``).

Outputs (all committed; this script only regenerates them):

* ``fhir_samples/thyroid/bundles/<scenario>.json``: a FHIR R4 ``collection`` Bundle;
* ``fhir_samples/thyroid/patient-view.<scenario>.json``: a ready-made CDS Hooks request whose
  prefetch is built from the bundle with the service's prefetch keys;
* ``fhir_samples/thyroid/expected/<scenario>.json``: the §A1 fields expected (see README);
* ``fhir_samples/thyroid/index.json``: name, title and paths of every scenario.

The builder is the package ``scripts/sample_builder`` (codes, the patient builder, shared
building blocks, the scenarios by subject, and the writer).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # sample_builder, also when imported

from sample_builder.write import main  # noqa: E402  (needs scripts/ on sys.path first)

if __name__ == "__main__":
    main()
