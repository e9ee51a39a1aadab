"""State every worker and instance must share, kept in Redis (setting ``REDIS_URL``).

Three things must not live in one process's memory once the service runs as several processes
(``rair-cds serve --workers N``) or several instances behind a load balancer:

* the JWT replay cache (``jti``): a token replayed to another worker must be refused;
* the select-to-sign alert memory of the order services: a card shown at ``order-select`` by one
  worker must not be repeated at ``order-sign`` by another;
* the JWKS cache: every worker uses the key set one of them fetched (fewer fetches, one view of a
  key rotation).

Without ``REDIS_URL`` the in-process caches are used, which is correct for one process only; see
:func:`check_worker_state` for the start-up rule. Keys are namespaced (``REDIS_PREFIX``) and hold
no patient identifier or token in clear: replay and alert keys are SHA-256 digests.

A Redis failure never lets a request through unchecked: the replay check then answers 503
(:class:`~cds_hooks.errors.SharedStateUnavailable`); the alert memory then shows the card (a repeat
is possible, a missed first card is not); the JWKS cache falls back to its own fetch.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from collections.abc import Iterable, Mapping
from typing import Any

import redis

from cds_hooks.errors import ConfigurationError, SharedStateUnavailable

log = logging.getLogger("rair_cds.shared_state")

DEFAULT_PREFIX = "rair-cds:"
#: one client (one connection pool) per process and URL
_CLIENTS: dict[tuple[int, str], redis.Redis] = {}


def redis_from_config(config: Mapping[str, Any]) -> redis.Redis | None:
    """A Redis client for ``REDIS_URL`` (``None`` when unset); checked with a PING at start-up.

    :raises ConfigurationError: when the URL is malformed or the server does not answer.
    """
    url = config.get("REDIS_URL")
    if not url:
        return None
    known = _CLIENTS.get((os.getpid(), str(url)))
    if known is not None:
        return known
    timeout = float(config.get("REDIS_TIMEOUT_SECONDS") or 2.0)
    try:
        client = redis.Redis.from_url(
            str(url), socket_timeout=timeout, socket_connect_timeout=timeout,
            health_check_interval=30,
        )
        client.ping()
    except (ValueError, redis.RedisError) as exc:
        raise ConfigurationError(
            f"RAIR_CDS_REDIS_URL: Redis not usable ({type(exc).__name__})"
        ) from None
    _CLIENTS[(os.getpid(), str(url))] = client
    return client


def prefix_of(config: Mapping[str, Any]) -> str:
    """The key prefix (``REDIS_PREFIX``), so that several services can share one Redis."""
    return str(config.get("REDIS_PREFIX") or DEFAULT_PREFIX)


def digest(*parts: str) -> str:
    """A SHA-256 hex digest of ``parts`` (unit-separated), used as a Redis key suffix."""
    return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()


def check_worker_state(workers: int, config: Mapping[str, Any]) -> None:
    """Refuse more than one worker without shared state unless ``ALLOW_UNSHARED_STATE`` is set.

    :raises ConfigurationError: explaining which setting is missing.
    """
    if workers > 1 and not config.get("REDIS_URL") and not config.get("ALLOW_UNSHARED_STATE"):
        raise ConfigurationError(
            f"refusing to start {workers} workers without a shared replay cache: a JWT replayed "
            "to another worker would be accepted and an order card could be shown twice. Set "
            "RAIR_CDS_REDIS_URL, or RAIR_CDS_ALLOW_UNSHARED_STATE=true to accept that risk."
        )


class RedisReplayCache:
    """The ``jti`` replay cache in Redis: ``SET key NX EXAT forget_at`` (atomic across workers)."""

    def __init__(self, client: redis.Redis, prefix: str = DEFAULT_PREFIX) -> None:
        self._client = client
        self._prefix = prefix + "jti:"

    def add(self, issuer: str, jti: str, forget_at: float) -> bool:
        """Record a jti; ``False`` if any worker or instance already saw it.

        :raises SharedStateUnavailable: (503) when Redis cannot be asked: never accept unchecked.
        """
        expire_at = max(int(forget_at) + 1, int(time.time()) + 1)
        try:
            added = self._client.set(
                self._prefix + digest(issuer, jti), b"1", nx=True, exat=expire_at
            )
        except redis.RedisError as exc:
            log.error("replay cache unavailable (%s)", type(exc).__name__)
            raise SharedStateUnavailable("replay cache unavailable") from None
        return bool(added)


class RedisAlertMemory:
    """The order services' shown-card memory in Redis: one set of signatures per order key."""

    def __init__(
        self, client: redis.Redis, ttl_seconds: float, prefix: str = DEFAULT_PREFIX
    ) -> None:
        self._client = client
        self._ttl = max(1, int(ttl_seconds))
        self._prefix = prefix + "alert:"

    def _name(self, key: tuple[str, ...]) -> str:
        return self._prefix + digest(*key)

    def remember(self, key: tuple[str, ...], signatures: Iterable[str]) -> None:
        """Add ``signatures`` to what was shown for ``key``; the TTL restarts."""
        new = list(signatures)
        if not new:
            return
        try:
            pipe = self._client.pipeline()
            pipe.sadd(self._name(key), *new)
            pipe.expire(self._name(key), self._ttl)
            pipe.execute()
        except redis.RedisError as exc:
            log.error("alert memory unavailable, card may repeat (%s)", type(exc).__name__)

    def shown(self, key: tuple[str, ...]) -> frozenset[str]:
        """The signatures shown for ``key`` within the TTL (empty when Redis cannot answer)."""
        try:
            members = self._client.smembers(self._name(key))
        except redis.RedisError as exc:
            log.error("alert memory unavailable, card may repeat (%s)", type(exc).__name__)
            return frozenset()
        return frozenset(m.decode() if isinstance(m, bytes) else str(m) for m in members)


class RedisJwksStore:
    """Fetched JWK Sets shared by URL, each kept for the JWKS cache TTL."""

    def __init__(self, client: redis.Redis, prefix: str = DEFAULT_PREFIX) -> None:
        self._client = client
        self._prefix = prefix + "jwks:"

    def load(self, url: str) -> tuple[dict[str, dict[str, Any]], float] | None:
        """``(keys by kid, age in seconds)`` of the shared set for ``url``, or ``None``."""
        try:
            raw = self._client.get(self._prefix + digest(url))
        except redis.RedisError:
            return None
        if raw is None:
            return None
        try:
            stored = json.loads(raw)
            return dict(stored["keys"]), max(0.0, time.time() - float(stored["at"]))
        except (ValueError, KeyError, TypeError):
            return None

    def save(self, url: str, keys: Mapping[str, dict[str, Any]], ttl: float) -> None:
        """Share a freshly fetched set for ``ttl`` seconds (best effort)."""
        body = json.dumps({"keys": dict(keys), "at": time.time()})
        try:
            self._client.set(self._prefix + digest(url), body, ex=max(1, int(ttl)))
        except redis.RedisError as exc:
            log.warning("could not share a JWKS (%s)", type(exc).__name__)
