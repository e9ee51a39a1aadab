"""Run one hook call: prefetch, plugin evaluation and response building, under a hard deadline.

:func:`execute` runs the work on a long-lived per-process pool (``cds_hooks/pools.py``; no thread
is created per call) and waits at most until the deadline (``DEADLINE_SECONDS`` after the request
arrived). Past it the answer is ``{"cards": []}``; the
worker cannot be killed, so it finishes in the background and its result is dropped. FHIR reads
clip their timeouts to the same deadline. A plugin result that is not a valid
:class:`~cds_hooks.cards.CdsResponse` raises :class:`~cds_hooks.errors.PluginError` (500).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from typing import Any

import requests
from pydantic import ValidationError

from cds_hooks.cards import CdsResponse
from cds_hooks.client_auth_config import flag
from cds_hooks.errors import DeadlineExceeded, PluginError
from cds_hooks.feedback_store import IssuedCard
from cds_hooks.fhir_client import FhirClient
from cds_hooks.hook_request import HookRequest, parse_hook_request
from cds_hooks.limits import JsonLimits
from cds_hooks.pools import shared_pool
from cds_hooks.prefetch import PrefetchResult, resolve_prefetch
from cds_hooks.service import CdsService, HookCall, HookResult

log = logging.getLogger("rair_cds.hook_call")

#: threads of the per-process pool that runs calls under their deadline (reused, never per call)
CALL_THREADS = 64


@dataclass(frozen=True)
class CallSettings:
    """The settings one hook call needs, read once from the app config."""

    deadline_seconds: float = 10.0
    fhir_timeout_seconds: float = 5.0
    max_pages: int = 10
    max_resources: int = 5000
    concurrency: int = 4
    require_fhir_authorization: bool = True
    evaluation_date: dt.date | None = None
    json_limits: JsonLimits = field(default_factory=JsonLimits)  # security (issue 5)

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> CallSettings:
        """Read the settings from a Flask config (see ``docs/CONFIGURATION.md``)."""
        date = config.get("EVALUATION_DATE")
        if isinstance(date, str):
            date = dt.date.fromisoformat(date)
        return cls(
            deadline_seconds=float(config["DEADLINE_SECONDS"]),
            fhir_timeout_seconds=float(config["FHIR_TIMEOUT_SECONDS"]),
            max_pages=int(config["MAX_PAGES"]),
            max_resources=int(config["MAX_PREFETCH_RESOURCES"]),
            concurrency=int(config["PREFETCH_CONCURRENCY"]),
            require_fhir_authorization=flag(config.get("FHIR_REQUIRE_AUTHORIZATION", True)),
            evaluation_date=date,
            json_limits=JsonLimits.from_config(config),  # security (issue 5)
        )


@dataclass
class CallOutcome:
    """The response body and what the audit line and the feedback store need to know."""

    body: dict[str, Any]
    prefetch_states: dict[str, str] = field(default_factory=dict)
    issued: list[IssuedCard] = field(default_factory=list)
    deadline_exceeded: bool = False


def execute(
    service: CdsService,
    request: HookRequest,
    settings: CallSettings,
    *,
    started: float,
    session: requests.Session | None = None,
    destination_check: Callable[[str], None] | None = None,
) -> CallOutcome:
    """Resolve prefetch, evaluate and build the response before ``started + deadline``.

    :param started: ``time.monotonic()`` when the HTTP request arrived.
    :param destination_check: extra check of every FHIR URL (see FhirClient.check_destination).
    :raises PrefetchUnavailable: (412) when needed data cannot be had.
    :raises PluginError: (500) when the plugin's result is invalid.
    """
    deadline = started + settings.deadline_seconds
    states: dict[str, str] = {}

    def work() -> CallOutcome:
        prefetch = _prefetch(service, request, settings, deadline, session, destination_check)
        states.update(prefetch.states)
        call = HookCall(
            service_id=service.definition.id,
            hook=request.hook,
            hook_instance=request.hook_instance,
            context=request.context,
            prefetch=prefetch.values,
            evaluation_date=settings.evaluation_date or dt.datetime.now(dt.UTC).date(),
            fhir_server=request.fhir_server,
            missing_prefetch=prefetch.missing,
            extension=request.extension,
        )
        result = service.evaluate(call)
        body, issued = build_response(result, service.definition.id)
        return CallOutcome(body=body, prefetch_states=prefetch.states, issued=issued)

    future = shared_pool("call", CALL_THREADS).submit(work)
    try:
        return future.result(timeout=max(0.0, deadline - time.monotonic()))
    except (FutureTimeout, DeadlineExceeded):
        future.cancel()  # still queued: never runs; running: finishes, its result is dropped
        return CallOutcome(
            body={"cards": []}, prefetch_states=dict(states), deadline_exceeded=True
        )


def execute_from_fhir_server(
    service: CdsService,
    context: Mapping[str, Any],
    fhir_server: str,
    settings: CallSettings,
    *,
    access_token: str | None = None,
    session: requests.Session | None = None,
) -> CallOutcome:
    """One call of ``service`` without prefetch: every key is read from ``fhir_server`` through
    the service's own templates and paging rules, exactly as the fallback fetch of a hook call
    (used by ``rair-cds evaluate --fhir-server``). ``context`` is checked like a request's.

    :raises InvalidHookRequest: for a context or URL the hook does not accept.
    :raises PrefetchUnavailable: (412) naming every key that could not be had.
    """
    body: dict[str, Any] = {
        "hook": service.definition.hook,
        "hookInstance": str(uuid.uuid4()),
        "context": dict(context),
        "fhirServer": fhir_server,
    }
    if access_token:
        body["fhirAuthorization"] = {
            "access_token": access_token, "token_type": "Bearer", "expires_in": 0,
            "scope": "patient/*.read", "subject": service.definition.id,
        }
    request = parse_hook_request(body, service.definition.hook)
    return execute(service, request, settings, started=time.monotonic(), session=session)


def _prefetch(
    service: CdsService,
    request: HookRequest,
    settings: CallSettings,
    deadline: float,
    session: requests.Session | None,
    destination_check: Callable[[str], None] | None,
) -> PrefetchResult:
    def client_factory(base_url: str, token: str | None) -> FhirClient:
        return FhirClient(
            base_url,
            access_token=token,
            timeout=settings.fhir_timeout_seconds,
            deadline=deadline,
            max_pages=settings.max_pages,
            max_resources=settings.max_resources,
            session=session,
            destination_check=destination_check,
            json_limits=settings.json_limits,  # security (issue 5)
        )

    return resolve_prefetch(
        request,
        service.definition,
        client_factory=client_factory,
        concurrency=settings.concurrency,
        require_authorization=settings.require_fhir_authorization,
    )


def build_response(result: Any, service_id: str) -> tuple[dict[str, Any], list[IssuedCard]]:
    """The JSON body for a plugin's :class:`HookResult`, validated, and its issued cards.

    :raises PluginError: when the result is not a HookResult or breaks the card model.
    """
    if not isinstance(result, HookResult):
        raise PluginError(
            f"service '{service_id}' returned {type(result).__name__}, not a HookResult"
        )
    try:
        response = CdsResponse(
            cards=list(result.cards),
            systemActions=list(result.system_actions) or None,
            extension=result.extension or None,
        )
        body = response.to_json()
        # validate the serialised form too: a plugin may have mutated a card after building it
        CdsResponse.model_validate(body)
        json.dumps(body, allow_nan=False)
    except ValidationError as exc:
        problems = [
            (".".join(map(str, e["loc"])), e["type"]) for e in exc.errors(include_input=False)
        ]
        log.error("service %s returned an invalid response: %s", service_id, problems)
        raise PluginError(f"service '{service_id}' returned an invalid response") from exc
    except (TypeError, ValueError) as exc:
        log.error(
            "service %s returned a response that is not JSON: %s", service_id, type(exc).__name__
        )
        raise PluginError(f"service '{service_id}' returned an invalid response") from exc
    uuids = [card["uuid"] for card in body["cards"]]
    # spec: a card's uuid identifies it (feedback names it); suggestion uuids likewise
    suggestion_uuids = [s["uuid"] for card in body["cards"] for s in card.get("suggestions", [])]
    for kind, ids in (("cards", uuids), ("suggestions", suggestion_uuids)):
        if len(set(ids)) != len(ids):
            log.error("service %s returned %s with duplicate uuids", service_id, kind)
            raise PluginError(f"service '{service_id}' returned an invalid response")
    kinds, rules = result.card_kinds or {}, result.card_rules or {}
    for name, value in (("card_kinds", kinds), ("card_rules", rules)):
        if not isinstance(value, dict):
            raise PluginError(f"service '{service_id}' returned {name} that is not a dict")
    return body, [_issued(card, kinds, rules) for card in body["cards"]]


def _issued(card: dict[str, Any], kinds: dict[str, Any], rules: dict[str, Any]) -> IssuedCard:
    """What the feedback store keeps of a card sent (see :class:`IssuedCard`)."""
    uuid = card["uuid"]
    card_rules = rules.get(uuid) or ()
    return IssuedCard(
        uuid=uuid,
        kind=kinds.get(uuid),
        rules=tuple(str(r) for r in card_rules) if isinstance(card_rules, list | tuple) else (),
        suggestions=tuple(s["uuid"] for s in card.get("suggestions", [])),
        override_reasons=tuple((r["system"], r["code"]) for r in card.get("overrideReasons", [])),
    )
