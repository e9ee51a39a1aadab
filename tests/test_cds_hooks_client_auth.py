"""CDS Client JWT verification (CDS Hooks 2.0 "Trusting CDS Clients"): cds_hooks/client_auth.py."""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt_helpers import JwksServer, b64, hmac_signed, public_jwk, signed_token, unsigned

from cds_hooks.client_auth import ClientAuthenticator, ClientAuthError
from cds_hooks.client_auth_config import ClientAuthConfigError, auth_mode, parse_issuers
from cds_hooks.jwks import JwksCache, JwksError
from cds_hooks.replay_cache import ReplayCache

ISS = "https://ehr.example.org/"
AUD = "https://cds.example.org/cds-services/rair-patient-view"
SHARED_JWT = Path(__file__).resolve().parents[2] / "shared" / "cds-hooks-schemas" / "jwt"


# -- keys and tokens ------------------------------------------------------------------------


def _ec_key():
    return ec.generate_private_key(ec.SECP384R1())


def _rsa_key(bits=2048):
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


def _token(private_key, alg="ES384", kid="k1", headers=None, **claims):
    claims = {"iss": ISS, "aud": AUD, **claims}
    return signed_token(private_key, alg=alg, kid=kid, headers=headers, **claims)


def _bearer(token):
    return f"Bearer {token}"


@pytest.fixture(scope="module")
def ec_key():
    return _ec_key()


@pytest.fixture(scope="module")
def rsa_key():
    return _rsa_key()


@pytest.fixture
def static_auth(ec_key, rsa_key):
    config = {
        "JWT_ISSUERS": {
            ISS: {
                "keys": [public_jwk(ec_key, "k1", "ES384"), public_jwk(rsa_key, "r1", "RS384")],
                "tenants": ["t-1"],
            }
        }
    }
    return ClientAuthenticator.from_config(config)


# -- a real JWKS endpoint on loopback -------------------------------------------------------


@pytest.fixture
def jwks_server():
    server = JwksServer()
    yield server
    server.close()


def _remote_auth(jwks_server, **issuer):
    entry = {"jwks_url": jwks_server.url, **issuer}
    return ClientAuthenticator.from_config(
        {"JWT_ISSUERS": {ISS: entry}, "JWKS_ALLOW_HTTP": True, "JWKS_MIN_REFETCH_SECONDS": 30}
    )


# -- accepted -------------------------------------------------------------------------------


def test_fresh_es384_token_is_accepted(static_auth, ec_key):
    identity = static_auth.authenticate(_bearer(_token(ec_key, tenant="t-1")), AUD)
    assert identity.issuer == ISS
    assert identity.kid == "k1"
    assert identity.tenant == "t-1"


def test_fresh_rs384_token_is_accepted(static_auth, rsa_key):
    identity = static_auth.authenticate(_bearer(_token(rsa_key, "RS384", "r1", tenant="t-1")), AUD)
    assert identity.kid == "r1"


def test_aud_as_array_containing_the_url_is_accepted(static_auth, ec_key):
    token = _token(ec_key, aud=[AUD], tenant="t-1")
    assert static_auth.authenticate(_bearer(token), AUD).issuer == ISS


def test_token_from_jwks_url_is_accepted(jwks_server, ec_key):
    jwks_server.keys = [public_jwk(ec_key, "k1", "ES384")]
    auth = _remote_auth(jwks_server)
    assert auth.authenticate(_bearer(_token(ec_key)), AUD).kid == "k1"
    assert auth.authenticate(_bearer(_token(ec_key)), AUD).kid == "k1"
    assert jwks_server.hits == 1  # cached


def test_jku_on_the_allowlist_is_fetched_and_accepted(jwks_server, ec_key):
    jwks_server.keys = [public_jwk(ec_key, "k1", "ES384")]
    auth = ClientAuthenticator.from_config(
        {"JWT_ISSUERS": {ISS: {"jku_allowlist": [jwks_server.url]}}, "JWKS_ALLOW_HTTP": True}
    )
    token = _token(ec_key, headers={"jku": jwks_server.url})
    assert auth.authenticate(_bearer(token), AUD).issuer == ISS
    assert jwks_server.hits == 1


