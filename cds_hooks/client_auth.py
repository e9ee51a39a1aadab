"""Authenticate the CDS Client (the EHR) from the JWT in its ``Authorization`` header.

Spec: CDS Hooks 2.0, "Trusting CDS Clients". Each call carries ``Authorization: Bearer <JWT>``
signed with the client's private key. We accept a token only when all of these hold:

* ``iss`` is a configured issuer (``JWT_ISSUERS``); its keys come from that issuer's static
  ``keys``, its ``jwks_url``, or the token's ``jku`` header, which must be on the issuer's
  ``jku_allowlist`` (the ``jwks_url`` counts as allowlisted);
* the header names a ``kid`` found in those keys, of a type matching ``alg``;
* ``alg`` is ES384 or RS384, or another asymmetric algorithm listed in ``JWT_ALGORITHMS``.
  ``none`` and HMAC (``HS*``) are never accepted, whatever the configuration says;
* the signature verifies; ``aud`` is (or contains) exactly the URL that was called;
* ``exp``, ``iat``, ``jti`` are present; ``exp``/``nbf``/``iat`` hold within ``JWT_LEEWAY_SECONDS``;
  ``exp - iat`` is at most ``JWT_MAX_LIFETIME_SECONDS``;
* ``tenant`` is allowlisted when the issuer lists ``tenants``;
* the ``jti`` has not been seen before from this issuer (replay cache, kept for the token's life).

Failures raise :class:`ClientAuthError`. Its ``reason`` is for the audit log only: the HTTP answer
is a bare 401 (``public_message``), so a caller learns nothing about which check failed. The token
itself is never logged, stored, or put in an exception.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import jwt
import requests

from cds_hooks.jwks import JwksCache, JwksError, usable_keys
from cds_hooks.replay_cache import ReplayCache
from cds_hooks.settings import parse_bool

audit = logging.getLogger("rair_cds.security")

#: Always accepted (the spec RECOMMENDS both).
DEFAULT_ALGORITHMS = ("ES384", "RS384")
#: May be added with ``JWT_ALGORITHMS``. Everything else (none, HS*, EdDSA, ...) is refused.
OPTIONAL_ALGORITHMS = frozenset({"ES256", "ES512", "RS256", "RS512", "PS256", "PS384", "PS512"})
_KTY_FOR_ALG = {"ES": "EC", "RS": "RSA", "PS": "RSA"}
_CURVE_FOR_ALG = {"ES256": "P-256", "ES384": "P-384", "ES512": "P-521"}

AUTH_MODES = ("required", "off")
MAX_TOKEN_LENGTH = 16384  # a signed CDS Hooks JWT is well under 2 KB; this bounds parsing work


class ClientAuthError(Exception):
    """The caller could not be authenticated. Answered with 401 and no detail.

    ``reason`` says which check failed, for the audit log; never show it to the caller.
    """

    status_code = 401
    public_message = "unauthorized"

    def __init__(self, reason: str, *, issuer: str | None = None, kid: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.issuer = issuer
        self.kid = kid


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


@dataclass(frozen=True, slots=True)
class ClientIdentity:
    """A verified CDS Client. ``tenant`` is ``None`` when the token had none."""

    issuer: str
    kid: str
    jti: str
    expires_at: int
    tenant: str | None = None
    subject: str | None = None
    fhir_servers: tuple[str, ...] = ()


class ClientAuthenticator:
    """Verify CDS Client JWTs against the configured issuers. Build one per app."""

    def __init__(
        self,
        issuers: Mapping[str, IssuerConfig],
        *,
        algorithms: tuple[str, ...] = DEFAULT_ALGORITHMS,
        leeway: int = 60,
        max_lifetime: int = 3600,
        jwks_cache: JwksCache | None = None,
        replay_cache: ReplayCache | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not issuers:
            raise ClientAuthConfigError("client authentication needs at least one JWT issuer")
        self.issuers = dict(issuers)
        self.algorithms = _checked_algorithms(algorithms)
        self.leeway = leeway
        self.max_lifetime = max_lifetime
        self._jwks = jwks_cache or JwksCache()
        self._replay = replay_cache or ReplayCache(clock=clock)
        self._clock = clock

    @classmethod
    def from_config(
        cls, config: Mapping[str, Any], *, session: requests.Session | None = None
    ) -> ClientAuthenticator:
        """Build from app config (keys as in docs/SECURITY.md).

        :raises ClientAuthConfigError: if a setting is malformed or names a forbidden algorithm.
        """
        issuers = parse_issuers(config.get("JWT_ISSUERS"))
        extra = as_list(config.get("JWT_ALGORITHMS"), "JWT_ALGORITHMS")
        jwks_cache = JwksCache(
            ttl=_number(config, "JWKS_CACHE_TTL_SECONDS", 300),
            min_refetch_interval=_number(config, "JWKS_MIN_REFETCH_SECONDS", 30),
            timeout=_number(config, "JWKS_TIMEOUT_SECONDS", 5),
            max_bytes=int(_number(config, "JWKS_MAX_BYTES", 65536)),
            allow_http=flag(config.get("JWKS_ALLOW_HTTP", False)),
            session=session,
        )
        return cls(
            issuers,
            algorithms=tuple(dict.fromkeys([*DEFAULT_ALGORITHMS, *extra])),
            leeway=int(_number(config, "JWT_LEEWAY_SECONDS", 60)),
            max_lifetime=int(_number(config, "JWT_MAX_LIFETIME_SECONDS", 3600)),
            jwks_cache=jwks_cache,
            replay_cache=ReplayCache(int(_number(config, "JWT_REPLAY_CACHE_SIZE", 100_000))),
        )

    def authenticate(self, authorization_header: str | None, audience: str) -> ClientIdentity:
        """Verify the bearer JWT for a call to ``audience`` (the exact URL called).

        :raises ClientAuthError: if the token is missing or fails any check.
        """
        try:
            identity = self._verify(authorization_header, audience)
        except ClientAuthError as exc:
            audit.warning(
                "client auth rejected: reason=%s iss=%s kid=%s aud=%s",
                exc.reason,
                _printable(exc.issuer),
                _printable(exc.kid),
                audience,
            )
            raise
        audit.info(
            "client authenticated: iss=%s tenant=%s kid=%s jti=%s aud=%s",
            identity.issuer,
            _printable(identity.tenant),
            _printable(identity.kid),
            _printable(identity.jti),
            audience,
        )
        return identity

    def _verify(self, authorization_header: str | None, audience: str) -> ClientIdentity:
        token = _bearer_token(authorization_header)
        try:
            header = jwt.get_unverified_header(token)
            claims = jwt.decode(token, options={"verify_signature": False})
        except (jwt.InvalidTokenError, ValueError, TypeError, RecursionError) as exc:
            raise ClientAuthError(f"malformed token ({type(exc).__name__})") from None

        iss = claims.get("iss")
        kid = header.get("kid")
        alg = header.get("alg")
        shown_iss = iss if isinstance(iss, str) else None
        shown_kid = kid if isinstance(kid, str) else None

        def fail(reason: str) -> ClientAuthError:
            return ClientAuthError(reason, issuer=shown_iss, kid=shown_kid)

        if not isinstance(alg, str) or alg not in self.algorithms:
            raise fail(f"algorithm not allowed: {_printable(alg)}")
        if "typ" in header and header["typ"] != "JWT":
            raise fail("typ is not JWT")
        if "crit" in header:
            raise fail("unsupported crit header")
        if not isinstance(kid, str) or not kid:
            raise fail("no kid in header")
        if not isinstance(iss, str) or iss not in self.issuers:
            raise fail("issuer not trusted")
        issuer = self.issuers[iss]

        jwk = self._find_key(issuer, header, kid, fail)
        if jwk.get("kty") != _KTY_FOR_ALG[alg[:2]]:
            raise fail("key type does not match alg")
        if "alg" in jwk and jwk["alg"] != alg:
            raise fail("key is for another alg")
        if alg in _CURVE_FOR_ALG and jwk.get("crv") != _CURVE_FOR_ALG[alg]:
            raise fail("key curve does not match alg")
        try:
            key = jwt.PyJWK(dict(jwk), algorithm=alg)
        except (jwt.PyJWTError, ValueError, TypeError) as exc:
            raise fail(f"unusable key ({type(exc).__name__})") from None

        try:
            verified = jwt.decode(
                token,
                key=key,
                algorithms=[alg],
                audience=audience,
                issuer=iss,
                leeway=self.leeway,
                options={
                    "require": ["iss", "aud", "exp", "iat", "jti"],
                    "verify_signature": True,
                    "verify_exp": True,
                    "verify_nbf": True,
                    "verify_iat": True,
                    "verify_aud": True,
                    "verify_iss": True,
                    "enforce_minimum_key_length": True,
                },
            )
        except jwt.PyJWTError as exc:
            raise fail(f"token rejected ({type(exc).__name__}: {exc})") from None

        exp, iat, jti = verified["exp"], verified["iat"], verified["jti"]
        if not (_is_number(exp) and _is_number(iat)):
            raise fail("exp or iat is not a number")
        if not isinstance(jti, str) or not jti or len(jti) > 256:
            raise fail("jti missing or not a short string")
        if exp - iat > self.max_lifetime:
            raise fail(f"token lifetime {int(exp - iat)} s exceeds {self.max_lifetime} s")
        tenant = verified.get("tenant")
        if tenant is not None and not isinstance(tenant, str):
            raise fail("tenant is not a string")
        if issuer.tenants and tenant not in issuer.tenants:
            raise fail(f"tenant not allowed: {_printable(tenant)}")
        if not self._replay.add(iss, jti, forget_at=float(exp) + self.leeway):
            raise fail("jti replayed (or replay cache full)")
        subject = verified.get("sub")
        return ClientIdentity(
            issuer=iss,
            kid=kid,
            jti=jti,
            expires_at=int(exp),
            tenant=tenant,
            subject=subject if isinstance(subject, str) else None,
            fhir_servers=issuer.fhir_servers,
        )

    def _find_key(
        self,
        issuer: IssuerConfig,
        header: Mapping[str, Any],
        kid: str,
        fail: Callable[[str], ClientAuthError],
    ) -> Mapping[str, Any]:
        jku = header.get("jku")
        if jku is not None:
            allowed = set(issuer.jku_allowlist)
            if issuer.jwks_url:
                allowed.add(issuer.jwks_url)
            if not isinstance(jku, str) or jku not in allowed:
                raise fail(f"jku not allowlisted: {_printable(jku)}")
            url: str | None = jku
        else:
            url = issuer.jwks_url
        if issuer.keys and kid in issuer.keys:
            return issuer.keys[kid]
        if url is None:
            raise fail("unknown kid (no JWKS URL)")
        try:
            jwk = self._jwks.get_key(url, kid)
        except JwksError as exc:
            raise fail(f"JWKS unavailable: {exc}") from None
        if jwk is None:
            raise fail("unknown kid")
        return jwk


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


def _checked_algorithms(algorithms: tuple[str, ...]) -> tuple[str, ...]:
    for alg in algorithms:
        if alg not in DEFAULT_ALGORITHMS and alg not in OPTIONAL_ALGORITHMS:
            raise ClientAuthConfigError(
                f"JWT algorithm {alg!r} is not allowed (spec forbids none and symmetric algorithms)"
            )
    return tuple(algorithms)


def _bearer_token(authorization_header: str | None) -> str:
    if not authorization_header:
        raise ClientAuthError("no Authorization header")
    scheme, _, token = authorization_header.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise ClientAuthError("Authorization is not a Bearer token")
    if len(token) > MAX_TOKEN_LENGTH:
        raise ClientAuthError("token too long")
    return token


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


def _number(config: Mapping[str, Any], name: str, default: float) -> float:
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


def _is_number(value: Any) -> bool:
    # PyJWT accepts anything int() accepts ("123"); the spec says number.
    return isinstance(value, int | float) and not isinstance(value, bool)


def _printable(value: Any, limit: int = 80) -> str:
    """Render an attacker-supplied value for a log line: repr'd (no newlines) and truncated."""
    if value is None:
        return "-"
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "...'"
