"""CDS Client JWT verification through the app: the endpoints answer 401 with a bare
OperationOutcome, audit the reason, and discovery stays open unless configured."""

from __future__ import annotations

import json
import logging
import time
import uuid

import jwt
import pytest
from client_auth_helpers import ISS, SHARED_JWT, new_ec_key, signed
from jwt_helpers import public_jwk, unsigned

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
    token = signed(ec_key, aud=PUBLIC + GREETER)
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
    _assert_bare_401(_call(secure_app, path, signed(ec_key, aud=PUBLIC + GREETER), feedback))
    assert _call(secure_app, path, signed(ec_key, aud=PUBLIC + path), feedback).status_code == 200


def _rejected_tokens(ec_key, rsa_key):
    now = int(time.time())
    good = {"aud": PUBLIC + GREETER}
    none_token = unsigned({"alg": "none", "kid": "k1"}, {"iss": ISS, **good, "exp": now + 60})
    return {
        "no token": None,
        "wrong aud": signed(ec_key, aud=PUBLIC + "/cds-services/other"),
        "wrong issuer": signed(ec_key, iss="https://evil.example/", **good),
        "unknown jku": signed(ec_key, headers={"jku": "https://evil.example/jwks"}, **good),
        "alg none": none_token,
        "expired": signed(ec_key, iat=now - 900, exp=now - 600, **good),
        "foreign key": signed(new_ec_key(), **good),
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
    token = signed(ec_key, aud=PUBLIC + GREETER)
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
    token = signed(ec_key, aud=PUBLIC + "/cds-services")
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
    token = signed(ec_key, aud="https://cds.internal:8443" + GREETER)
    response = app.test_client().post(
        GREETER,
        json=HOOK_BODY,
        base_url="https://cds.internal:8443",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 200
