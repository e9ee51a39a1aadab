"""Strings the rule engine cannot take, cleaned once where the reader starts.

durable_rules works on NUL-terminated UTF-8 (RULE-ENGINE.md §3.7): a NUL inside a string
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

from plugin.thyroid.reading.entries import Entry, ReadContext

REPLACEMENT = "\ufffd"
NOTE = ("contains control characters or invalid Unicode; read with them replaced by U+FFFD "
        "(check the source record)")
_BAD = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")


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


def clean_entry(entry: Entry, ctx: ReadContext) -> Entry:
    """The entry with its resource, reference and fullUrl cleaned; a note when any changed."""
    resource, changed = clean_value(entry.resource)
    source, source_changed = clean_value(entry.source)
    full_url, url_changed = clean_value(entry.full_url)
    if not (changed or source_changed or url_changed):
        return entry
    ctx.note(source, NOTE)
    return Entry(resource, source, full_url)