def test_jwks_larger_than_the_cap_is_refused(jwks_server, ec_key):
    # the loopback server declares its Content-Length: the body is refused before it is read
    jwks_server.keys = [public_jwk(ec_key, f"k{i}", "ES384") for i in range(20)]
    cache = JwksCache(allow_http=True, max_bytes=1024)
    with pytest.raises(JwksError, match="JWKS larger than 1024 bytes"):
        cache.get_key(jwks_server.url, "k1")
    assert JwksCache(allow_http=True).get_key(jwks_server.url, "k1") is not None


def test_unknown_kid_triggers_one_refetch_after_rotation(jwks_server, ec_key):
    old, new = _ec_key(), ec_key
    jwks_server.keys = [public_jwk(old, "old", "ES384")]
    clock = [1000.0]
    auth = ClientAuthenticator(
        parse_issuers({ISS: {"jwks_url": jwks_server.url}}),
        jwks_cache=JwksCache(allow_http=True, min_refetch_interval=30, clock=lambda: clock[0]),
    )
    auth.authenticate(_bearer(_token(old, kid="old")), AUD)
    assert jwks_server.hits == 1
    jwks_server.keys = [public_jwk(new, "new", "ES384")]  # the EHR rotates its key
    clock[0] += 31
    assert auth.authenticate(_bearer(_token(new, kid="new")), AUD).kid == "new"
    assert jwks_server.hits == 2
    # an unknown kid right after a fetch does not hammer the JWKS endpoint (rate limit)
    with pytest.raises(ClientAuthError, match="unknown kid"):
        auth.authenticate(_bearer(_token(new, kid="nope")), AUD)
    assert jwks_server.hits == 2


def test_optional_algorithm_only_when_configured(ec_key):
    p256 = ec.generate_private_key(ec.SECP256R1())
    issuers = {ISS: {"keys": [public_jwk(p256, "p", "ES256")]}}
    token = _token(p256, "ES256", "p")
    with pytest.raises(ClientAuthError):
        ClientAuthenticator.from_config({"JWT_ISSUERS": issuers}).authenticate(_bearer(token), AUD)
    auth = ClientAuthenticator.from_config({"JWT_ISSUERS": issuers, "JWT_ALGORITHMS": ["ES256"]})
    assert auth.authenticate(_bearer(token), AUD).kid == "p"


# -- rejected -------------------------------------------------------------------------------


@pytest.mark.shared
def test_spec_example_token_is_rejected_as_expired():
    if not SHARED_JWT.is_dir():
        pytest.skip(f"reference JWT files not found at {SHARED_JWT} (../shared is absent)")
    token = (SHARED_JWT / "spec-example-token.txt").read_text().strip()
    jwks = json.loads((SHARED_JWT / "jwks-public.json").read_text())
    payload = json.loads((SHARED_JWT / "jwt-payload.json").read_text())
    header = json.loads((SHARED_JWT / "jwt-header.json").read_text())
    auth = ClientAuthenticator.from_config(
        {"JWT_ISSUERS": {payload["iss"]: {"keys": jwks["keys"], "jku_allowlist": [header["jku"]]}}}
    )
    # the signature is valid: verifying without the clock checks succeeds
    key = jwt.PyJWK(jwks["keys"][0], algorithm="ES384")
    jwt.decode(
        token, key, algorithms=["ES384"], audience=payload["aud"], options={"verify_exp": False}
    )
    with pytest.raises(ClientAuthError, match="ExpiredSignature"):
        auth.authenticate(_bearer(token), payload["aud"])


def _rejects(auth, header, audience=AUD, match=None):
    with pytest.raises(ClientAuthError) as info:
        auth.authenticate(header, audience)
    assert info.value.status_code == 401
    assert info.value.public_message == "unauthorized"
    if match:
        assert match in info.value.reason
    return info.value


