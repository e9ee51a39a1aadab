"""One record, one patient: does a prefetch value hold another patient's data?

A hook call is about ``context.patientId``. A prefetched ``Patient`` whose ``id`` is another, or
a resource whose ``subject`` or ``patient`` reference names another patient, must never be used
for it (docs/ARCHITECTURE.md, "One record, one patient"): an EHR that mixes up two patients'
prefetch would otherwise get one patient's assessment, and orders, for the other.

References compared (by the patient's id):

* ``Patient/<id>`` (with or without ``/_history/<version>``);
* absolute URLs ending so (``https://ehr.example.org/fhir/Patient/<id>``);
* ``urn:uuid:`` / ``urn:oid:`` references inside a supplied Bundle, resolved through the
  Bundle's ``entry.fullUrl`` to the ``Patient`` entry they name, whose ``id`` is then compared.

A reference that names no patient (``Group/1``, ``#contained``, a logical ``identifier``, a
``urn:uuid:`` that no entry resolves to a Patient with an id) is not a mismatch: it cannot be
compared. Nor can an empty searchset or a ``null``: they name no patient. So when a prefetch holds
another patient's data in some key, :func:`refusals` does not trust its keys that name no patient
either (an EHR that mixed up two records may have sent the other patient's "no medications"):
they are read again, like the mixed-up keys. Messages name the resource type and the member,
never an id (no patient data).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

#: members of a resource that name the patient it is about (FHIR R4: subject or patient)
PATIENT_MEMBERS = ("subject", "patient")
_TYPED = re.compile(r"(?:^|/)Patient/([A-Za-z0-9\-.]{1,64})(?:/_history/[^/]+)?$")


def refusals(prefetch: Mapping[str, Any], keys: Iterable[str], patient_id: str) -> dict[str, str]:
    """``{key: why}`` for the supplied prefetch keys that must not be used for ``patient_id``.

    A key holding another patient's data is refused; if there is one, so is every other supplied
    key (a resource or ``null``) that names no patient at all. Absent keys and
    ``OperationOutcome`` values are left out: they are fetched anyway.
    """
    supplied = {
        key: prefetch[key]
        for key in keys
        if key in prefetch
        and (prefetch[key] is None or isinstance(prefetch[key], Mapping))
        and (prefetch[key] or {}).get("resourceType") != "OperationOutcome"
    }
    out = {
        key: f"the supplied value holds another patient's data ({why})"
        for key, value in supplied.items()
        if (why := foreign_patient(value, patient_id)) is not None
    }
    if out:
        for key, value in supplied.items():
            if key not in out and not names_patient(value, patient_id):
                out[key] = ("the supplied value names no patient, and other keys of this prefetch "
                            "hold another patient's data")
    return out


def names_patient(value: Any, patient_id: str) -> bool:
    """Whether ``value`` (a resource or a Bundle) holds a resource that names ``patient_id``:
    the Patient itself, or a ``subject``/``patient`` reference to it."""
    for resource, by_full_url in _resources(value):
        if resource.get("resourceType") == "Patient" and resource.get("id") == patient_id:
            return True
        for member in PATIENT_MEMBERS:
            ref = resource.get(member)
            reference = ref.get("reference") if isinstance(ref, Mapping) else None
            if isinstance(reference, str) and referenced_patient(reference, by_full_url) == \
                    patient_id:
                return True
    return False


def foreign_patient(value: Any, patient_id: str) -> str | None:
    """Why the prefetch ``value`` holds data of a patient other than ``patient_id``, or None.

    ``value`` is one prefetch value: a resource, or a Bundle whose entries are checked one by
    one (``urn:uuid:`` references resolved inside it).
    """
    named: dict[str, str | None] = {}  # reference -> patient id, within this one value
    found = [
        problem
        for resource, by_full_url in _resources(value)
        if (problem := _mismatch(resource, patient_id, by_full_url, named)) is not None
    ]
    if not found:
        return None
    more = f" (and {len(found) - 1} more)" if len(found) > 1 else ""
    return f"{found[0]}{more}"


def referenced_patient(reference: str, by_full_url: Mapping[str, Any]) -> str | None:
    """The id of the Patient that ``reference`` names, or None when it names none we can tell."""
    reference = reference.strip()
    if reference.startswith(("urn:uuid:", "urn:oid:")):
        target = by_full_url.get(reference)
        if isinstance(target, Mapping) and target.get("resourceType") == "Patient":
            ident = target.get("id")
            return ident if isinstance(ident, str) and ident else None
        return None
    match = _TYPED.search(reference)
    return match.group(1) if match else None


def _resources(value: Any) -> Iterator[tuple[Mapping[str, Any], Mapping[str, Any]]]:
    """``(resource, the Bundle's fullUrl index)`` for ``value`` or each entry of a Bundle."""
    if not isinstance(value, Mapping):
        return
    if value.get("resourceType") != "Bundle":
        yield value, {}
        return
    listed = value.get("entry")
    entries = (
        [e for e in listed if type(e) is dict or isinstance(e, Mapping)]
        if isinstance(listed, list) else []
    )
    by_full_url = {
        url: resource
        for e in entries
        if isinstance(url := e.get("fullUrl"), str)
        and (type(resource := e.get("resource")) is dict or isinstance(resource, Mapping))
    }
    for entry in entries:
        resource = entry.get("resource")
        if type(resource) is dict or isinstance(resource, Mapping):
            yield resource, by_full_url


def _mismatch(resource: Mapping[str, Any], patient_id: str, by_full_url: Mapping[str, Any],
              named_by: dict[str, str | None]) -> str | None:
    """Why ``resource`` is another patient's, or None. ``named_by`` memoises
    :func:`referenced_patient` for one value (one ``by_full_url``): a long record repeats one
    subject reference in every entry."""
    rtype = resource.get("resourceType")
    if rtype == "Patient" and resource.get("id") != patient_id:
        return "a Patient whose id is not context.patientId"
    for member in PATIENT_MEMBERS:
        ref = resource.get(member)
        if ref is None:  # the usual case for one of the two: no ABC isinstance check
            continue
        reference = (ref.get("reference") if type(ref) is dict or isinstance(ref, Mapping)
                     else None)
        if not isinstance(reference, str):
            continue
        if reference in named_by:
            named = named_by[reference]
        else:
            named = named_by[reference] = referenced_patient(reference, by_full_url)
        if named is not None and named != patient_id:
            return f"{rtype}.{member} names another patient than context.patientId"
    return None
