"""Where the thyroid knowledge files live (``rules/thyroid`` unless configured).

``RAIR_CDS_RULES_DIR`` names another folder holding the same files (codes, thresholds,
therapies, card texts, ``*.rules.yaml``); it is read once, when the plugin is imported. Used by
``scripts/mutate_knowledge.py`` to run the tests against a mutated copy, and by sites that keep
their knowledge outside the repository. See docs/CONFIGURATION.md.
"""

from __future__ import annotations

import os
from pathlib import Path

ENV_VAR = "RAIR_CDS_RULES_DIR"
DEFAULT_RULES_DIR = Path(__file__).resolve().parents[2] / "rules" / "thyroid"


def configured_rules_dir() -> Path:
    """The knowledge folder: ``$RAIR_CDS_RULES_DIR`` when set and non-empty, else the default."""
    value = os.environ.get(ENV_VAR, "").strip()
    return Path(value).expanduser().resolve() if value else DEFAULT_RULES_DIR


RULES_DIR = configured_rules_dir()