@pytest.mark.parametrize(
    ("case", "claims", "match"),
    [
        ("wrong aud", {"aud": "https://cds.example.org/cds-services/other"}, "InvalidAudience"),
        (
            "aud of another host",
            {"aud": "https://evil.example/cds-services/rair-patient-view"},
            "Audience",
        ),
        ("wrong issuer", {"iss": "https://evil.example/"}, "issuer not trusted"),
        ("expired", {"iat": int(time.time()) - 900, "exp": int(time.time()) - 600}, "Expired"),
        ("not yet valid", {"nbf": int(time.time()) + 600}, "Immature"),
        (
            "issued in the future",
            {"iat": int(time.time()) + 600, "exp": int(time.time()) + 900},
            "Immature",
        ),
        ("no exp", {"exp": None}, "MissingRequiredClaim"),
        ("no jti", {"jti": None}, "MissingRequiredClaim"),
        ("no iat", {"iat": None}, "MissingRequiredClaim"),
        ("absurd lifetime", {"exp": int(time.time()) + 30 * 86400}, "lifetime"),
        ("tenant not allowed", {"tenant": "t-2"}, "tenant"),
        ("exp as a string", {"exp": str(int(time.time()) + 300)}, "number"),
    ],
)
def test_bad_claims_are_rejected(static_auth, ec_key, case, claims, match):
    claims = {"tenant": "t-1", **claims}
    _rejects(static_auth, _bearer(_token(ec_key, **claims)), match=match)


def test_missing_or_malformed_header_is_rejected(static_auth):
    for header in (None, "", "Basic abc", "Bearer", "Bearer not.a.jwt", "Bearer " + "a" * 20000):
        _rejects(static_auth, header)


def test_unknown_jku_is_rejected_and_never_fetched(jwks_server, ec_key):
    jwks_server.keys = [public_jwk(ec_key, "k1", "ES384")]
    auth = ClientAuthenticator.from_config(
        {
            "JWT_ISSUERS": {ISS: {"keys": [public_jwk(ec_key, "k1", "ES384")]}},
            "JWKS_ALLOW_HTTP": True,
        }
    )
    token = _token(ec_key, headers={"jku": jwks_server.url})
    _rejects(auth, _bearer(token), match="jku not allowlisted")
    assert jwks_server.hits == 0


def test_alg_none_is_rejected(static_auth):
    now = int(time.time())
    payload = {"iss": ISS, "aud": AUD, "iat": now, "exp": now + 60, "jti": "x", "tenant": "t-1"}
    token = unsigned({"alg": "none", "typ": "JWT", "kid": "k1"}, payload)
    _rejects(static_auth, _bearer(token), match="algorithm not allowed")


def test_hs256_signed_with_the_public_key_is_rejected(static_auth, rsa_key):
    # the classic algorithm-confusion attack: HMAC keyed with the (public) RSA key bytes
    public_pem = rsa_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    now = int(time.time())
    payload = {"iss": ISS, "aud": AUD, "iat": now, "exp": now + 60, "jti": "x", "tenant": "t-1"}
    token = hmac_signed("HS256", public_pem, {"alg": "HS256", "typ": "JWT", "kid": "r1"}, payload)
    _rejects(static_auth, _bearer(token), match="algorithm not allowed")


def test_hmac_and_none_cannot_be_configured():
    issuers = {ISS: {"jwks_url": "https://ehr.example.org/jwks"}}
    for alg in ("HS256", "HS384", "none", "EdDSA"):
        with pytest.raises(ClientAuthConfigError):
            ClientAuthenticator.from_config({"JWT_ISSUERS": issuers, "JWT_ALGORITHMS": [alg]})
    with pytest.raises(ClientAuthConfigError):  # symmetric keys are not keys we accept
        parse_issuers({ISS: {"keys": [{"kty": "oct", "kid": "s", "k": "c2VjcmV0"}]}})


def test_replayed_jti_is_rejected(static_auth, ec_key):
    token = _token(ec_key, tenant="t-1")
    static_auth.authenticate(_bearer(token), AUD)
    _rejects(static_auth, _bearer(token), match="replayed")


def test_bad_signature_and_wrong_key_are_rejected(static_auth, ec_key):
    stranger = _ec_key()
    _rejects(static_auth, _bearer(_token(stranger, tenant="t-1")), match="InvalidSignature")
    token = _token(ec_key, tenant="t-1")
    head, body, sig = token.split(".")
    tampered = ".".join(
        [
            head,
            b64(
                {
                    **jwt.decode(token, options={"verify_signature": False}),
                    "tenant": "t-1",
                    "sub": "x",
                }
            ),
            sig,
        ]
    )
    _rejects(static_auth, _bearer(tampered), match="InvalidSignature")


