"""Bounds on every JSON document the service reads: request bodies and FHIR responses.

``MAX_CONTENT_LENGTH`` (Flask) caps a request body's bytes. This module caps its *shape*, since a
small body can still be costly: nesting deep enough to exhaust the recursion limit in a parser,
validator, ``deepcopy`` or ``json.dumps`` further down (a 500), arrays or objects wide enough to
make rule evaluation quadratic, and too many or too large prefetch keys. It also caps the bytes
read from a FHIR server, which ``requests`` would otherwise read into memory whole.

Every violation raises :class:`~cds_hooks.errors.PayloadTooLarge` (413, OperationOutcome
``too-long``); a FHIR response that breaks a bound makes its prefetch key unavailable (412 when
needed), like any other unusable FHIR answer.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, NoReturn

import orjson
import requests

from cds_hooks.errors import FhirServerError, PayloadTooLarge


@dataclass(frozen=True, slots=True)
class JsonLimits:
    """Shape bounds for one JSON document (see docs/SECURITY.md for the settings)."""

    max_depth: int = 64
    max_array_length: int = 10_000
    max_object_members: int = 1_000
    max_string_length: int = 4 * 1024 * 1024
    max_nodes: int = 2_000_000
    max_prefetch_keys: int = 64
    max_prefetch_key_bytes: int = 8 * 1024 * 1024
    max_fhir_response_bytes: int = 16 * 1024 * 1024
    # a supplied prefetch Bundle's ``entry`` array (instead of max_array_length): a long-followed
    # patient's Observations; resources no rule reads are dropped by the plugin unvalidated
    max_prefetch_entries: int = 50_000

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> JsonLimits:
        """Read the ``MAX_JSON_*``, ``MAX_PREFETCH_KEY*``, ``MAX_FHIR_RESPONSE_BYTES`` settings.

        :raises ValueError: for a bound that is not a positive integer.
        """
        names = {
            "max_depth": "MAX_JSON_DEPTH",
            "max_array_length": "MAX_JSON_ARRAY_LENGTH",
            "max_object_members": "MAX_JSON_OBJECT_MEMBERS",
            "max_string_length": "MAX_JSON_STRING_LENGTH",
            "max_nodes": "MAX_JSON_NODES",
            "max_prefetch_keys": "MAX_PREFETCH_KEYS",
            "max_prefetch_key_bytes": "MAX_PREFETCH_KEY_BYTES",
            "max_fhir_response_bytes": "MAX_FHIR_RESPONSE_BYTES",
            "max_prefetch_entries": "MAX_PREFETCH_ENTRIES",
        }
        values = {}
        for attr, name in names.items():
            if config.get(name) is not None:
                value = int(config[name])
                if value < 1:
                    raise ValueError(f"{name} must be a positive integer")
                values[attr] = value
        return cls(**values)


def check_json_bounds(
    value: Any,
    limits: JsonLimits,
    where: str = "body",
    wide: frozenset[int] = frozenset(),
    *,
    encoded_length: int | None = None,
) -> None:
    """Walk ``value`` (iteratively: no recursion to exhaust) and enforce the shape bounds.

    :param wide: ``id()`` of the arrays bounded by ``max_prefetch_entries`` rather than
        ``max_array_length`` (the ``entry`` arrays of supplied prefetch Bundles).
    :param encoded_length: the length of the JSON text ``value`` was parsed from, when known: no
        string or member name in it can be longer, so at or below ``max_string_length`` member
        names need no look.
    :raises PayloadTooLarge: naming the bound that was exceeded.
    """
    # level by level (depth = level), exact types first (all a JSON parser makes; anything else
    # goes through isinstance, so subclasses are bounded too). Member names are gathered in a
    # set per level (a parser shares the strings of repeated names), so a 6 MB record's 90,000
    # objects cost one C call per level, not one per object.
    max_string = limits.max_string_length
    max_depth = limits.max_depth
    max_members = limits.max_object_members
    max_array = limits.max_array_length
    # arrays at most this long need no look at which bound is theirs
    short = min(max_array, limits.max_prefetch_entries) if wide else max_array
    names: set[Any] | None = (
        None if encoded_length is not None and encoded_length <= max_string else set()
    )
    level: list[Any] = [value]
    depth = 1
    nodes = 0
    while level:
        nodes += len(level)
        if nodes > limits.max_nodes:
            raise PayloadTooLarge(f"{where}: more than {limits.max_nodes} JSON values")
        if depth > max_depth and any(isinstance(item, dict | list) for item in level):
            raise PayloadTooLarge(f"{where}: JSON nested deeper than {max_depth}")
        below: list[Any] = []
        extend = below.extend
        objects: list[Any] = []
        keep = objects.append
        for item in level:
            kind: type | None = type(item)
            if kind not in _PARSED:  # not made by a JSON parser (a subclass): bounded the same
                kind = next((k for k in (dict, list, str) if isinstance(item, k)), None)
            if kind is str:
                if len(item) > max_string:
                    raise PayloadTooLarge(f"{where}: a string is longer than {max_string}")
            elif kind is dict:
                if len(item) > max_members:
                    raise PayloadTooLarge(
                        f"{where}: an object has more than {max_members} members"
                    )
                keep(item)
                extend(item.values())
            elif kind is list:
                if len(item) > short:
                    bound = limits.max_prefetch_entries if id(item) in wide else max_array
                    if len(item) > bound:
                        raise PayloadTooLarge(f"{where}: an array has more than {bound} items")
                extend(item)
        if names is not None and objects:
            names.update(*objects)
        level = below
        depth += 1
    if names and max(len(name) if isinstance(name, str) else 0 for name in names) > max_string:
        raise PayloadTooLarge(f"{where}: a member name is too long")


_PARSED = frozenset({str, dict, list, int, float, bool, type(None)})


def prefetch_entry_arrays(body: Any) -> frozenset[int]:
    """``id()`` of the ``entry`` array of every supplied prefetch Bundle in a hook request."""
    prefetch = body.get("prefetch") if isinstance(body, dict) else None
    if not isinstance(prefetch, dict):
        return frozenset()
    return frozenset(
        id(value["entry"])
        for value in prefetch.values()
        if isinstance(value, dict) and isinstance(value.get("entry"), list)
    )


def _serialised_size(value: Any) -> int:
    """Bytes of ``value`` as compact UTF-8 JSON (orjson; the standard library for what it
    cannot encode, e.g. integers beyond 64 bits)."""
    try:
        return len(orjson.dumps(value))
    except orjson.JSONEncodeError:
        return len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode())


def check_hook_body(body: Any, limits: JsonLimits, max_resources: int | None = None) -> None:
    """Bounds specific to a hook request, after :func:`check_json_bounds` on the whole body.

    Caps the number of prefetch keys, each key's serialised size and, when ``max_resources`` is
    given, the entries of a supplied Bundle (``max_prefetch_entries`` for request bodies).

    :raises PayloadTooLarge: naming the prefetch key at fault.
    """
    if not isinstance(body, dict) or not isinstance(body.get("prefetch"), dict):
        return
    prefetch = body["prefetch"]
    if len(prefetch) > limits.max_prefetch_keys:
        raise PayloadTooLarge(
            f"more than {limits.max_prefetch_keys} prefetch keys", expression=["prefetch"]
        )
    for key, value in prefetch.items():
        where = [f"prefetch.{key}"[:200]]
        if not isinstance(value, dict):
            continue
        entries = value.get("entry")
        if max_resources is not None and isinstance(entries, list) and len(entries) > max_resources:
            raise PayloadTooLarge(
                f"prefetch key has more than {max_resources} entries", expression=where
            )
        try:
            size = _serialised_size(value)
        except (TypeError, ValueError, RecursionError):
            raise PayloadTooLarge("prefetch key cannot be serialised", expression=where) from None
        if size > limits.max_prefetch_key_bytes:
            raise PayloadTooLarge(
                f"prefetch key is larger than {limits.max_prefetch_key_bytes} bytes",
                expression=where,
            )


def _no_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not a JSON number")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):  # 1e999: RFC 8259 numbers are finite
        raise ValueError("number out of range")
    return value


_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")
_SURROGATE = re.compile("[\ud800-\udfff]")


def _has_lone_surrogate(value: Any) -> bool:
    """Whether a string (or member name) anywhere in ``value`` holds an unpaired surrogate."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if _SURROGATE.search(item):
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def loads_bounded(
    data: str | bytes,
    limits: JsonLimits,
    where: str = "body",
    wide_arrays: Callable[[Any], frozenset[int]] | None = None,
) -> Any:
    """Parse JSON with the shape bounds; strict RFC 8259 values.

    orjson parses (measured about 25% faster than ``json`` on a 6 MB record); a document it
    refuses is parsed again by the standard library, so every error keeps its exact meaning.
    ``wide_arrays(value)`` names arrays bounded by ``max_prefetch_entries`` instead.

    ``NaN``, ``Infinity`` and numbers that overflow a float (``1e999``) are refused: a NaN
    compares false with everything, so a rule would silently conclude nothing. So are strings with
    an unpaired UTF-16 surrogate (``"\\ud800"``), which are no text: storing or encoding them fails.

    :raises ValueError: for text that is not JSON (Flask turns it into 400).
    :raises PayloadTooLarge: when nesting exhausts the parser or a bound is exceeded.
    """
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError:
        try:
            value = json.loads(data, parse_constant=_no_constant, parse_float=_finite_float)
        except RecursionError:
            raise PayloadTooLarge(f"{where}: JSON nested too deeply") from None
    check_json_bounds(value, limits, where, wide_arrays(value) if wide_arrays else frozenset(),
                      encoded_length=len(data))
    if isinstance(data, str):  # a str may hold surrogates as characters, not only as escapes
        suspect = "\\u" in data or _SURROGATE.search(data) is not None
    else:
        suspect = _SURROGATE_ESCAPE.search(data) is not None
    if suspect and _has_lone_surrogate(value):
        raise ValueError("a string holds an unpaired UTF-16 surrogate")
    return value


