"""JSON responses and the app-wide error handlers: every error is an ``OperationOutcome``.

No error answer carries a stack trace: unexpected exceptions are logged (type and traceback)
and answered with a generic 500 ``OperationOutcome``.
"""

from __future__ import annotations

import json
import logging
import traceback
from http import HTTPStatus
from typing import Any

from flask import Flask, Response
from werkzeug.exceptions import HTTPException

from cds_hooks.errors import CdsHooksError, operation_outcome

log = logging.getLogger("rair_cds.http")

FHIR_JSON = "application/fhir+json"

# werkzeug HTTP errors -> FHIR IssueType codes
_ISSUE_CODES: dict[int, str] = {
    HTTPStatus.BAD_REQUEST: "invalid",
    HTTPStatus.UNAUTHORIZED: "login",
    HTTPStatus.FORBIDDEN: "forbidden",
    HTTPStatus.NOT_FOUND: "not-found",
    HTTPStatus.METHOD_NOT_ALLOWED: "not-supported",
    HTTPStatus.REQUEST_ENTITY_TOO_LARGE: "too-long",
    HTTPStatus.UNSUPPORTED_MEDIA_TYPE: "not-supported",
}


def issue_code_for(status: int) -> str:
    """The FHIR IssueType code for an HTTP error status."""
    return _ISSUE_CODES.get(
        status, "processing" if status < HTTPStatus.INTERNAL_SERVER_ERROR else "exception"
    )


def json_response(
    body: Any, status: int = HTTPStatus.OK, mimetype: str = "application/json"
) -> Response:
    """A JSON response (no key sorting, compact)."""
    return Response(json.dumps(body, separators=(",", ":")), status=status, mimetype=mimetype)


def error_response(error: Exception) -> Response:
    """The ``OperationOutcome`` response for any exception (never a stack trace)."""
    if isinstance(error, CdsHooksError):
        return json_response(error.to_operation_outcome(), error.status_code, FHIR_JSON)
    if isinstance(error, HTTPException):
        status = error.code or HTTPStatus.INTERNAL_SERVER_ERROR
        code = issue_code_for(status)
        response = json_response(
            operation_outcome(code, f"{status} {error.name}"), status, FHIR_JSON
        )
        valid_methods = getattr(error, "valid_methods", None)
        if status == HTTPStatus.METHOD_NOT_ALLOWED and valid_methods:
            response.headers["Allow"] = ", ".join(valid_methods)
        return response
    # the frames help debugging; the message is left out because it may hold patient data
    frames = "".join(traceback.format_tb(error.__traceback__))
    log.error("unhandled %s (message withheld)\n%s", type(error).__name__, frames)
    body = operation_outcome("exception", "internal server error")
    return json_response(body, HTTPStatus.INTERNAL_SERVER_ERROR, FHIR_JSON)


def register_error_handlers(app: Flask) -> None:
    """Turn every error raised while handling a request into an ``OperationOutcome``."""
    app.register_error_handler(CdsHooksError, error_response)
    app.register_error_handler(HTTPException, error_response)
    app.register_error_handler(Exception, error_response)
