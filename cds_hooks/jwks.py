"""Fetch and cache the JWK Sets that CDS Clients publish (spec: "Trusting CDS Clients").

A :class:`JwksCache` holds one entry per JWKS URL. An entry is refreshed when it is older than
the TTL, and at most once per ``min_refetch_interval`` when a token names a ``kid`` the cached set
does not have (key rotation). Fetching is deliberately narrow: https only (unless explicitly
allowed, for loopback tests), no redirects, a timeout, and a size cap, because the URL comes from
configuration but the response comes from the network.

Only public signing keys are kept: ``kty`` ``EC`` or ``RSA``, no ``d`` (private part), ``use``
absent or ``sig``, and a ``kid``. Symmetric (``oct``) keys are dropped so that no HMAC key can
ever be built from a JWKS.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import urlsplit

import requests

from cds_hooks.limits import read_capped

audit = logging.getLogger("rair_cds.security")

SUPPORTED_KTY = frozenset({"EC", "RSA"})
_PRIVATE_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})


class JwksError(Exception):
    """A JWK Set could not be fetched or read."""


def usable_keys(keys: Iterable[Any]) -> dict[str, dict[str, Any]]:
    """Return the public signing keys of a JWKS ``keys`` array, by ``kid``.

    Entries that are not objects, have no string ``kid``, an unsupported ``kty``, a ``use`` other
    than ``sig``, or private members are skipped. A ``kid`` that appears twice is dropped, since
    the spec says a kid MUST be unique within the set and we cannot tell which one is meant.
    """
    found: dict[str, dict[str, Any]] = {}
    duplicates: set[str] = set()
    for jwk in keys:
        if not isinstance(jwk, Mapping):
            continue
        kid = jwk.get("kid")
        if not isinstance(kid, str) or not kid:
            continue
        if jwk.get("kty") not in SUPPORTED_KTY:
            continue
        if jwk.get("use", "sig") != "sig":
            continue
        if _PRIVATE_MEMBERS.intersection(jwk):
            continue
        if kid in found:
            duplicates.add(kid)
        found[kid] = dict(jwk)
    for kid in duplicates:
        del found[kid]
    return found


@dataclass
class _Entry:
    keys: dict[str, dict[str, Any]] = field(default_factory=dict)
    fetched_at: float | None = None  # last successful fetch
    attempted_at: float | None = None  # last attempt, successful or not
    lock: threading.Lock = field(default_factory=threading.Lock)


class SharedJwks(Protocol):
    """Where workers share fetched sets (``cds_hooks.shared_state.RedisJwksStore``)."""

    def load(self, url: str) -> tuple[dict[str, dict[str, Any]], float] | None: ...

    def save(self, url: str, keys: Mapping[str, dict[str, Any]], ttl: float) -> None: ...


class JwksCache:
    """A thread-safe cache of JWK Sets by URL.

    :param ttl: seconds a fetched set is used before it is fetched again.
    :param min_refetch_interval: minimum seconds between two fetches of one URL (rate limit).
    :param timeout: seconds for connecting and for reading.
    :param max_bytes: largest JWKS body accepted.
    :param allow_http: accept ``http://`` JWKS URLs (tests on loopback only).
    """

    def __init__(
        self,
        *,
        ttl: float = 300.0,
        min_refetch_interval: float = 30.0,
        timeout: float = 5.0,
        max_bytes: int = 65536,
        allow_http: bool = False,
        session: requests.Session | None = None,
        clock: Callable[[], float] = time.monotonic,
        shared: SharedJwks | None = None,
    ) -> None:
        self._shared = shared
        self._ttl = ttl
        self._min_interval = min_refetch_interval
        self._timeout = timeout
        self._max_bytes = max_bytes
        self._allow_http = allow_http
        self._session = session or requests.Session()
        # Because a JWKS must come from exactly the configured URL: no .netrc, no env proxies.
        self._session.trust_env = False
        self._clock = clock
        self._entries: dict[str, _Entry] = {}
        self._entries_lock = threading.Lock()

    def get_key(self, url: str, kid: str) -> dict[str, Any] | None:
        """Return the JWK with ``kid`` from the set at ``url``, fetching as the policy allows.

        :raises JwksError: if the set is needed, cannot be fetched, and nothing is cached.
        """
        entry = self._entry(url)
        with entry.lock:
            now = self._clock()
            stale = entry.fetched_at is None or now - entry.fetched_at >= self._ttl
            unknown = kid not in entry.keys
            may_fetch = entry.attempted_at is None or now - entry.attempted_at >= self._min_interval
            if (stale or unknown) and self._adopt_shared(url, kid, entry, now):
                stale = unknown = False
            if (stale or unknown) and may_fetch:
                entry.attempted_at = now
                try:
                    entry.keys = self._fetch(url)
                    entry.fetched_at = now
                    if self._shared is not None:
                        self._shared.save(url, entry.keys, self._ttl)
                except JwksError as exc:
                    if entry.fetched_at is None:
                        raise
                    # Keep serving the last good set: an unreachable endpoint cannot express a
                    # rotation, and dropping the keys would turn an outage into a lock-out.
                    audit.warning(
                        "jwks refresh failed, using cached set: url=%s error=%s", url, exc
                    )
            elif entry.fetched_at is None:
                raise JwksError(f"JWKS not available (fetch rate-limited): {url}")
            return entry.keys.get(kid)

    def _adopt_shared(self, url: str, kid: str, entry: _Entry, now: float) -> bool:
        """Use the set another worker fetched when it is newer and has ``kid``."""
        found = self._shared.load(url) if self._shared is not None else None
        if found is None:
            return False
        keys, age = found
        fetched_at = now - age
        if kid not in keys or (entry.fetched_at is not None and entry.fetched_at >= fetched_at):
            return False
        entry.keys, entry.fetched_at = keys, fetched_at
        return True

    def _entry(self, url: str) -> _Entry:
        with self._entries_lock:
            entry = self._entries.get(url)
            if entry is None:
                entry = self._entries[url] = _Entry()
            return entry

    def _fetch(self, url: str) -> dict[str, dict[str, Any]]:
        scheme = urlsplit(url).scheme.lower()
        if scheme != "https" and not (scheme == "http" and self._allow_http):
            raise JwksError(f"JWKS URL must be https: {url}")
        try:
            with self._session.get(
                url,
                timeout=self._timeout,
                allow_redirects=False,
                stream=True,
                headers={"Accept": "application/json, application/jwk-set+json"},
            ) as response:
                if response.status_code != requests.codes.ok:
                    raise JwksError(f"JWKS fetch answered {response.status_code}: {url}")
                cap = self._max_bytes
                body = read_capped(
                    response, cap, lambda: JwksError(f"JWKS larger than {cap} bytes: {url}")
                )
        except requests.RequestException as exc:
            raise JwksError(f"JWKS fetch failed ({type(exc).__name__}): {url}") from exc
        try:
            document = json.loads(body)
        except (ValueError, RecursionError) as exc:
            raise JwksError(f"JWKS is not JSON: {url}") from exc
        if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
            raise JwksError(f"JWKS has no keys array: {url}")
        return usable_keys(document["keys"])
