"""The CDS Hooks HTTP API: discovery, service calls, feedback, and a health check.

``GET /cds-services``, ``POST /cds-services/{id}``, ``POST /cds-services/{id}/feedback``,
``GET /`` and ``GET /healthz``. Each hook and feedback call writes one audit line.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from flask import Blueprint, Response, current_app, request
from werkzeug.exceptions import HTTPException

from cds_hooks import audit
from cds_hooks.auth import authenticate
from cds_hooks.errors import (
    CdsHooksError,
    InvalidFeedback,
    InvalidHookRequest,
    PrefetchUnavailable,
    StorageUnavailable,
    UnsupportedMediaType,
)
from cds_hooks.feedback import FeedbackItem, parse_feedback
from cds_hooks.feedback_store import IssuedCard
from cds_hooks.hook_call import execute
from cds_hooks.hook_request import parse_hook_request
from cds_hooks.http_errors import error_response, json_response
from cds_hooks.limits import request_json
from cds_hooks.state import RairCdsState

log = logging.getLogger("rair_cds.endpoints")

bp = Blueprint("cds_services", __name__, url_prefix="/cds-services")
health_bp = Blueprint("health", __name__)


def _state() -> RairCdsState:
    return current_app.extensions["rair_cds"]


def _json_body(error: type[CdsHooksError]) -> Any:
    """The decoded body; 413 (via werkzeug) when too large, ``error`` (400) when not JSON.

    Spec "Use of JSON": a body declared as something else (a form, text/plain, XML) is refused
    with 415; a body without ``Content-Type`` is parsed as JSON (be liberal in what you accept).
    """
    if request.mimetype and not is_json_media_type(request.mimetype):
        raise UnsupportedMediaType(
            f"Content-Type must be application/json, not {request.mimetype[:80]}"
        )
    raw = request.get_data(cache=True)
    try:
        return request_json(raw, current_app)  # security (issue 5): depth/size bounds, 413
    except ValueError:  # also int-digit limits, not only UnicodeDecodeError/JSONDecodeError
        raise error("the request body is not valid JSON") from None


@health_bp.get("/")
@health_bp.get("/healthz")
def health() -> Response:
    """A small liveness answer: no patient data, no configuration secrets."""
    return json_response({"status": "ok", "services": len(_state().registry)})


@bp.get("")
def discovery() -> Response:
    """Spec: discovery; every service's definition."""
    services = [definition.to_discovery_json() for definition in _state().registry.definitions()]
    return json_response({"services": services})


@bp.post("/<service_id>")
def call_service(service_id: str) -> Response:
    """Spec: calling a CDS service. Validate, resolve prefetch, evaluate, answer cards."""
    started = time.monotonic()
    state = _state()

    def handle(record: dict[str, Any]) -> Response:
        # authenticate first: a 404 to an anonymous caller would reveal which service ids exist
        identity = authenticate(request, current_app.config, state.authenticator)
        service = state.registry.get(service_id)
        hook_request = parse_hook_request(_json_body(InvalidHookRequest), service.definition.hook)
        record.update(hook=hook_request.hook, hookInstance=hook_request.hook_instance)
        if state.audit_include_patient:
            record["patient"] = hook_request.context.get("patientId")
        outcome = execute(
            service,
            hook_request,
            state.call_settings,
            started=started,
            destination_check=_destination_check(state, identity),
        )
        record.update(prefetch=outcome.prefetch_states, cards=len(outcome.body["cards"]))
        if outcome.deadline_exceeded:
            record["deadline_exceeded"] = True
            log.warning("service %s passed its deadline; answered no cards", service_id)
        else:
            _record_issued(state, service_id, outcome.issued)
        return json_response(outcome.body)

    # a large body (a long record) is parsed and read with the cyclic collector paused: its
    # tree has no cycles and is freed when handle returns (cds_hooks/collector.py)
    with state.collector_pause.during(request.content_length):
        return _audited({"event": "hook_call", "service": service_id}, started, handle)


@bp.post("/<service_id>/feedback")
def feedback(service_id: str) -> Response:
    """Spec: feedback. Validate every item, then store them in one transaction."""
    started = time.monotonic()
    state = _state()

    def handle(record: dict[str, Any]) -> Response:
        authenticate(request, current_app.config, state.authenticator)  # before the 404
        state.registry.get(service_id)
        items = parse_feedback(_json_body(InvalidFeedback))
        record["feedback_items"] = len(items)
        record["feedback_stored"] = _store_feedback(state, service_id, items)
        return json_response({})

    return _audited({"event": "feedback", "service": service_id}, started, handle)


def _audited(
    record: dict[str, Any], started: float, handle: Callable[[dict[str, Any]], Response]
) -> Response:
    """Run ``handle(record)``; answer any exception with an ``OperationOutcome``; audit once.

    ``handle`` adds what it learns to ``record``; the status and duration are added here, and
    the line is written on every path (see :mod:`cds_hooks.audit`).
    """
    response: Response | None = None
    try:
        response = handle(record)
    except Exception as error:  # every path answers an OperationOutcome (see http_errors)
        if isinstance(error, PrefetchUnavailable):
            record["prefetch"] = error.states
        record["error"] = _error_code(error)
        response = error_response(error)
    finally:
        record["status"] = response.status_code if response is not None else 500
        record["duration_ms"] = round((time.monotonic() - started) * 1000, 1)
        audit.emit(record)
    return response


def is_json_media_type(mimetype: str) -> bool:
    """``application/json``, ``application/fhir+json`` or any other ``*/*+json`` type."""
    kind = mimetype.strip().lower()
    return kind in ("application/json", "text/json") or kind.endswith("+json")


def _record_issued(state: RairCdsState, service_id: str, issued: list[IssuedCard]) -> None:
    """Remember issued cards for feedback reports; a storage failure never costs the cards."""
    try:
        state.feedback_store.record_issued(service_id, issued)
    except Exception:  # the clinical answer matters more than the statistics
        log.exception("could not record issued cards for service %s", service_id)


def _store_feedback(state: RairCdsState, service_id: str, items: list[FeedbackItem]) -> int:
    """Store the items in one transaction; a database failure is 503 (nothing was stored, the
    client may send the same feedback again: it is idempotent), never a stack trace."""
    try:
        return state.feedback_store.add(service_id, items)
    except CdsHooksError:
        raise
    except Exception as exc:
        log.error("could not store feedback for service %s: %s", service_id, type(exc).__name__)
        raise StorageUnavailable("the feedback could not be stored now; send it again") from None


def _destination_check(state: RairCdsState, identity: Any) -> Callable[[str], None] | None:
    """The configured FHIR destination guard, bound to this call's client identity."""
    guard = state.destination_guard
    if guard is None:
        return None
    return lambda url: guard(url, identity)


def _error_code(error: Exception) -> str:
    if isinstance(error, CdsHooksError):
        return error.issue_code
    if isinstance(error, HTTPException):
        return f"http-{error.code}"
    return "exception"
