"""The authentication seam: called before every hook and feedback call.

:func:`authenticate` is a no-op unless ``AUTHENTICATOR`` names a function
(``"module:function"``, or a callable in test config) called as ``f(request, config)``. It
raises a :class:`~cds_hooks.errors.CdsHooksError` such as
:class:`~cds_hooks.errors.Unauthorized` (401) to refuse a call, and may return an identity object
(e.g. the verified JWT issuer) that is handed to the FHIR destination guard. JWT verification of
CDS clients (CDS Hooks "Trusting CDS Clients") plugs in here without touching the endpoints.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any

from cds_hooks.errors import ConfigurationError

Authenticator = Callable[[Any, Mapping[str, Any]], Any]
#: ``guard(url, identity)`` raises FhirServerError to keep the token from ``url``
DestinationGuard = Callable[[str, Any], None]


def load_callable(setting: str, target: str | Callable[..., Any] | None) -> Any:
    """Resolve a ``"module:function"`` setting (or a callable given in test config) once.

    :raises ConfigurationError: when it names nothing callable.
    """
    if target is None or target == "":
        return None
    if callable(target):
        return target
    module_name, _, attr = str(target).partition(":")
    try:
        function = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError, ValueError) as exc:
        raise ConfigurationError(f"{setting} {target!r} cannot be loaded: {exc}") from exc
    if not callable(function):
        raise ConfigurationError(f"{setting} {target!r} is not callable")
    return function


def authenticate(
    request: Any, config: Mapping[str, Any], authenticator: Authenticator | None
) -> Any:
    """Let the configured authenticator accept or refuse ``request``.

    :returns: the authenticator's identity object, or None (also without an authenticator).
    :raises CdsHooksError: (from the authenticator, e.g. Unauthorized) to refuse the call.
    """
    if authenticator is None:
        return None
    return authenticator(request, config)
