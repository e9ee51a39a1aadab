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

The settings (issuers, algorithms, ``AUTH_MODE``) are read by :mod:`cds_hooks.client_auth_config`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import jwt
import requests

from cds_hooks.client_auth_config import (
    DEFAULT_ALGORITHMS,
    ClientAuthConfigError,
    IssuerConfig,
    as_list,
    checked_algorithms,
    flag,
    number_setting,
    parse_issuers,
)
from cds_hooks.jwks import JwksCache, JwksError
from cds_hooks.replay_cache import ReplayCache
from cds_hooks.shared_state import (
    RedisJwksStore,
    RedisReplayCache,
    prefix_of,
    redis_from_config,
)

audit = logging.getLogger("rair_cds.security")

_KTY_FOR_ALG = {"ES": "EC", "RS": "RSA", "PS": "RSA"}
_CURVE_FOR_ALG = {"ES256": "P-256", "ES384": "P-384", "ES512": "P-521"}

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
        replay_cache: ReplayCache | RedisReplayCache | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not issuers:
            raise ClientAuthConfigError("client authentication needs at least one JWT issuer")
        self.issuers = dict(issuers)
        self.algorithms = checked_algorithms(algorithms)
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
        shared = redis_from_config(config)  # RAIR_CDS_REDIS_URL: every worker and instance
        prefix = prefix_of(config)
        jwks_cache = JwksCache(
            ttl=number_setting(config, "JWKS_CACHE_TTL_SECONDS", 300),
            min_refetch_interval=number_setting(config, "JWKS_MIN_REFETCH_SECONDS", 30),
            timeout=number_setting(config, "JWKS_TIMEOUT_SECONDS", 5),
            max_bytes=int(number_setting(config, "JWKS_MAX_BYTES", 65536)),
            allow_http=flag(config.get("JWKS_ALLOW_HTTP", False)),
            session=session,
            shared=RedisJwksStore(shared, prefix) if shared is not None else None,
        )
        replay: ReplayCache | RedisReplayCache = (
            RedisReplayCache(shared, prefix)
            if shared is not None
            else ReplayCache(int(number_setting(config, "JWT_REPLAY_CACHE_SIZE", 100_000)))
        )
        return cls(
            issuers,
            algorithms=tuple(dict.fromkeys([*DEFAULT_ALGORITHMS, *extra])),
            leeway=int(number_setting(config, "JWT_LEEWAY_SECONDS", 60)),
            max_lifetime=int(number_setting(config, "JWT_MAX_LIFETIME_SECONDS", 3600)),
            jwks_cache=jwks_cache,
            replay_cache=replay,
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


def _is_number(value: Any) -> bool:
    # PyJWT accepts anything int() accepts ("123"); the spec says number.
    return isinstance(value, int | float) and not isinstance(value, bool)


def _printable(value: Any, limit: int = 80) -> str:
    """Render an attacker-supplied value for a log line: repr'd (no newlines) and truncated."""
    if value is None:
        return "-"
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "...'"
