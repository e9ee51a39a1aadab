"""CDS Client JWT verification: every token that must be refused (claims, headers, algorithms,
keys, replay, JWKS fetching), as ClientAuthError."""

from __future__ import annotations

import json
import time

import jwt
import pytest
from client_auth_helpers import (
    AUD,
    ISS,
    SHARED_JWT,
    bearer,
    new_ec_key,
    new_rsa_key,
    rejects,
    remote_auth,
    signed,
)
from cryptography.hazmat.primitives import serialization
from jwt_helpers import b64, hmac_signed, public_jwk, unsigned

from cds_hooks.client_auth import ClientAuthenticator, ClientAuthError
from cds_hooks.client_auth_config import ClientAuthConfigError, parse_issuers

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
        auth.authenticate(bearer(token), payload["aud"])


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
    rejects(static_auth, bearer(signed(ec_key, **claims)), match=match)


def test_missing_or_malformed_header_is_rejected(static_auth):
    for header in (None, "", "Basic abc", "Bearer", "Bearer not.a.jwt", "Bearer " + "a" * 20000):
        rejects(static_auth, header)


def test_unknown_jku_is_rejected_and_never_fetched(jwks_server, ec_key):
    jwks_server.keys = [public_jwk(ec_key, "k1", "ES384")]
    auth = ClientAuthenticator.from_config(
        {
            "JWT_ISSUERS": {ISS: {"keys": [public_jwk(ec_key, "k1", "ES384")]}},
            "JWKS_ALLOW_HTTP": True,
        }
    )
    token = signed(ec_key, headers={"jku": jwks_server.url})
    rejects(auth, bearer(token), match="jku not allowlisted")
    assert jwks_server.hits == 0


def test_alg_none_is_rejected(static_auth):
    now = int(time.time())
    payload = {"iss": ISS, "aud": AUD, "iat": now, "exp": now + 60, "jti": "x", "tenant": "t-1"}
    token = unsigned({"alg": "none", "typ": "JWT", "kid": "k1"}, payload)
    rejects(static_auth, bearer(token), match="algorithm not allowed")


def test_hs256_signed_with_the_public_key_is_rejected(static_auth, rsa_key):
    # the classic algorithm-confusion attack: HMAC keyed with the (public) RSA key bytes
    public_pem = rsa_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    now = int(time.time())
    payload = {"iss": ISS, "aud": AUD, "iat": now, "exp": now + 60, "jti": "x", "tenant": "t-1"}
    token = hmac_signed("HS256", public_pem, {"alg": "HS256", "typ": "JWT", "kid": "r1"}, payload)
    rejects(static_auth, bearer(token), match="algorithm not allowed")


def test_hmac_and_none_cannot_be_configured():
    issuers = {ISS: {"jwks_url": "https://ehr.example.org/jwks"}}
    for alg in ("HS256", "HS384", "none", "EdDSA"):
        with pytest.raises(ClientAuthConfigError):
            ClientAuthenticator.from_config({"JWT_ISSUERS": issuers, "JWT_ALGORITHMS": [alg]})
    with pytest.raises(ClientAuthConfigError):  # symmetric keys are not keys we accept
        parse_issuers({ISS: {"keys": [{"kty": "oct", "kid": "s", "k": "c2VjcmV0"}]}})


def test_replayed_jti_is_rejected(static_auth, ec_key):
    token = signed(ec_key, tenant="t-1")
    static_auth.authenticate(bearer(token), AUD)
    rejects(static_auth, bearer(token), match="replayed")


def test_bad_signature_and_wrong_key_are_rejected(static_auth, ec_key):
    stranger = new_ec_key()
    rejects(static_auth, bearer(signed(stranger, tenant="t-1")), match="InvalidSignature")
    token = signed(ec_key, tenant="t-1")
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
    rejects(static_auth, bearer(tampered), match="InvalidSignature")


def test_key_type_must_match_alg(static_auth, ec_key):
    # an ES384 token naming the RSA key's kid
    rejects(static_auth, bearer(signed(ec_key, kid="r1", tenant="t-1")), match="key")


def test_unknown_kid_and_missing_kid_are_rejected(static_auth, ec_key):
    rejects(static_auth, bearer(signed(ec_key, kid="zz", tenant="t-1")), match="unknown kid")
    payload = {
        "iss": ISS,
        "aud": AUD,
        "iat": int(time.time()),
        "exp": int(time.time()) + 60,
        "jti": "j",
    }
    rejects(static_auth, bearer(jwt.encode(payload, ec_key, algorithm="ES384")), match="no kid")


def test_short_rsa_key_is_rejected():
    weak = new_rsa_key(1024)
    auth = ClientAuthenticator.from_config(
        {"JWT_ISSUERS": {ISS: {"keys": [public_jwk(weak, "w", "RS384")]}}}
    )
    with pytest.warns(jwt.warnings.InsecureKeyLengthWarning):  # PyJWT warns when *we* sign with it
        token = signed(weak, "RS384", "w")
    rejects(auth, bearer(token), match="InvalidKey")


def test_jwks_redirect_is_not_followed(jwks_server, ec_key):
    jwks_server.redirect_to = "http://127.0.0.1:9/evil.json"
    auth = remote_auth(jwks_server)
    rejects(auth, bearer(signed(ec_key)), match="JWKS unavailable")


def test_http_jwks_url_refused_unless_allowed(jwks_server, ec_key):
    jwks_server.keys = [public_jwk(ec_key, "k1", "ES384")]
    auth = ClientAuthenticator.from_config({"JWT_ISSUERS": {ISS: {"jwks_url": jwks_server.url}}})
    rejects(auth, bearer(signed(ec_key)), match="must be https")
    assert jwks_server.hits == 0
