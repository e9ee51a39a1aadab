"""Strings the rule engine cannot take, cleaned once where the reader starts.

durable_rules works on NUL-terminated UTF-8 (docs/ENGINE.md §E3.7): a NUL inside a string
is refused, and a lone surrogate (JSON ``"\\ud800"`` decodes to one) cannot be encoded at
all, which used to fail the call and lose an engine state. Ids, references and texts of the
input reach the engine's facts (``ref``, ``label``), so ``read_record`` passes every entry
through :func:`clean_entry` before any reader sees it: each C0 control character other than
tab, line feed and carriage return, DEL and each lone surrogate becomes U+FFFD (so two ids
that differed still differ), and the resource gets a data-quality note. Nothing else in the
resource changes; a clean resource is returned as is, not copied.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import orjson

from plugin.thyroid.reading.entries import Entry, ReadContext

REPLACEMENT = "\ufffd"
NOTE = ("contains control characters or invalid Unicode; read with them replaced by U+FFFD "
        "(check the source record)")
_BAD = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")
# In orjson's output a refused character can only appear as a \u00XX escape, \b, \f or a raw
# DEL (orjson refuses lone surrogates); a match here may be a false alarm (an escaped
# backslash before "b"), which only sends the value down the exact path.
_BAD_IN_JSON = re.compile(rb"\\u00|\\b|\\f|\x7f")


def clean_text(text: str) -> str:
    """``text`` with each refused character replaced by U+FFFD."""
    return _BAD.sub(REPLACEMENT, text)


def clean_value(value: Any) -> tuple[Any, bool]:
    """(the value with every string and key cleaned, whether anything changed)."""
    if isinstance(value, str):
        if _BAD.search(value) is None:
            return value, False
        return clean_text(value), True
    if isinstance(value, Mapping):
        changed = False
        out: dict[Any, Any] = {}
        for key, item in value.items():
            new_key, key_changed = clean_value(key) if isinstance(key, str) else (key, False)
            new_item, item_changed = clean_value(item)
            out[new_key] = new_item
            changed = changed or key_changed or item_changed
        return (out, True) if changed else (value, False)
    if isinstance(value, list):
        items = [clean_value(item) for item in value]
        if any(changed for _, changed in items):
            return [item for item, _ in items], True
        return value, False
    return value, False


def plainly_clean(value: Any) -> bool:
    """True when ``value`` surely holds no refused character: its JSON (orjson, in C) shows
    none. ``False`` means "look closer" (:func:`clean_value`): a refused character, a value
    orjson cannot encode (a lone surrogate, a non-string key), or a false alarm."""
    try:
        return _BAD_IN_JSON.search(orjson.dumps(value)) is None
    except (TypeError, ValueError):  # orjson.JSONEncodeError is a TypeError
        return False


def clean_entry(entry: Entry, ctx: ReadContext) -> Entry:
    """The entry with its resource, reference and fullUrl cleaned; a note when any changed."""
    if (
        plainly_clean(entry.resource)  # a record of 10,000 resources: ~10x faster than walking
        and _BAD.search(entry.source) is None
        and (entry.full_url is None or _BAD.search(entry.full_url) is None)
    ):
        return entry
    resource, changed = clean_value(entry.resource)
    source, source_changed = clean_value(entry.source)
    full_url, url_changed = clean_value(entry.full_url)
    if not (changed or source_changed or url_changed):
        return entry
    ctx.note(source, NOTE)
    return Entry(resource, source, full_url)
