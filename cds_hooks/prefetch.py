"""The prefetch engine: turn a request's ``prefetch`` into the data a service asked for.

Per key of the service's ``ServiceDefinition.prefetch`` (STYLE G5):

* supplied resource: used as is; a searchset with ``link[next]`` is completed from fhirServer;
* supplied ``null``: "no data", not an error (value ``None``, state ``null``);
* supplied ``OperationOutcome`` or absent: fetched from ``fhirServer`` with the bearer token;
* supplied, or fetched, with another patient's data (a Patient whose id is not
  ``context.patientId``, a ``subject``/``patient`` naming another patient:
  :mod:`cds_hooks.patient_match`): never used; a supplied one counts as absent (fetched when
  allowed), a fetched one as missing. In a prefetch that holds another patient's data, a
  supplied key that names no patient (an empty searchset, ``null``) counts as absent too.

Keys are fetched concurrently. When a key the service *needs* (``needs_data``) cannot be had,
:class:`~cds_hooks.errors.PrefetchUnavailable` (412) names every key that could not be had, each
with its reason; otherwise such keys become ``None`` and are listed in ``missing``. Templates use
only the spec's tokens (see :data:`TOKENS`).

Spec "FHIR Resource Access": a service presents a valid access token with every FHIR call, so
with ``require_authorization`` (setting ``FHIR_REQUIRE_AUTHORIZATION``, on by default) nothing is
fetched for a request without ``fhirAuthorization``: its absent keys are missing.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from cds_hooks.errors import (
    CdsHooksError,
    ConfigurationError,
    DeadlineExceeded,
    PrefetchUnavailable,
)
from cds_hooks.fhir_client import FhirClient, missing_matches, next_link
from cds_hooks.hook_request import HookRequest
from cds_hooks.patient_match import foreign_patient, refusals
from cds_hooks.service import ServiceDefinition

log = logging.getLogger("rair_cds.prefetch")

_TOKEN = re.compile(r"\{\{\s*([^{}]*?)\s*\}\}")
_CONTEXT_TOKEN = re.compile(r"^context\.[A-Za-z][A-Za-z0-9]*$")
#: {{userXxxId}} tokens (spec 2.0 "Prefetch tokens"): the id part of context.userId by type
USER_TOKENS = {
    "userPractitionerId": "Practitioner",
    "userPractitionerRoleId": "PractitionerRole",
    "userPatientId": "Patient",
    "userRelatedPersonId": "RelatedPerson",
}
TOKENS = ("context.<simple field>", *USER_TOKENS)
#: context fields that are not primitive (objects, arrays) in the CDS Hooks Library hooks; spec:
#: "Only root-level fields with a primitive value within the context object are eligible"
NON_PRIMITIVE_CONTEXT = {
    "order-select": frozenset({"draftOrders", "selections"}),
    "order-sign": frozenset({"draftOrders"}),
}

SUPPLIED, COMPLETED, FETCHED, NULL, MISSING = "supplied", "completed", "fetched", "null", "missing"


class _Unresolvable(Exception):
    """A template token has no value in this call's context."""


@dataclass(frozen=True)
class PrefetchResult:
    """Resolved prefetch: values per key, the state of each key, and the keys that are missing."""

    values: dict[str, Any] = field(default_factory=dict)
    states: dict[str, str] = field(default_factory=dict)
    missing: tuple[str, ...] = ()


def check_template(template: str, hook: str | None = None) -> None:
    """Refuse a template that uses a token outside the spec's set (spec "Prefetch tokens").

    Tokens are delimited by ``{{`` and ``}}`` (a stray brace pair is refused), name a root-level
    context field as ``context.<field>`` or a ``userXxxId``; for a known ``hook``, a field that is
    not primitive (e.g. ``draftOrders``) is refused too.

    :raises ConfigurationError: naming the token.
    """
    if not isinstance(template, str) or not template.strip():
        raise ConfigurationError("a prefetch template must be a non-empty string")
    for token in _TOKEN.findall(template):
        if not (_CONTEXT_TOKEN.match(token) or token in USER_TOKENS):
            raise ConfigurationError(
                f"prefetch template token '{{{{{token}}}}}' is not a CDS Hooks token"
            )
        field_name = token.partition(".")[2]
        if field_name in NON_PRIMITIVE_CONTEXT.get(hook or "", ()):
            raise ConfigurationError(
                f"prefetch template token '{{{{{token}}}}}': context.{field_name} of {hook} is "
                "not a primitive value"
            )
    rest = _TOKEN.sub("", template)
    if "{{" in rest or "}}" in rest:
        raise ConfigurationError(
            "prefetch template has an unbalanced '{{' or '}}' (tokens are {{...}})"
        )


#: search parameters beyond plain ones that the spec's recommended subset allows
_ALLOWED_SPECIAL_PARAMS = frozenset({"_count", "_sort"})
_DATE_PREFIX = re.compile(r"^(ne|sa|eb|ap)\d")


def query_advice(template: str) -> list[str]:
    """Where ``template`` leaves the query subset the spec RECOMMENDS for prefetch (2.0
    "Prefetch query restrictions"): instance reads and type searches, ``:in`` as the only
    modifier, date prefixes ``eq``/``lt``/``gt``/``ge``/``le``, ``_count`` and ``_sort``.

    An empty list means the template keeps to the subset. Advice, not an error: the registry
    logs it at start-up.
    """
    advice = []
    path, _, query = _TOKEN.sub("x", template).partition("?")
    if path.count("/") > 1 or not path[:1].isupper():
        advice.append(f"'{path}' is not a type search or an instance read")
    for pair in filter(None, query.split("&")):
        name, _, value = pair.partition("=")
        base, _, modifier = name.partition(":")
        if modifier and modifier != "in":
            advice.append(f"modifier ':{modifier}' (only ':in' is recommended)")
        if "." in base:
            advice.append(f"chained parameter '{base}'")
        if base.startswith("_") and base not in _ALLOWED_SPECIAL_PARAMS:
            advice.append(f"parameter '{base}' (only _count and _sort are recommended)")
        if _DATE_PREFIX.match(value):
            advice.append(f"date prefix '{value[:2]}' (eq, lt, gt, ge, le are recommended)")
    return advice


