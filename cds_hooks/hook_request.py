"""Validation of a CDS Hooks 2.0 service request (``POST /cds-services/{id}``).

:func:`parse_hook_request` turns the decoded JSON body into a :class:`HookRequest` or raises
:class:`~cds_hooks.errors.InvalidHookRequest` naming the offending member. Unknown members and
``extension`` are tolerated ("be liberal in what you accept"). Hook contexts follow the CDS
Hooks Library 1.0.1 for ``patient-view``, ``order-select`` and ``order-sign``; other hooks only
need an object ``context``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from cds_hooks.errors import InvalidHookRequest

_FHIR_ID = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")
_REFERENCE = re.compile(r"^[A-Za-z]+/[A-Za-z0-9\-.]{1,64}$")
_CLINICIAN = ("Practitioner", "PractitionerRole")
_ANY_USER = ("Practitioner", "PractitionerRole", "Patient", "RelatedPerson")


@dataclass(frozen=True)
class FhirAuthorization:
    """Spec: ``fhirAuthorization``; ``access_token`` is never logged or echoed."""

    access_token: str
    token_type: str
    expires_in: int
    scope: str
    subject: str
    patient: str | None = None

    def __repr__(self) -> str:  # keep the token out of any accidental log line
        return f"FhirAuthorization(token_type={self.token_type!r}, scope={self.scope!r})"


@dataclass(frozen=True)
class HookRequest:
    """A validated hook request, before its prefetch is resolved."""

    hook: str
    hook_instance: str
    context: Mapping[str, Any]
    prefetch: Mapping[str, Any]
    fhir_server: str | None = None
    fhir_authorization: FhirAuthorization | None = None
    extension: Mapping[str, Any] | None = None


def parse_hook_request(body: Any, expected_hook: str) -> HookRequest:
    """Validate ``body`` as a request for a service registered on ``expected_hook``.

    :raises InvalidHookRequest: with the member at fault in ``expression``.
    """
    if not isinstance(body, dict):
        raise InvalidHookRequest("the request body must be a JSON object")
    hook = _required_str(body, "hook")
    if hook != expected_hook:
        raise InvalidHookRequest(
            f"this service answers hook '{expected_hook}', not '{hook}'", expression=["hook"]
        )
    hook_instance = _required_str(body, "hookInstance")
    fhir_server = body.get("fhirServer")
    if fhir_server is not None:
        fhir_server = _absolute_url(fhir_server)
    authorization = None
    if body.get("fhirAuthorization") is not None:
        if fhir_server is None:
            raise InvalidHookRequest(
                "fhirAuthorization is given without fhirServer", expression=["fhirServer"]
            )
        authorization = _authorization(body["fhirAuthorization"])
    context = body.get("context")
    if not isinstance(context, dict):
        raise InvalidHookRequest(
            "context is required and must be an object", expression=["context"]
        )
    checker = HOOK_CONTEXTS.get(hook)
    if checker is not None:
        checker(context)
    prefetch = body.get("prefetch")
    if prefetch is None:
        prefetch = {}
    if not isinstance(prefetch, dict):
        raise InvalidHookRequest("prefetch must be an object", expression=["prefetch"])
    for key, value in prefetch.items():
        if value is not None and not (isinstance(value, dict) and "resourceType" in value):
            raise InvalidHookRequest(
                f"prefetch '{key}' must be a FHIR resource or null", expression=[f"prefetch.{key}"]
            )
    extension = body.get("extension")
    if extension is not None and not isinstance(extension, dict):
        raise InvalidHookRequest("extension must be an object", expression=["extension"])
    return HookRequest(
        hook=hook,
        hook_instance=hook_instance,
        context=context,
        prefetch=prefetch,
        fhir_server=fhir_server,
        fhir_authorization=authorization,
        extension=extension,
    )


def _required_str(obj: Mapping[str, Any], name: str, where: str = "") -> str:
    value = obj.get(name)
    if not isinstance(value, str) or not value.strip():
        raise InvalidHookRequest(
            f"{where}{name} is required and must be a non-empty string", expression=[where + name]
        )
    return value


def _absolute_url(value: Any) -> str:
    try:
        parts = urlsplit(value) if isinstance(value, str) else None
    except ValueError:  # e.g. an unbalanced IPv6 bracket
        parts = None
    if parts is None or parts.scheme not in ("http", "https") or not parts.netloc:
        raise InvalidHookRequest(
            "fhirServer must be an absolute http(s) URL", expression=["fhirServer"]
        )
    return value.rstrip("/")


def _authorization(value: Any) -> FhirAuthorization:
    where = "fhirAuthorization."
    if not isinstance(value, dict):
        raise InvalidHookRequest(
            "fhirAuthorization must be an object", expression=["fhirAuthorization"]
        )
    token = _required_str(value, "access_token", where)
    if value.get("token_type") != "Bearer":
        raise InvalidHookRequest(
            "fhirAuthorization.token_type must be 'Bearer'", expression=[where + "token_type"]
        )
    expires_in = value.get("expires_in")
    if not isinstance(expires_in, int) or isinstance(expires_in, bool):
        raise InvalidHookRequest(
            "fhirAuthorization.expires_in is required and must be an integer",
            expression=[where + "expires_in"],
        )
    patient = value.get("patient")
    if patient is not None and not isinstance(patient, str):
        raise InvalidHookRequest(
            "fhirAuthorization.patient must be a string", expression=[where + "patient"]
        )
    return FhirAuthorization(
        access_token=token,
        token_type="Bearer",
        expires_in=expires_in,
        scope=_required_str(value, "scope", where),
        subject=_required_str(value, "subject", where),
        patient=patient,
    )


# -- hook contexts (CDS Hooks Library 1.0.1) ------------------------------------------------


def _user_id(context: Mapping[str, Any], types: tuple[str, ...]) -> None:
    user = _required_str(context, "userId", "context.")
    kind, _, ident = user.partition("/")
    if kind not in types or not _FHIR_ID.match(ident):
        raise InvalidHookRequest(
            f"context.userId must be a reference to one of {', '.join(types)}",
            expression=["context.userId"],
        )


def _ids(context: Mapping[str, Any], *, encounter: bool = True) -> None:
    patient = _required_str(context, "patientId", "context.")
    if not _FHIR_ID.match(patient):
        raise InvalidHookRequest(
            "context.patientId is not a FHIR id", expression=["context.patientId"]
        )
    encounter_id = context.get("encounterId")
    if (
        encounter
        and encounter_id is not None
        and (not isinstance(encounter_id, str) or not _FHIR_ID.match(encounter_id))
    ):
        raise InvalidHookRequest(
            "context.encounterId is not a FHIR id", expression=["context.encounterId"]
        )


def _draft_orders(context: Mapping[str, Any]) -> None:
    orders = context.get("draftOrders")
    if not isinstance(orders, dict) or orders.get("resourceType") != "Bundle":
        raise InvalidHookRequest(
            "context.draftOrders is required and must be a FHIR Bundle",
            expression=["context.draftOrders"],
        )
    if "entry" in orders and not isinstance(orders["entry"], list):
        raise InvalidHookRequest(
            "context.draftOrders.entry must be an array", expression=["context.draftOrders.entry"]
        )


def _patient_view(context: Mapping[str, Any]) -> None:
    _ids(context)
    _user_id(context, _ANY_USER)


def _order_select(context: Mapping[str, Any]) -> None:
    _ids(context)
    _user_id(context, _CLINICIAN)
    selections = context.get("selections")
    if (
        not isinstance(selections, list)
        or not selections
        or not all(isinstance(s, str) and _REFERENCE.match(s) for s in selections)
    ):
        raise InvalidHookRequest(
            "context.selections is required: a non-empty array of references like 'Type/id'",
            expression=["context.selections"],
        )
    _draft_orders(context)


def _order_sign(context: Mapping[str, Any]) -> None:
    _ids(context)
    _user_id(context, _CLINICIAN)
    _draft_orders(context)


#: hook name -> context checker; hooks not listed only need an object context.
HOOK_CONTEXTS: dict[str, Callable[[Mapping[str, Any]], None]] = {
    "patient-view": _patient_view,
    "order-select": _order_select,
    "order-sign": _order_sign,
}
