"""The client-authentication settings: trusted issuers, algorithms, ``AUTH_MODE``, number and flag
settings (keys as in docs/SECURITY.md).

Read once at start-up by :meth:`cds_hooks.client_auth.ClientAuthenticator.from_config` and the
security layer; every malformed setting raises :class:`ClientAuthConfigError`, so a typo in a
security switch stops start-up instead of silently weakening a check.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cds_hooks.jwks import usable_keys
from cds_hooks.settings import parse_bool

__all__ = [
    "AUTH_MODES",
    "DEFAULT_ALGORITHMS",
    "OPTIONAL_ALGORITHMS",
    "ClientAuthConfigError",
    "IssuerConfig",
    "as_list",
    "auth_mode",
    "checked_algorithms",
    "flag",
    "number_setting",
    "parse_issuers",
]

#: Always accepted (the spec RECOMMENDS both).
DEFAULT_ALGORITHMS = ("ES384", "RS384")
#: May be added with ``JWT_ALGORITHMS``. Everything else (none, HS*, EdDSA, ...) is refused.
OPTIONAL_ALGORITHMS = frozenset({"ES256", "ES512", "RS256", "RS512", "PS256", "PS384", "PS512"})

AUTH_MODES = ("required", "off")


class ClientAuthConfigError(ValueError):
    """The authentication settings are invalid; raised at start-up, never per request."""


@dataclass(frozen=True, slots=True)
class IssuerConfig:
    """One trusted CDS Client (an entry of ``JWT_ISSUERS``)."""

    iss: str
    jwks_url: str | None = None
    jku_allowlist: tuple[str, ...] = ()
    keys: Mapping[str, Mapping[str, Any]] | None = None  # static public JWKs by kid
    tenants: tuple[str, ...] = ()  # empty: any tenant (or none)
    fhir_servers: tuple[str, ...] = ()  # FHIR base URLs this client may hand us a token for


def parse_issuers(raw: Any) -> dict[str, IssuerConfig]:
    """Read ``JWT_ISSUERS`` (a mapping, or its JSON text from the environment).

    :raises ClientAuthConfigError: if it is malformed.
    """
    if raw is None or raw == "":
        return {}
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError as exc:
            raise ClientAuthConfigError("JWT_ISSUERS is not valid JSON") from exc
    if not isinstance(raw, Mapping):
        raise ClientAuthConfigError("JWT_ISSUERS must map issuer URL to its settings")
    issuers: dict[str, IssuerConfig] = {}
    for iss, entry in raw.items():
        if not isinstance(iss, str) or not iss or not isinstance(entry, Mapping):
            raise ClientAuthConfigError(f"JWT_ISSUERS entry {iss!r} must be an object")
        unknown = set(entry) - {"jwks_url", "jku_allowlist", "keys", "tenants", "fhir_servers"}
        if unknown:
            raise ClientAuthConfigError(f"JWT_ISSUERS[{iss!r}]: unknown keys {sorted(unknown)}")
        jwks_url = entry.get("jwks_url")
        if jwks_url is not None and not isinstance(jwks_url, str):
            raise ClientAuthConfigError(f"JWT_ISSUERS[{iss!r}].jwks_url must be a URL")
        static = entry.get("keys") or []
        if isinstance(static, Mapping):  # accept a whole JWKS document too
            static = static.get("keys", [])
        keys = usable_keys(static)
        if len(keys) != len(static):
            raise ClientAuthConfigError(
                f"JWT_ISSUERS[{iss!r}].keys: every key needs a unique kid, kty EC or RSA, "
                "use sig, and no private members"
            )
        if not keys and not jwks_url and not entry.get("jku_allowlist"):
            raise ClientAuthConfigError(f"JWT_ISSUERS[{iss!r}] has no keys, jwks_url or jku")
        issuers[iss] = IssuerConfig(
            iss=iss,
            jwks_url=jwks_url,
            jku_allowlist=tuple(as_list(entry.get("jku_allowlist"), f"{iss} jku_allowlist")),
            keys=keys or None,
            tenants=tuple(as_list(entry.get("tenants"), f"{iss} tenants")),
            fhir_servers=tuple(as_list(entry.get("fhir_servers"), f"{iss} fhir_servers")),
        )
    return issuers


def auth_mode(config: Mapping[str, Any]) -> str:
    """The validated ``AUTH_MODE`` (``required`` by default).

    :raises ClientAuthConfigError: if it is not one of :data:`AUTH_MODES`.
    """
    mode = str(config.get("AUTH_MODE", "required")).strip().lower()
    if mode not in AUTH_MODES:
        raise ClientAuthConfigError(f"AUTH_MODE must be one of {AUTH_MODES}, not {mode!r}")
    return mode


def checked_algorithms(algorithms: tuple[str, ...]) -> tuple[str, ...]:
    """``algorithms``, each checked against the allowed ones.

    :raises ClientAuthConfigError: for none, HMAC or any algorithm not allowed.
    """
    for alg in algorithms:
        if alg not in DEFAULT_ALGORITHMS and alg not in OPTIONAL_ALGORITHMS:
            raise ClientAuthConfigError(
                f"JWT algorithm {alg!r} is not allowed (spec forbids none and symmetric algorithms)"
            )
    return tuple(algorithms)


def as_list(value: Any, name: str) -> list[str]:
    """A list-of-strings setting: a list, a JSON list, a comma list, or one string.

    :raises ClientAuthConfigError: when it is none of these.
    """
    if value is None or value == "":
        return []
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            value = [part.strip() for part in value.split(",") if part.strip()]
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise ClientAuthConfigError(f"{name} must be a list of strings")
    return list(value)


def number_setting(config: Mapping[str, Any], name: str, default: float) -> float:
    """The non-negative number setting ``name`` of ``config`` (``default`` when absent).

    :raises ClientAuthConfigError: when it is not a number or negative.
    """
    value = config.get(name, default)
    try:
        number = float(value)
    except (TypeError, ValueError) as exc:
        raise ClientAuthConfigError(f"{name} must be a number") from exc
    if number < 0:
        raise ClientAuthConfigError(f"{name} must not be negative")
    return number


def flag(value: Any) -> bool:
    """A boolean setting, strings read by :func:`cds_hooks.settings.parse_bool`.

    :raises ClientAuthConfigError: for a string that is not a boolean (a typo in a security
        switch must stop start-up, not silently read as false).
    """
    if isinstance(value, str):
        try:
            return parse_bool(value)
        except ValueError as exc:
            raise ClientAuthConfigError(f"{value[:40]!r} is not true or false") from exc
    return bool(value)