def render_template(template: str, context: Mapping[str, Any]) -> str:
    """Substitute the spec's tokens from ``context``; values are URL-escaped.

    :raises _Unresolvable: when a token has no simple value in this context.
    """

    def substitute(match: re.Match[str]) -> str:
        token = match.group(1)
        if token in USER_TOKENS:
            kind, _, ident = str(context.get("userId") or "").partition("/")
            if kind != USER_TOKENS[token] or not ident:
                raise _Unresolvable(token)
            value: Any = ident
        elif _CONTEXT_TOKEN.match(token):
            value = context.get(token.split(".", 1)[1])
            if not isinstance(value, str | int | float) or isinstance(value, bool) or value == "":
                raise _Unresolvable(token)
        else:
            raise _Unresolvable(token)
        return quote(str(value), safe="/-._~")

    return _TOKEN.sub(substitute, template)


def resolve_prefetch(
    request: HookRequest,
    definition: ServiceDefinition,
    *,
    client_factory: Callable[[str, str | None], FhirClient] | None = None,
    concurrency: int = 4,
    require_authorization: bool = True,
) -> PrefetchResult:
    """Resolve every prefetch key of ``definition`` for ``request``.

    :param client_factory: ``(fhirServer, access_token) -> FhirClient``; the caller sets timeouts,
        deadline and bounds there.
    :param require_authorization: fetch only with an access token (``fhirAuthorization``).
    :raises PrefetchUnavailable: when a needed key cannot be had (412), naming every key that
        could not be had with its reason.
    :raises DeadlineExceeded: when the call's deadline passes while fetching.
    """
    client = None
    no_client = "no fhirServer to fetch it from"
    token = request.fhir_authorization.access_token if request.fhir_authorization else None
    if request.fhir_server and token is None and require_authorization:
        no_client = "no fhirAuthorization (access token) to fetch it with"
    elif request.fhir_server and client_factory is not None:
        client = client_factory(request.fhir_server, token)

    keys = list(definition.prefetch)
    if not keys:
        return PrefetchResult()
    patient_id = _patient_id(request)
    refused = refusals(request.prefetch, keys, patient_id) if patient_id else {}
    for key in refused:
        # one record, one patient (cds_hooks.patient_match): fetch the key instead when allowed
        log.warning("prefetch key %s is not used: it holds, or may hold, another patient's data",
                    key)

    def one(key: str) -> tuple[Any, str, str | None]:
        return _resolve_key(
            key, definition.prefetch[key], request, client, no_client, refused.get(key)
        )
    with ThreadPoolExecutor(max_workers=max(1, min(concurrency, len(keys)))) as pool:
        outcomes = dict(zip(keys, pool.map(one, keys), strict=True))

    values = {key: outcomes[key][0] for key in keys}
    states = {key: outcomes[key][1] for key in keys}
    reasons = {key: outcomes[key][2] or "unavailable" for key in keys if states[key] == MISSING}
    if any(key in definition.needs_data for key in reasons):
        error = PrefetchUnavailable(reasons, needed=definition.needs_data)
        error.states = states
        raise error
    return PrefetchResult(values=values, states=states, missing=tuple(reasons))


def _patient_id(request: HookRequest) -> str | None:
    patient_id = request.context.get("patientId")
    return patient_id if isinstance(patient_id, str) and patient_id else None


def _resolve_key(
    key: str,
    template: str,
    request: HookRequest,
    client: FhirClient | None,
    no_client: str,
    refusal: str | None = None,
) -> tuple[Any, str, str | None]:
    """(value, state, reason why missing) for one key; DeadlineExceeded propagates.

    ``refusal``: why the supplied value must not be used (another patient's data): then the key
    is fetched as if absent, and the reason leads the reason why it is missing.
    """
    supplied = request.prefetch.get(key, _ABSENT)
    if supplied is None and refusal is None:
        return None, NULL, None
    patient_id = _patient_id(request)
    usable = (
        refusal is None
        and supplied is not _ABSENT
        and supplied is not None
        and supplied.get("resourceType") != "OperationOutcome"
    )
    # why a supplied value is not used, prefixed to the reason when the key ends up missing
    refused = f"{refusal}; " if refusal else ""
    if usable and next_link(supplied) is None and missing_matches(supplied) > 0:
        # a supplied searchset cut short without a next link: fetch the key whole instead
        usable, refused = False, "supplied searchset is incomplete (fewer entries than total); "
    if usable and next_link(supplied) is None:
        return supplied, SUPPLIED, None
    if client is None:
        return None, MISSING, refused + no_client
    try:
        if usable:
            value, state = client.complete(supplied), COMPLETED
        else:
            try:
                query = render_template(template, request.context)
            except _Unresolvable as exc:
                return None, MISSING, f"{refused}template token '{exc}' has no value in the context"
            value, state = client.read_all(query), FETCHED
    except DeadlineExceeded:
        raise
    except CdsHooksError as exc:
        return None, MISSING, refused + exc.message
    if patient_id and (foreign := foreign_patient(value, patient_id)):
        log.warning("the FHIR server answered prefetch key %s with another patient's data", key)
        return None, MISSING, (
            f"{refused}the FHIR server's answer holds another patient's data ({foreign})"
        )
    return value, state, None


_ABSENT: Any = object()
