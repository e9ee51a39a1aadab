"""One structured JSON audit line per call, on the logger ``rair_cds.audit``.

The line never holds a token, and holds ``context.patientId`` only when
``AUDIT_INCLUDE_PATIENT`` is set. Callers pass only the fields listed in :data:`FIELDS`.
"""

from __future__ import annotations

import json
import logging
from typing import Any

audit_log = logging.getLogger("rair_cds.audit")

#: the members an audit line may carry (anything else is dropped)
FIELDS = (
    "event",
    "service",
    "hook",
    "hookInstance",
    "status",
    "duration_ms",
    "cards",
    "prefetch",
    "deadline_exceeded",
    "error",
    "feedback_items",
    "feedback_stored",
    "patient",
)


def emit(record: dict[str, Any]) -> str:
    """Log ``record`` as one JSON line (allowed fields only) and return that line."""
    fields = {k: _bounded(record[k]) for k in FIELDS if k in record}
    line = json.dumps(fields, sort_keys=False, default=str)
    audit_log.info(line)
    return line


#: longest string value in an audit line: ``hookInstance`` and ``service`` come from the caller
MAX_VALUE_LENGTH = 200


def _bounded(value: Any) -> Any:  # noqa: ANN401 - any audit field
    if isinstance(value, str) and len(value) > MAX_VALUE_LENGTH:
        return value[: MAX_VALUE_LENGTH - 3] + "..."
    return value
