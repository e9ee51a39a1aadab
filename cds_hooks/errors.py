"""One exception root for the protocol layer; each leaf knows its HTTP status (STYLE G3).

Every error answer is a FHIR ``OperationOutcome`` (CDS Hooks 2.0 "HTTP Response"): build it with
:meth:`CdsHooksError.to_operation_outcome` or :func:`operation_outcome`. Messages never contain
tokens or patient data: they name a member, a key or a URL path.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from http import HTTPStatus
from typing import Any

#: longest ``diagnostics`` and ``expression`` item in an error answer (longer ones are cut)
MAX_DIAGNOSTICS_LENGTH = 500
MAX_EXPRESSION_LENGTH = 200


def _bounded(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def operation_outcome(
    code: str,
    diagnostics: str,
    *,
    severity: str = "error",
    expression: list[str] | None = None,
) -> dict[str, Any]:
    """A one-issue FHIR R4 ``OperationOutcome`` (``code`` from the IssueType value set).

    ``diagnostics`` and each ``expression`` are cut to a bounded length: messages may quote what
    the caller sent (a hook name, a prefetch key, a URL path), which must not come back unbounded.
    """
    issue: dict[str, Any] = {
        "severity": severity,
        "code": code,
        "diagnostics": _bounded(diagnostics, MAX_DIAGNOSTICS_LENGTH),
    }
    if expression:
        issue["expression"] = [_bounded(item, MAX_EXPRESSION_LENGTH) for item in expression]
    return {"resourceType": "OperationOutcome", "issue": [issue]}


class CdsHooksError(Exception):
    """Root of every error the protocol layer raises on purpose.

    A leaf names its HTTP status and FHIR IssueType code in its class header, e.g.
    ``class Unauthorized(CdsHooksError, status=HTTPStatus.UNAUTHORIZED, issue="login")``;
    a leaf without them inherits its parent's.
    """

    status_code: int = HTTPStatus.INTERNAL_SERVER_ERROR
    issue_code: str = "exception"

    def __init_subclass__(
        cls, *, status: int | None = None, issue: str | None = None, **kwargs: Any
    ) -> None:
        super().__init_subclass__(**kwargs)
        if status is not None:
            cls.status_code = status
        if issue is not None:
            cls.issue_code = issue

    def __init__(self, message: str, *, expression: list[str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.expression = expression

    def to_operation_outcome(self) -> dict[str, Any]:
        """The ``OperationOutcome`` body for this error."""
        return operation_outcome(self.issue_code, self.message, expression=self.expression)


class ConfigurationError(CdsHooksError):
    """The application cannot start: bad setting, plugin or service definition."""


class InvalidRequest(CdsHooksError, status=HTTPStatus.BAD_REQUEST, issue="invalid"):
    """The request body is not what the spec asks for (400)."""


class InvalidHookRequest(InvalidRequest):
    """A hook call (``POST /cds-services/{id}``) is malformed (400)."""


class InvalidFeedback(InvalidRequest):
    """A feedback call (``POST /cds-services/{id}/feedback``) is malformed (400)."""


class UnsupportedMediaType(
    InvalidRequest, status=HTTPStatus.UNSUPPORTED_MEDIA_TYPE, issue="not-supported"
):
    """The request declares a ``Content-Type`` that is not JSON (415; spec "Use of JSON")."""


class Unauthorized(CdsHooksError, status=HTTPStatus.UNAUTHORIZED, issue="login"):
    """The CDS client could not be authenticated (401)."""


class UnknownService(CdsHooksError, status=HTTPStatus.NOT_FOUND, issue="not-found"):
    """No service has this id (404)."""


class PayloadTooLarge(CdsHooksError, status=HTTPStatus.REQUEST_ENTITY_TOO_LARGE, issue="too-long"):
    """The request body, or the data it makes us fetch, exceeds a configured bound (413)."""


class FhirServerError(CdsHooksError, status=HTTPStatus.PRECONDITION_FAILED, issue="processing"):
    """A read from the EHR's FHIR server failed (status, timeout, redirect, not FHIR JSON)."""

    def __init__(self, message: str, *, http_status: int | None = None) -> None:
        super().__init__(message)
        self.http_status = http_status


class PrefetchUnavailable(CdsHooksError, status=HTTPStatus.PRECONDITION_FAILED, issue="processing"):
    """Data the service needs was neither supplied nor fetchable (412).

    The answer names every prefetch key that could not be had, one ``OperationOutcome`` issue
    per key with its reason: needed keys first (severity ``error``), then optional ones
    (severity ``warning``), so the EHR can fix them all at once.
    """

    def __init__(self, unavailable: Mapping[str, str], needed: Collection[str] = ()) -> None:
        self.unavailable = dict(unavailable)
        self.needed = [key for key in self.unavailable if key in needed]
        self.optional = [key for key in self.unavailable if key not in needed]
        keys = ", ".join(f"'{key}'" for key in self.needed)
        super().__init__(
            f"prefetch key(s) {keys} needed but could not be had",
            expression=[f"prefetch.{key}" for key in self.needed],
        )
        # the state of every key when this was raised, for the audit line
        self.states: dict[str, str] = {}

    def to_operation_outcome(self) -> dict[str, Any]:
        """One issue per key that could not be had, each naming the key and its reason."""
        issues = []
        for key in (*self.needed, *self.optional):
            if key in self.needed:
                text = f"prefetch key '{key}' is needed but could not be had"
            else:
                text = f"prefetch key '{key}' (optional) could not be had"
            issue = operation_outcome(
                self.issue_code,
                f"{text}: {self.unavailable[key]}",
                severity="error" if key in self.needed else "warning",
                expression=[f"prefetch.{key}"],
            )["issue"]
            issues.extend(issue)
        return {"resourceType": "OperationOutcome", "issue": issues}


class DeadlineExceeded(CdsHooksError, status=HTTPStatus.GATEWAY_TIMEOUT, issue="timeout"):
    """The call ran past DEADLINE_SECONDS; the endpoint answers ``{"cards": []}``."""


class StorageUnavailable(CdsHooksError, status=HTTPStatus.SERVICE_UNAVAILABLE, issue="transient"):
    """The feedback database could not store a request (nothing of it was stored; retry)."""


class PluginError(CdsHooksError, status=HTTPStatus.INTERNAL_SERVER_ERROR, issue="exception"):
    """A plugin returned something that is not a valid response: a server bug (500)."""
