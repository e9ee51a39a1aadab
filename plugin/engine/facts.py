"""plugin.engine.facts: what a fact may hold, and the input facts prepared for durable_rules.

:func:`check_json_value` is the value check shared by input facts and rule files: what durable
stores correctly (JSON scalars or lists of them, strings under 64 KiB, 64-bit integers, §E3.7,
§E3.10). :func:`prepare_facts` checks one evaluation's input facts and gives them positional ids
(§E3.2), the sentinel first (§E3.1).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

from plugin.engine.errors import RuleEngineError
from plugin.engine.ids import FACT_IDS, MAX_FACTS, SENTINEL_ID, SENTINEL_TYPE

__all__ = [
    "MAX_PROPERTIES",
    "MAX_STRING_BYTES",
    "check_json_value",
    "is_json_scalar",
    "prepare_facts",
]

#: A fact with more properties than this silently stops matching (measured on 2.0.28:
#: 254 properties match, 257 don't). ``id``, ``sid`` and ``fhir_id`` count too.
MAX_PROPERTIES = 250
#: durable stores a string's length in 16 bits: "BRAF" + 65,536 more characters then
#: equals "BRAF" in a rule (measured on 2.0.28). Limit of the JSON-escaped UTF-8 bytes.
MAX_STRING_BYTES = 60_000
#: durable parses integers into a C ``long``; larger ones would not compare correctly.
_INT_MIN, _INT_MAX = -(2**63), 2**63 - 1

_RESERVED_FACT_KEYS = frozenset({"sid", "fhir_id"})


def is_json_scalar(value: object) -> bool:
    """Whether ``value`` is a JSON scalar durable stores as is (64-bit int, finite float)."""
    if value is None or isinstance(value, (str, bool)):
        return True
    if isinstance(value, int):
        return _INT_MIN <= value <= _INT_MAX
    if isinstance(value, float):
        return math.isfinite(value)
    return False


def check_json_value(value: object, where: str) -> None:
    """Raise unless ``value`` is a JSON scalar or a list of them (what durable stores)."""
    if is_json_scalar(value):
        if isinstance(value, str):
            if "\x00" in value:
                # The C core works on NUL-terminated strings.
                raise RuleEngineError(f"{where}: strings must not contain NUL characters")
            if not value.isascii():
                try:
                    value.encode("utf-8")
                except UnicodeEncodeError:
                    # A lone surrogate: durable could not even read the payload, and the
                    # failed call left a state it could not delete.
                    raise RuleEngineError(
                        f"{where}: strings must be valid Unicode (no lone surrogates)"
                    ) from None
            # Escaping at most sextuples a character's UTF-8 bytes, so short strings
            # skip the exact (slower) measurement.
            if len(value) * 6 > MAX_STRING_BYTES and (
                len(json.dumps(value, ensure_ascii=False).encode("utf-8")) > MAX_STRING_BYTES
            ):
                raise RuleEngineError(
                    f"{where}: string longer than {MAX_STRING_BYTES} bytes; durable_rules"
                    " would compare it wrongly"
                )
        return
    if isinstance(value, list):
        for item in value:
            if not is_json_scalar(item) or isinstance(item, list):
                raise RuleEngineError(
                    f"{where}: list items must be JSON scalars, got {type(item).__name__}"
                    f" {item!r}"
                )
            check_json_value(item, where)
        return
    if isinstance(value, float):
        raise RuleEngineError(f"{where}: {value!r} is not a finite number")
    if isinstance(value, int):
        raise RuleEngineError(f"{where}: integer {value} does not fit in 64 bits")
    raise RuleEngineError(
        f"{where}: {type(value).__name__} {value!r} is not a JSON scalar or list of scalars"
        " (convert Decimal, dates and nested objects in the fact mapper)"
    )


def prepare_facts(facts: Sequence[Mapping[str, Any]]) -> list[dict]:
    """Validate input facts and give them positional ids (§E3.2), sentinel first (§E3.1).

    :raises RuleEngineError: naming the first invalid fact.
    """
    if isinstance(facts, (str, bytes, Mapping)) or not isinstance(facts, Sequence):
        raise RuleEngineError(f"facts must be a sequence of mappings, got {type(facts).__name__}")
    if len(facts) > MAX_FACTS:
        raise RuleEngineError(f"{len(facts)} facts; at most {MAX_FACTS} per evaluation")
    out: list[dict] = [{"type": SENTINEL_TYPE, "id": SENTINEL_ID}]
    for index, fact in enumerate(facts):
        where = f"fact {index}"
        if not isinstance(fact, Mapping):
            raise RuleEngineError(f"{where}: must be a mapping, got {type(fact).__name__}")
        fact_type = fact.get("type")
        if not isinstance(fact_type, str) or not fact_type:
            raise RuleEngineError(f"{where}: needs a non-empty string 'type'")
        where = f"fact {index} ({fact_type})"
        if fact_type == SENTINEL_TYPE:
            raise RuleEngineError(f"{where}: type {SENTINEL_TYPE!r} is reserved")
        if len(fact) + 2 > MAX_PROPERTIES:
            raise RuleEngineError(f"{where}: more than {MAX_PROPERTIES - 2} fields")
        prepared: dict = {}
        for key, value in fact.items():
            if not isinstance(key, str) or key.startswith("$"):
                # durable reads "$"-keys as its own (e.g. "$s" marks the state fact).
                raise RuleEngineError(f"{where}: key {key!r} must be a string not starting with $")
            if key in _RESERVED_FACT_KEYS and not (key == "fhir_id" and "id" not in fact):
                raise RuleEngineError(f"{where}: key {key!r} is reserved for the engine")
            if not _plainly_valid(value):
                check_json_value(value, f"{where}.{key}")
            prepared["fhir_id" if key == "id" else key] = value
        prepared["id"] = FACT_IDS[index]
        out.append(prepared)
    return out


# Strings this short stay under MAX_STRING_BYTES even when every character is escaped.
_SHORT_STRING = MAX_STRING_BYTES // 6


def _plainly_valid(value: object) -> bool:
    """The common values :func:`check_json_value` accepts, recognised cheaply (``False``: let
    it decide, and raise). A subset of what it accepts, never more."""
    if type(value) is str:
        return len(value) <= _SHORT_STRING and value.isascii() and "\x00" not in value
    if type(value) is int:
        return _INT_MIN <= value <= _INT_MAX
    if type(value) is float:
        return math.isfinite(value)
    return value is None or type(value) is bool
