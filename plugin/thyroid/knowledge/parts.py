"""One knowledge text spread over several YAML files: a file lists its ``parts``.

A long knowledge file (the card text, ``cards.yaml``) names sibling files under a top-level
``parts:`` list; :func:`load_with_parts` reads the file and its parts and returns one mapping, as
if they were one file. Each top-level key lives in exactly one file, so an entry is edited in one
place; a key in two files is an error, and so is a part that lists parts of its own.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

PARTS_KEY = "parts"


def load_with_parts(path: Path) -> dict[str, Any]:
    """The mapping of the YAML file ``path`` merged with the files its ``parts`` list names.

    :raises OSError: when a file cannot be read.
    :raises yaml.YAMLError: when a file is not valid YAML.
    :raises ValueError: when a file is not a mapping, ``parts`` is not a list of file names, a
        part lists parts itself, or two files define the same top-level key.
    """
    merged = _mapping(path)
    names = merged.pop(PARTS_KEY, [])
    if not isinstance(names, list) or not all(isinstance(n, str) and n for n in names):
        raise ValueError(f"{path.name}: '{PARTS_KEY}' must be a list of file names")
    defined_in = dict.fromkeys(merged, path.name)
    for name in names:
        part_path = path.parent / name
        if Path(name).name != name:
            raise ValueError(f"{path.name}: part {name!r} must be a file in the same folder")
        part = _mapping(part_path)
        if PARTS_KEY in part:
            raise ValueError(f"{name}: a part cannot list '{PARTS_KEY}' of its own")
        for key, value in part.items():
            if key in defined_in:
                raise ValueError(f"'{key}' is defined in both {defined_in[key]} and {name}")
            defined_in[key] = name
            merged[key] = value
    return merged


def _mapping(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if data is None:
        return {}
    if not isinstance(data, Mapping):
        raise ValueError(f"{path.name}: the top level must be a mapping")
    return dict(data)
