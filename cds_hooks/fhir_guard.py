"""Decide where the EHR's FHIR access token (and any FHIR read) may go.

A hook request names its own ``fhirServer`` and hands us a bearer token for it. Trusting that URL
blindly would let anyone who can call the service make it send a live EHR token, or a request
from inside our network, to a host of their choice. So every outbound FHIR URL must:

* be ``https`` (``http`` only with ``ALLOW_HTTP_FHIR``, for loopback tests and sandboxes);
* have no user-info, no dot segments (also encoded, ``..;`` or ``\\``-separated), and a host;
* lie under an allowlisted FHIR base URL: the global ``FHIR_SERVER_ALLOWLIST``, plus the
  ``fhir_servers`` of the JWT issuer that authenticated this call.

"Under" means same scheme, host and port, and a path equal to the base path or below it on a
``/`` boundary (``https://ehr/fhir`` allows ``https://ehr/fhir/Patient/1``, not ``/fhirx``).
With no allowlist at all, nothing is fetched: the service works from supplied prefetch only, and
a needed key that is missing answers 412. Refusals are audited with the URL's path only (queries
may carry patient identifiers); the token is never logged.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

from cds_hooks.client_auth import ClientIdentity
from cds_hooks.client_auth_config import as_list, flag, parse_issuers
from cds_hooks.errors import ConfigurationError, FhirServerError

audit = logging.getLogger("rair_cds.security")

_DEFAULT_PORTS = {"http": 80, "https": 443}


class DestinationRefused(FhirServerError):
    """A FHIR URL failed the guard; nothing was sent there. The prefetch key is missing (412)."""


@dataclass(frozen=True, slots=True)
class _Origin:
    scheme: str
    host: str
    port: int
    path: str  # no trailing slash; "" for the root


def _parse(url: str) -> _Origin | None:
    """The comparable parts of ``url``, or None when it is not a clean absolute http(s) URL."""
    if not isinstance(url, str) or any(ch.isspace() or ord(ch) < 0x20 for ch in url) or "\\" in url:
        return None
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname:
        return None
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        return None
    if _has_dot_segment(parts.path):
        return None
    return _Origin(
        scheme=scheme,
        host=parts.hostname.lower(),
        port=port if port is not None else _DEFAULT_PORTS[scheme],
        path=parts.path.rstrip("/"),
    )


def _has_dot_segment(path: str) -> bool:
    """``.``/``..`` segments as some server may read them: percent-encoded once or twice
    (``%2e``, ``%252e``), with a path parameter (``..;``, Tomcat), or ``\\``-separated (IIS)."""
    decoded = unquote(unquote(path))
    return any(seg.split(";", 1)[0] in (".", "..") for seg in re.split(r"[/\\]", decoded))


def _under(url: _Origin, base: _Origin) -> bool:
    if (url.scheme, url.host, url.port) != (base.scheme, base.host, base.port):
        return False
    return url.path == base.path or url.path.startswith(base.path + "/")


class FhirGuard:
    """The destination policy for FHIR reads. Build one per app from config."""

    def __init__(self, allowlist: Iterable[str] = (), *, allow_http: bool = False) -> None:
        self.allow_http = allow_http
        self._bases = [_checked_base(url) for url in allowlist]

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> FhirGuard:
        """Build from ``FHIR_SERVER_ALLOWLIST`` and ``ALLOW_HTTP_FHIR``.

        :raises ConfigurationError: for an allowlist entry that is not a clean http(s) base URL.
        """
        try:  # a list, or from the environment a JSON list or a comma list
            raw = as_list(config.get("FHIR_SERVER_ALLOWLIST"), "FHIR_SERVER_ALLOWLIST")
        except ValueError as exc:
            raise ConfigurationError(str(exc)) from exc
        # Check the issuers' fhir_servers now too, so a typo fails at start-up, not per call.
        for issuer in parse_issuers(config.get("JWT_ISSUERS")).values():
            for url in issuer.fhir_servers:
                _checked_base(url)
        return cls(raw, allow_http=flag(config.get("ALLOW_HTTP_FHIR", False)))

    def check(self, url: str, identity: ClientIdentity | None = None) -> None:
        """Allow ``url`` or raise; call before every FHIR request, and again for each page.

        :raises DestinationRefused: (412 for a needed key) when ``url`` is not allowed.
        """
        reason = self._refusal(url, identity)
        if reason is not None:
            shown = _path_only(url)
            audit.warning(
                "fhir destination refused: reason=%s url=%s iss=%s",
                reason,
                shown,
                identity.issuer if identity else "-",
            )
            raise DestinationRefused(f"FHIR server not allowed ({reason}): {shown}")

    def allows(self, url: str, identity: ClientIdentity | None = None) -> bool:
        """Whether :meth:`check` would pass (no audit line)."""
        return self._refusal(url, identity) is None

    def _refusal(self, url: str, identity: ClientIdentity | None) -> str | None:
        target = _parse(url)
        if target is None:
            return "not a clean absolute http(s) URL"
        if target.scheme == "http" and not self.allow_http:
            return "http is not allowed"
        bases = list(self._bases)
        if identity is not None:
            bases.extend(b for b in map(_parse, identity.fhir_servers) if b is not None)
        if not bases:
            return "no FHIR server allowlist configured"
        if not any(_under(target, base) for base in bases):
            return "not under an allowlisted FHIR base URL"
        return None


def _checked_base(url: str) -> _Origin:
    base = _parse(url)
    if base is None:
        raise ConfigurationError(f"FHIR_SERVER_ALLOWLIST entry is not a clean http(s) URL: {url!r}")
    return base


def _path_only(url: Any) -> str:
    text = str(url).split("?", 1)[0].split("#", 1)[0]
    if "@" in text:  # never echo user-info (it may hold credentials)
        scheme, _, rest = text.partition("://")
        text = f"{scheme}://{rest.rsplit('@', 1)[-1]}"
    return repr(text[:200])[1:-1]
