"""The FHIR input as the reader sees it: flattened resources, validation, dates and notes.

``flatten`` unpacks Bundles (any type, nested) and ``Parameters`` resources into
:class:`Entry` objects, each with the relative reference that ``clinical_model`` calls
``source``. ``ReadContext`` collects data-quality notes and resolves references between the
resources of one input. Nothing here knows about thyroids.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from fhir.resources.R4B import get_fhir_model_class
from pydantic import ValidationError

from plugin.thyroid.clinical_model import DataQualityNote

_DATE = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?$")


@dataclass(frozen=True, slots=True)
class Entry:
    """One resource of the input, with the reference other resources may use for it."""

    resource: Mapping[str, Any]
    source: str
    full_url: str | None = None


def source_of(resource: Mapping[str, Any], full_url: str | None, position: int) -> str:
    """``Type/id``; the fullUrl when there is no id; else ``Type/#<position>``."""
    rtype = str(resource.get("resourceType") or "Resource")
    rid = resource.get("id")
    if rid:
        return f"{rtype}/{rid}"
    if full_url:
        tail = full_url.rstrip("/").split("/")
        return "/".join(tail[-2:]) if len(tail) > 2 and tail[-2] == rtype else full_url
    return f"{rtype}/#{position}"


def flatten(resources: Iterable[Mapping[str, Any]]) -> Iterator[Entry]:
    """Yield every non-container resource, unpacking Bundles and Parameters recursively."""
    counter = iter(range(1_000_000_000))

    def walk(resource: Any, full_url: str | None) -> Iterator[Entry]:
        if type(resource) is not dict and not isinstance(resource, Mapping):
            return
        rtype = resource.get("resourceType")
        if rtype == "Bundle":
            for entry in resource.get("entry") or []:
                if isinstance(entry, Mapping):
                    yield from walk(entry.get("resource"), entry.get("fullUrl"))
        elif rtype == "Parameters":
            yield from _parameters(resource.get("parameter") or [])
        else:
            yield Entry(resource, source_of(resource, full_url, next(counter)), full_url)

    def _parameters(params: Iterable[Any]) -> Iterator[Entry]:
        for param in params:
            if isinstance(param, Mapping):
                yield from walk(param.get("resource"), None)
                yield from _parameters(param.get("part") or [])

    for resource in resources:
        if type(resource) is dict and resource.get("resourceType") not in _CONTAINERS:
            # the usual case (pipeline.flatten_prefetch has unpacked the Bundles): no generator
            yield Entry(resource, source_of(resource, None, next(counter)), None)
        else:
            yield from walk(resource, None)


_CONTAINERS = frozenset({"Bundle", "Parameters"})


def validation_problem(resource: Mapping[str, Any]) -> str | None:
    """Validate with ``fhir.resources.R4B``; return a short, patient-data-free error or None."""
    rtype = resource.get("resourceType")
    try:
        model = get_fhir_model_class(str(rtype))
    except (KeyError, ValueError, AttributeError, TypeError):
        return f"unknown resourceType {rtype!r}"
    try:
        model.model_validate(dict(resource))
    except ValidationError as exc:
        # Locations and error types only: messages may echo the (patient) input.
        errors = exc.errors(include_input=False, include_url=False)
        parts = [f"{'.'.join(str(x) for x in e['loc'])}: {e['type']}" for e in errors[:3]]
        more = f" (+{len(errors) - 3} more)" if len(errors) > 3 else ""
        return "; ".join(parts) + more
    except (TypeError, ValueError) as exc:  # fhir.resources raises these for malformed shapes
        return type(exc).__name__
    return None


def parse_date(value: Any) -> dt.date | None:
    """The UTC day of a FHIR date/dateTime/instant; ``None`` when absent, partial or invalid."""
    if not isinstance(value, str) or not value:
        return None
    match = _DATE.match(value)
    if match:
        if match.group(3) is None:
            return None  # "2019" or "2019-04": the day is unknown, never guessed
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            return None
    try:
        instant = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if instant.tzinfo is not None:
        instant = instant.astimezone(dt.UTC)
    return instant.date()


