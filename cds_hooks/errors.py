"""One exception root for the protocol layer; each leaf knows its HTTP status (STYLE G3).

Every error answer is a FHIR ``OperationOutcome`` (CDS Hooks 2.0 "HTTP Response"): build it with
:meth:`CdsHooksError.to_operation_outcome` or :func:`operation_outcome`. Messages never contain
tokens or patient data: they name a member, a key or a URL path.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any


def operation_outcome(
    code: str,
    diagnostics: str,
    *,
    severity: str = "error",
    expression: list[str] | None = None,
) -> dict[str, Any]:
    """A one-issue FHIR R4 ``OperationOutcome`` (``code`` from the IssueType value set)."""
    issue: dict[str, Any] = {"severity": severity, "code": code, "diagnostics": diagnostics}
    if expression:
        issue["expression"] = list(expression)
    return {"resourceType": "OperationOutcome", "issue": [issue]}


class CdsHooksError(Exception):
    """Root of every error the protocol layer raises on purpose."""

    status_code: int = HTTPStatus.INTERNAL_SERVER_ERROR
    issue_code: str = "exception"

    def __init__(self, message: str, *, expression: list[str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.expression = expression

    def to_operation_outcome(self) -> dict[str, Any]:
        """The ``OperationOutcome`` body for this error."""
        return operation_outcome(self.issue_code, self.message, expression=self.expression)


class ConfigurationError(CdsHooksError):
    """The application cannot start: bad setting, plugin or service definition."""


class InvalidRequest(CdsHooksError):
    """The request body is not what the spec asks for (400)."""

    status_code = HTTPStatus.BAD_REQUEST
    issue_code = "invalid"


class InvalidHookRequest(InvalidRequest):
    """A hook call (``POST /cds-services/{id}``) is malformed (400)."""


class InvalidFeedback(InvalidRequest):
    """A feedback call (``POST /cds-services/{id}/feedback``) is malformed (400)."""


class Unauthorized(CdsHooksError):
    """The CDS client could not be authenticated (401)."""

    status_code = HTTPStatus.UNAUTHORIZED
    issue_code = "login"


class UnknownService(CdsHooksError):
    """No service has this id (404)."""

    status_code = HTTPStatus.NOT_FOUND
    issue_code = "not-found"


class PayloadTooLarge(CdsHooksError):
    """The request body, or the data it makes us fetch, exceeds a configured bound (413)."""

    status_code = HTTPStatus.REQUEST_ENTITY_TOO_LARGE
    issue_code = "too-long"


class FhirServerError(CdsHooksError):
    """A read from the EHR's FHIR server failed (status, timeout, redirect, not FHIR JSON)."""

    status_code = HTTPStatus.PRECONDITION_FAILED
    issue_code = "processing"

    def __init__(self, message: str, *, http_status: int | None = None) -> None:
        super().__init__(message)
        self.http_status = http_status


class PrefetchUnavailable(CdsHooksError):
    """Data the service needs was neither supplied nor fetchable (412)."""

    status_code = HTTPStatus.PRECONDITION_FAILED
    issue_code = "processing"

    def __init__(self, key: str, reason: str) -> None:
        super().__init__(
            f"prefetch key '{key}' is needed but could not be had: {reason}",
            expression=[f"prefetch.{key}"],
        )
        self.key = key
        self.reason = reason
        # the state of every key when this was raised, for the audit line
        self.states: dict[str, str] = {}


class DeadlineExceeded(CdsHooksError):
    """The call ran past DEADLINE_SECONDS; the endpoint answers ``{"cards": []}``."""

    status_code = HTTPStatus.GATEWAY_TIMEOUT
    issue_code = "timeout"


class PluginError(CdsHooksError):
    """A plugin returned something that is not a valid response: a server bug (500)."""

    status_code = HTTPStatus.INTERNAL_SERVER_ERROR
    issue_code = "exception"