def read_capped(
    response: requests.Response, max_bytes: int, too_large: Callable[[], Exception]
) -> bytes:
    """The body of a ``stream=True`` response, read only up to ``max_bytes``.

    :raises: ``too_large()`` when the declared ``Content-Length`` or the body read exceeds
        ``max_bytes``; read errors (``requests.RequestException``) propagate.
    """
    declared = response.headers.get("Content-Length")
    if declared and declared.isdigit() and int(declared) > max_bytes:
        raise too_large()
    chunks: list[bytes] = []
    total = 0
    for chunk in response.iter_content(chunk_size=65536):
        total += len(chunk)
        if total > max_bytes:
            raise too_large()
        chunks.append(chunk)
    return b"".join(chunks)


def read_fhir_json(response: requests.Response, limits: JsonLimits, shown_url: str) -> Any:
    """Read a (``stream=True``) FHIR response body within the byte and shape bounds.

    :raises FhirServerError: when the body is too large, not JSON, or breaks a bound; the
        prefetch key then counts as unavailable.
    """
    cap = limits.max_fhir_response_bytes
    try:
        body = read_capped(
            response,
            cap,
            lambda: FhirServerError(f"FHIR response larger than {cap} bytes: {shown_url}"),
        )
    except requests.RequestException as exc:
        raise FhirServerError(
            f"could not read the FHIR response ({type(exc).__name__}): {shown_url}"
        ) from exc
    finally:
        response.close()
    try:
        return loads_bounded(body, limits, where=shown_url)
    except PayloadTooLarge as exc:
        raise FhirServerError(f"FHIR response out of bounds ({exc.message})") from None
    except ValueError as exc:
        raise FhirServerError(f"FHIR server sent no JSON for {shown_url}") from exc


def request_json(raw: bytes, app: Any) -> Any:  # noqa: ANN401 - JSON is Any; app is a Flask app
    """Parse a request body with ``app``'s bounds (``app.extensions["rair_cds.limits"]``).

    :raises ValueError: for a body that is not JSON (the caller answers 400).
    :raises PayloadTooLarge: (413) when the body breaks a shape or prefetch bound.
    """
    limits = app.extensions.get("rair_cds.limits") or JsonLimits()
    body = loads_bounded(raw, limits, wide_arrays=prefetch_entry_arrays)
    check_hook_body(body, limits, max_resources=limits.max_prefetch_entries)
    return body
