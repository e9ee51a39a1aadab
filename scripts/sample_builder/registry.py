"""The scenario registry: ``@scenario`` appends each builder to :data:`SCENARIOS`, in import
order (the order numbers the patients ``rair-01``, ``rair-02``, …).
"""

from __future__ import annotations

SCENARIOS: list[dict] = []


def scenario(name: str, title: str, expected: dict, notes: str = ""):  # noqa: ANN201
    def wrap(fn):  # noqa: ANN001, ANN202
        SCENARIOS.append({"name": name, "title": title, "build": fn, "expected": expected,
                          "notes": notes})
        return fn
    return wrap


NEG = {"rairCriteria": []}