def event_date_value(resource: Mapping[str, Any]) -> str | None:
    """The raw date string of a resource, by the first of the §A3 date elements present."""
    for key in ("effectiveDateTime", "performedDateTime", "onsetDateTime", "occurrenceDateTime"):
        if resource.get(key):
            return resource[key]
    for key in ("effectivePeriod", "performedPeriod", "onsetPeriod", "occurrencePeriod"):
        period = resource.get(key)
        if isinstance(period, Mapping) and period.get("start"):
            return period["start"]
    for key in ("effectiveInstant", "issued", "authoredOn", "recordedDate", "dateAsserted"):
        if resource.get(key):
            return resource[key]
    return None


def components(resource: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The ``component`` list of an Observation."""
    return [c for c in resource.get("component") or [] if isinstance(c, Mapping)]


def quantity_value(quantity: Any) -> float | None:
    """The numeric value of a Quantity, or ``None``."""
    if isinstance(quantity, Mapping) and isinstance(quantity.get("value"), int | float):
        if not isinstance(quantity["value"], bool):
            return float(quantity["value"])
    return None


def quantity_unit(quantity: Any) -> str | None:
    """The UCUM code of a Quantity, else its human ``unit``, else ``None``."""
    if not isinstance(quantity, Mapping):
        return None
    for key in ("code", "unit"):
        if isinstance(quantity.get(key), str) and quantity[key].strip():
            return quantity[key].strip()
    return None


@dataclass
class ReadContext:
    """Notes and cross-references for one call of ``read_record``."""

    notes: list[DataQualityNote] = field(default_factory=list)
    by_reference: dict[str, Mapping[str, Any]] = field(default_factory=dict)
    #: resources no reader uses (a long record's routine labs), indexed only if a reference
    #: is not found among the others
    aside: list[Mapping[str, Any]] = field(default_factory=list)
    _aside_index: dict[str, Mapping[str, Any]] | None = None

    def index(self, entries: Iterable[Entry]) -> None:
        """Remember every resource under ``Type/id`` and its fullUrl."""
        for entry in entries:
            self.by_reference.setdefault(entry.source, entry.resource)
            if entry.full_url:
                self.by_reference.setdefault(entry.full_url, entry.resource)

    def note(self, source: str, message: str, missing: str | None = None) -> None:
        """Record a data-quality note (never with patient values in it)."""
        item = DataQualityNote(source=source, message=message, missing=missing)
        if item not in self.notes:
            self.notes.append(item)

    def resolve(self, reference: Any, container: Mapping[str, Any]) -> Mapping[str, Any] | None:
        """Resolve a Reference to a contained resource or to another resource of the input."""
        if not isinstance(reference, Mapping) or not isinstance(reference.get("reference"), str):
            return None
        ref = reference["reference"]
        if ref.startswith("#"):
            for contained in container.get("contained") or []:
                if isinstance(contained, Mapping) and contained.get("id") == ref[1:]:
                    return contained
            return None
        if ref in self.by_reference:
            return self.by_reference[ref]
        tail = "/".join(ref.rstrip("/").split("/")[-2:])  # absolute URL -> Type/id
        if tail in self.by_reference or not self.aside:
            return self.by_reference.get(tail)
        if self._aside_index is None:
            self._aside_index = {}
            for position, resource in enumerate(self.aside):
                self._aside_index.setdefault(source_of(resource, None, position), resource)
        found = self._aside_index.get(ref)
        return found if found is not None else self._aside_index.get(tail)

    def date(self, resource: Mapping[str, Any], source: str) -> dt.date | None:
        """The event date of ``resource``; notes a date that is present but unusable."""
        raw = event_date_value(resource)
        day = parse_date(raw)
        if raw is not None and day is None:
            self.note(source, "date is partial or invalid; treated as unknown", "date")
        return day