def test_key_type_must_match_alg(static_auth, ec_key):
    # an ES384 token naming the RSA key's kid
    _rejects(static_auth, _bearer(_token(ec_key, kid="r1", tenant="t-1")), match="key")


def test_unknown_kid_and_missing_kid_are_rejected(static_auth, ec_key):
    _rejects(static_auth, _bearer(_token(ec_key, kid="zz", tenant="t-1")), match="unknown kid")
    payload = {
        "iss": ISS,
        "aud": AUD,
        "iat": int(time.time()),
        "exp": int(time.time()) + 60,
        "jti": "j",
    }
    _rejects(static_auth, _bearer(jwt.encode(payload, ec_key, algorithm="ES384")), match="no kid")


def test_short_rsa_key_is_rejected():
    weak = _rsa_key(1024)
    auth = ClientAuthenticator.from_config(
        {"JWT_ISSUERS": {ISS: {"keys": [public_jwk(weak, "w", "RS384")]}}}
    )
    with pytest.warns(jwt.warnings.InsecureKeyLengthWarning):  # PyJWT warns when *we* sign with it
        token = _token(weak, "RS384", "w")
    _rejects(auth, _bearer(token), match="InvalidKey")


def test_jwks_redirect_is_not_followed(jwks_server, ec_key):
    jwks_server.redirect_to = "http://127.0.0.1:9/evil.json"
    auth = _remote_auth(jwks_server)
    _rejects(auth, _bearer(_token(ec_key)), match="JWKS unavailable")


def test_http_jwks_url_refused_unless_allowed(jwks_server, ec_key):
    jwks_server.keys = [public_jwk(ec_key, "k1", "ES384")]
    auth = ClientAuthenticator.from_config({"JWT_ISSUERS": {ISS: {"jwks_url": jwks_server.url}}})
    _rejects(auth, _bearer(_token(ec_key)), match="must be https")
    assert jwks_server.hits == 0


# -- logging, config, replay cache ----------------------------------------------------------


def test_rejection_is_audited_without_the_token(static_auth, ec_key, caplog):
    token = _token(ec_key, aud="https://elsewhere.example/")
    with caplog.at_level(logging.INFO, logger="rair_cds.security"):
        _rejects(static_auth, _bearer(token))
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


# -- through the app: the endpoints answer 401 with a bare OperationOutcome -----------------

PUBLIC = "https://cds.example.org"
GREETER = "/cds-services/toy-greeter"
HOOK_BODY = {
    "hook": "patient-view",
    "hookInstance": "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea",
    "context": {"userId": "Practitioner/example", "patientId": "1288992"},
    "prefetch": {"patient": {"resourceType": "Patient", "id": "1288992"}, "conditions": None},
}


@pytest.fixture
def secure_app(make_app, ec_key):
    return make_app(
        AUTH_MODE="required",
        JWT_ISSUERS={ISS: {"keys": [public_jwk(ec_key, "k1", "ES384")]}},
        PUBLIC_BASE_URL=PUBLIC,
    )


def _call(app, path, token=None, body=HOOK_BODY, method="post", headers=None):
    headers = dict(headers or {})
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    client = app.test_client()
    return getattr(client, method)(path, json=body, base_url=PUBLIC, headers=headers)


def _assert_bare_401(response):
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    body = response.get_json()
    assert body == {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "code": "login", "diagnostics": "unauthorized"}],
    }


def test_app_accepts_a_valid_token(secure_app, ec_key):
    token = _token(ec_key, aud=PUBLIC + GREETER)
    assert _call(secure_app, GREETER, token).status_code == 200


def test_app_feedback_needs_a_token_for_its_own_url(secure_app, ec_key):
    feedback = {
        "feedback": [
            {
                "card": str(uuid.uuid4()),
                "outcome": "overridden",
                "outcomeTimestamp": "2024-01-15T10:00:00Z",
            }
        ]
    }
    path = GREETER + "/feedback"
    _assert_bare_401(_call(secure_app, path, _token(ec_key, aud=PUBLIC + GREETER), feedback))
    assert _call(secure_app, path, _token(ec_key, aud=PUBLIC + path), feedback).status_code == 200


