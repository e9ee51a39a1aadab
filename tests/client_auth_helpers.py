"""Keys, tokens and fixtures shared by the CDS Client JWT tests
(tests/test_cds_hooks_client_auth*.py); conftest.py imports the fixtures (``ec_key``, ``rsa_key``,
``static_auth``, ``jwks_server``)."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt_helpers import JwksServer, public_jwk, signed_token

from cds_hooks.client_auth import ClientAuthenticator, ClientAuthError

ISS = "https://ehr.example.org/"
AUD = "https://cds.example.org/cds-services/rair-patient-view"
SHARED_JWT = Path(__file__).resolve().parents[2] / "shared" / "cds-hooks-schemas" / "jwt"


# -- keys and tokens ------------------------------------------------------------------------


def new_ec_key():
    return ec.generate_private_key(ec.SECP384R1())


def new_rsa_key(bits=2048):
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


def signed(private_key, alg="ES384", kid="k1", headers=None, **claims):
    claims = {"iss": ISS, "aud": AUD, **claims}
    return signed_token(private_key, alg=alg, kid=kid, headers=headers, **claims)


def bearer(token):
    return f"Bearer {token}"


@pytest.fixture(scope="module")
def ec_key():
    return new_ec_key()


@pytest.fixture(scope="module")
def rsa_key():
    return new_rsa_key()


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


def remote_auth(jwks_server, **issuer):
    entry = {"jwks_url": jwks_server.url, **issuer}
    return ClientAuthenticator.from_config(
        {"JWT_ISSUERS": {ISS: entry}, "JWKS_ALLOW_HTTP": True, "JWKS_MIN_REFETCH_SECONDS": 30}
    )


def rejects(auth, header, audience=AUD, match=None):
    with pytest.raises(ClientAuthError) as info:
        auth.authenticate(header, audience)
    assert info.value.status_code == 401
    assert info.value.public_message == "unauthorized"
    if match:
        assert match in info.value.reason
    return info.value
