"""Install the security policy on an app: CDS Client JWTs, the FHIR token guard, input bounds.

:func:`init_security` is called once by :func:`cds_hooks.app.create_app`. It fills the seams the
protocol layer leaves open, unless a test or deployment filled them explicitly:

* ``state.authenticator`` (``AUTHENTICATOR``): with ``AUTH_MODE="required"`` (the default), a
  :class:`JwtAuthenticator` over :class:`~cds_hooks.client_auth.ClientAuthenticator`; hook and
  feedback calls, and discovery when ``AUTH_DISCOVERY`` is set, need a valid client JWT.
  ``required`` with no ``JWT_ISSUERS`` refuses to start (a service that nobody can call, or that
  anybody can, is never what an operator meant). ``AUTH_MODE="off"`` must be set explicitly and
  logs a WARNING at start-up;
* ``state.destination_guard`` (``FHIR_DESTINATION_GUARD``): a
  :class:`~cds_hooks.fhir_guard.FhirGuard`;
* ``app.extensions["rair_cds.limits"]``: the :class:`~cds_hooks.limits.JsonLimits` for bodies.

See docs/SECURITY.md.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from flask import Flask, Response, request

from cds_hooks.client_auth import ClientAuthenticator, ClientAuthError, ClientIdentity
from cds_hooks.client_auth_config import (
    ClientAuthConfigError,
    auth_mode,
    flag,
    parse_issuers,
)
from cds_hooks.errors import CdsHooksError, ConfigurationError, Unauthorized
from cds_hooks.fhir_guard import FhirGuard
from cds_hooks.http_errors import error_response
from cds_hooks.limits import JsonLimits

security_log = logging.getLogger("rair_cds.security")

DISCOVERY_ENDPOINT = "cds_services.discovery"


class JwtAuthenticator:
    """The ``AUTHENTICATOR`` callable: ``(request, config) -> ClientIdentity`` or 401.

    The audience is the exact URL called: ``PUBLIC_BASE_URL`` + the request path when set
    (behind a proxy, and so that a forged ``Host`` header cannot pick the audience), else the
    URL the request arrived on.
    """

    def __init__(self, verifier: ClientAuthenticator, public_base_url: str | None = None) -> None:
        self.verifier = verifier
        self.public_base_url = public_base_url.rstrip("/") if public_base_url else None

    def audience(self, req: Any) -> str:  # noqa: ANN401 - a Flask/werkzeug request
        """The URL this request was addressed to, without its query string."""
        if self.public_base_url:
            return self.public_base_url + req.path
        return req.base_url

    def __call__(self, req: Any, config: Mapping[str, Any]) -> ClientIdentity:  # noqa: ANN401
        """Verify the caller.

        :raises Unauthorized: (401, body says only "unauthorized"); the reason is audited.
        """
        try:
            return self.verifier.authenticate(req.headers.get("Authorization"), self.audience(req))
        except ClientAuthError:
            raise Unauthorized("unauthorized") from None


def guard_destination(guard: FhirGuard) -> Any:  # noqa: ANN401 - a DestinationGuard callable
    """The ``FHIR_DESTINATION_GUARD`` callable ``(url, identity)`` for ``guard``."""

    def check(url: str, identity: Any) -> None:  # noqa: ANN401 - whatever authenticate returned
        guard.check(url, identity if isinstance(identity, ClientIdentity) else None)

    return check


def init_security(app: Flask) -> None:
    """Install authentication, the FHIR destination guard and the body bounds on ``app``.

    :raises ConfigurationError: for a bad security setting, or ``AUTH_MODE="required"`` without
        ``JWT_ISSUERS`` (and without a custom ``AUTHENTICATOR``).
    """
    config = app.config
    state = app.extensions["rair_cds"]
    try:
        app.extensions["rair_cds.limits"] = JsonLimits.from_config(config)
        mode = auth_mode(config)
        guard = FhirGuard.from_config(config)
        issuers = parse_issuers(config.get("JWT_ISSUERS"))
        verifier = ClientAuthenticator.from_config(config) if issuers else None
        protect_discovery = flag(config.get("AUTH_DISCOVERY", False))
    except (ClientAuthConfigError, ValueError, TypeError) as exc:
        raise ConfigurationError(f"bad security setting: {exc}") from exc

    if state.destination_guard is None:
        state.destination_guard = guard_destination(guard)

    if state.authenticator is not None:
        security_log.info("client authentication: custom AUTHENTICATOR %r", state.authenticator)
    elif mode == "off":
        security_log.warning(
            "CDS CLIENT AUTHENTICATION IS OFF (AUTH_MODE=off): anyone who can reach this service "
            "can call it. Use only on loopback with sample data; never with a real EHR."
        )
    elif verifier is None:
        raise ConfigurationError(
            "AUTH_MODE is 'required' (the default) but no JWT_ISSUERS are configured, so no CDS "
            "client could be authenticated. Set RAIR_CDS_JWT_ISSUERS (see docs/SECURITY.md), or "
            "set RAIR_CDS_AUTH_MODE=off explicitly for a local trial with sample data."
        )
    else:
        public_base_url = config.get("PUBLIC_BASE_URL") or None
        state.authenticator = JwtAuthenticator(verifier, public_base_url)
        if not public_base_url:
            security_log.warning(
                "PUBLIC_BASE_URL is not set: JWT aud is checked against the URL built from each "
                "request's Host header. Set it to the URL the EHR calls (e.g. https://cds.example.org)."
            )
        security_log.info("client authentication required; trusted issuers: %s", sorted(issuers))

    if protect_discovery:
        _protect_discovery(app)

    @app.after_request
    def _www_authenticate(response: Response) -> Response:
        # RFC 6750 §3: a 401 names the scheme the client must use.
        if response.status_code == Unauthorized.status_code:
            response.headers.setdefault("WWW-Authenticate", "Bearer")
        # error answers may quote caller input: never let a browser sniff them as HTML
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        return response


def _protect_discovery(app: Flask) -> None:
    @app.before_request
    def _authenticate_discovery() -> Response | None:
        if request.endpoint != DISCOVERY_ENDPOINT:
            return None
        if request.method == "OPTIONS":  # a CORS preflight carries no credentials (Fetch spec)
            return None
        authenticator = app.extensions["rair_cds"].authenticator
        if authenticator is None:
            return None
        try:
            authenticator(request, app.config)
        except CdsHooksError as exc:
            return error_response(exc)
        return None