def _rejected_tokens(ec_key, rsa_key):
    now = int(time.time())
    good = {"aud": PUBLIC + GREETER}
    none_token = unsigned({"alg": "none", "kid": "k1"}, {"iss": ISS, **good, "exp": now + 60})
    return {
        "no token": None,
        "wrong aud": _token(ec_key, aud=PUBLIC + "/cds-services/other"),
        "wrong issuer": _token(ec_key, iss="https://evil.example/", **good),
        "unknown jku": _token(ec_key, headers={"jku": "https://evil.example/jwks"}, **good),
        "alg none": none_token,
        "expired": _token(ec_key, iat=now - 900, exp=now - 600, **good),
        "foreign key": _token(_ec_key(), **good),
        "HS256": jwt.encode(
            {"iss": ISS, **good, "iat": now, "exp": now + 60, "jti": "h"}, "k" * 32, "HS256"
        ),
    }


@pytest.mark.parametrize(
    "case",
    [
        "no token",
        "wrong aud",
        "wrong issuer",
        "unknown jku",
        "alg none",
        "expired",
        "foreign key",
        "HS256",
    ],
)
def test_app_rejects_with_401_and_audits_the_reason(secure_app, ec_key, rsa_key, caplog, case):
    token = _rejected_tokens(ec_key, rsa_key)[case]
    with caplog.at_level(logging.INFO):
        response = _call(secure_app, GREETER, token)
    _assert_bare_401(response)
    assert "client auth rejected: reason=" in caplog.text
    if token:
        assert token not in caplog.text


def test_app_rejects_a_replayed_token(secure_app, ec_key):
    token = _token(ec_key, aud=PUBLIC + GREETER)
    assert _call(secure_app, GREETER, token).status_code == 200
    _assert_bare_401(_call(secure_app, GREETER, token))


@pytest.mark.shared
def test_app_rejects_the_spec_example_token(make_app):
    if not SHARED_JWT.is_dir():
        pytest.skip(f"reference JWT files not found at {SHARED_JWT} (../shared is absent)")
    token = (SHARED_JWT / "spec-example-token.txt").read_text().strip()
    jwks = json.loads((SHARED_JWT / "jwks-public.json").read_text())
    app = make_app(
        AUTH_MODE="required",
        JWT_ISSUERS={"https://fhir-ehr.example.com/": {"keys": jwks["keys"]}},
        PUBLIC_BASE_URL="https://cds.example.org",
    )
    # (its aud names .../some-service, not this service: expiry or aud, it must be a bare 401)
    response = app.test_client().post(
        GREETER,
        json=HOOK_BODY,
        base_url="https://cds.example.org",
        headers={"Authorization": f"Bearer {token}"},
    )
    _assert_bare_401(response)


def test_discovery_is_open_unless_configured(secure_app, make_app, ec_key):
    assert _call(secure_app, "/cds-services", method="get", body=None).status_code == 200
    app = make_app(
        AUTH_MODE="required",
        AUTH_DISCOVERY=True,
        JWT_ISSUERS={ISS: {"keys": [public_jwk(ec_key, "k1", "ES384")]}},
        PUBLIC_BASE_URL=PUBLIC,
    )
    _assert_bare_401(_call(app, "/cds-services", method="get", body=None))
    token = _token(ec_key, aud=PUBLIC + "/cds-services")
    assert _call(app, "/cds-services", token, method="get", body=None).status_code == 200


def test_required_without_issuers_refuses_to_start(make_app):
    from cds_hooks.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match="JWT_ISSUERS"):
        make_app(AUTH_MODE="required")
    with pytest.raises(ConfigurationError, match="AUTH_MODE"):
        make_app(AUTH_MODE="sometimes")


def test_auth_off_logs_a_loud_warning(make_app, caplog):
    with caplog.at_level(logging.WARNING, logger="rair_cds.security"):
        app = make_app(AUTH_MODE="off")
    assert "AUTHENTICATION IS OFF" in caplog.text
    assert app.test_client().post(GREETER, json=HOOK_BODY).status_code == 200


def test_aud_without_public_base_url_is_the_request_url(make_app, ec_key):
    app = make_app(
        AUTH_MODE="required", JWT_ISSUERS={ISS: {"keys": [public_jwk(ec_key, "k1", "ES384")]}}
    )
    token = _token(ec_key, aud="https://cds.internal:8443" + GREETER)
    response = app.test_client().post(
        GREETER,
        json=HOOK_BODY,
        base_url="https://cds.internal:8443",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 200
