"""CDS Client JWT verification (CDS Hooks 2.0 "Trusting CDS Clients"): cds_hooks/client_auth.py.

Tokens that are accepted, and the audit log, settings and replay cache. Rejected tokens:
test_cds_hooks_client_auth_rejected.py; the app's 401 answers: test_cds_hooks_client_auth_app.py."""

from __future__ import annotations

import json
import logging
import threading
import time

import pytest
from client_auth_helpers import (
    AUD,
    ISS,
    bearer,
    new_ec_key,
    rejects,
    remote_auth,
    signed,
)
from cryptography.hazmat.primitives.asymmetric import ec
from jwt_helpers import public_jwk

from cds_hooks.client_auth import ClientAuthenticator, ClientAuthError
from cds_hooks.client_auth_config import ClientAuthConfigError, auth_mode, parse_issuers
from cds_hooks.jwks import JwksCache, JwksError
from cds_hooks.replay_cache import ReplayCache

# -- accepted -------------------------------------------------------------------------------


def test_fresh_es384_token_is_accepted(static_auth, ec_key):
    identity = static_auth.authenticate(bearer(signed(ec_key, tenant="t-1")), AUD)
    assert identity.issuer == ISS
    assert identity.kid == "k1"
    assert identity.tenant == "t-1"


def test_fresh_rs384_token_is_accepted(static_auth, rsa_key):
    identity = static_auth.authenticate(bearer(signed(rsa_key, "RS384", "r1", tenant="t-1")), AUD)
    assert identity.kid == "r1"


def test_aud_as_array_containing_the_url_is_accepted(static_auth, ec_key):
    token = signed(ec_key, aud=[AUD], tenant="t-1")
    assert static_auth.authenticate(bearer(token), AUD).issuer == ISS


def test_token_from_jwks_url_is_accepted(jwks_server, ec_key):
    jwks_server.keys = [public_jwk(ec_key, "k1", "ES384")]
    auth = remote_auth(jwks_server)
    assert auth.authenticate(bearer(signed(ec_key)), AUD).kid == "k1"
    assert auth.authenticate(bearer(signed(ec_key)), AUD).kid == "k1"
    assert jwks_server.hits == 1  # cached


def test_jku_on_the_allowlist_is_fetched_and_accepted(jwks_server, ec_key):
    jwks_server.keys = [public_jwk(ec_key, "k1", "ES384")]
    auth = ClientAuthenticator.from_config(
        {"JWT_ISSUERS": {ISS: {"jku_allowlist": [jwks_server.url]}}, "JWKS_ALLOW_HTTP": True}
    )
    token = signed(ec_key, headers={"jku": jwks_server.url})
    assert auth.authenticate(bearer(token), AUD).issuer == ISS
    assert jwks_server.hits == 1


def test_jwks_larger_than_the_cap_is_refused(jwks_server, ec_key):
    # the loopback server declares its Content-Length: the body is refused before it is read
    jwks_server.keys = [public_jwk(ec_key, f"k{i}", "ES384") for i in range(20)]
    cache = JwksCache(allow_http=True, max_bytes=1024)
    with pytest.raises(JwksError, match="JWKS larger than 1024 bytes"):
        cache.get_key(jwks_server.url, "k1")
    assert JwksCache(allow_http=True).get_key(jwks_server.url, "k1") is not None


def test_unknown_kid_triggers_one_refetch_after_rotation(jwks_server, ec_key):
    old, new = new_ec_key(), ec_key
    jwks_server.keys = [public_jwk(old, "old", "ES384")]
    clock = [1000.0]
    auth = ClientAuthenticator(
        parse_issuers({ISS: {"jwks_url": jwks_server.url}}),
        jwks_cache=JwksCache(allow_http=True, min_refetch_interval=30, clock=lambda: clock[0]),
    )
    auth.authenticate(bearer(signed(old, kid="old")), AUD)
    assert jwks_server.hits == 1
    jwks_server.keys = [public_jwk(new, "new", "ES384")]  # the EHR rotates its key
    clock[0] += 31
    assert auth.authenticate(bearer(signed(new, kid="new")), AUD).kid == "new"
    assert jwks_server.hits == 2
    # an unknown kid right after a fetch does not hammer the JWKS endpoint (rate limit)
    with pytest.raises(ClientAuthError, match="unknown kid"):
        auth.authenticate(bearer(signed(new, kid="nope")), AUD)
    assert jwks_server.hits == 2


def test_optional_algorithm_only_when_configured(ec_key):
    p256 = ec.generate_private_key(ec.SECP256R1())
    issuers = {ISS: {"keys": [public_jwk(p256, "p", "ES256")]}}
    token = signed(p256, "ES256", "p")
    with pytest.raises(ClientAuthError):
        ClientAuthenticator.from_config({"JWT_ISSUERS": issuers}).authenticate(bearer(token), AUD)
    auth = ClientAuthenticator.from_config({"JWT_ISSUERS": issuers, "JWT_ALGORITHMS": ["ES256"]})
    assert auth.authenticate(bearer(token), AUD).kid == "p"


# -- logging, config, replay cache ----------------------------------------------------------


def test_rejection_is_audited_without_the_token(static_auth, ec_key, caplog):
    token = signed(ec_key, aud="https://elsewhere.example/")
    with caplog.at_level(logging.INFO, logger="rair_cds.security"):
        rejects(static_auth, bearer(token))
    assert "client auth rejected" in caplog.text
    assert token not in caplog.text
    assert token.split(".")[2] not in caplog.text


def test_auth_mode_defaults_to_required():
    assert auth_mode({}) == "required"
    assert auth_mode({"AUTH_MODE": "OFF"}) == "off"
    with pytest.raises(ClientAuthConfigError):
        auth_mode({"AUTH_MODE": "maybe"})


def test_issuers_from_environment_json_and_validation(ec_key):
    raw = json.dumps({ISS: {"keys": [public_jwk(ec_key, "k1", "ES384")], "tenants": "a,b"}})
    issuers = parse_issuers(raw)
    assert issuers[ISS].tenants == ("a", "b")
    for bad in ("not json", "[]", {ISS: "x"}, {ISS: {"jwks": "typo"}}, {ISS: {}}):
        with pytest.raises(ClientAuthConfigError):
            parse_issuers(bad)
    with pytest.raises(ClientAuthConfigError):
        ClientAuthenticator.from_config({})


def test_replay_cache_forgets_expired_and_refuses_when_full():
    now = [0.0]
    cache = ReplayCache(max_entries=2, clock=lambda: now[0])
    assert cache.add("i", "a", forget_at=10)
    assert not cache.add("i", "a", forget_at=10)
    assert cache.add("i", "b", forget_at=20)
    assert not cache.add("i", "c", forget_at=20)  # full of live entries: refuse, never evict
    now[0] = 11
    assert cache.add("i", "c", forget_at=30)  # "a" expired and was purged
    now[0] = 21
    assert cache.add("i", "a", forget_at=40)  # an expired jti is forgotten ("b" went too)
    assert len(cache) == 2


def test_replay_cache_is_thread_safe():
    cache = ReplayCache(max_entries=10_000)
    results: list[bool] = []

    def worker():
        results.append(cache.add("i", "same", forget_at=time.time() + 60))

    threads = [threading.Thread(target=worker) for _ in range(32)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results.count(True) == 1
