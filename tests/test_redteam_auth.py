"""Red team: CDS Client JWT attacks against the real app (cds_hooks/client_auth.py, security.py).

Each case is one hostile token or header; every one must get the same bare 401, and no key set may
be fetched from a URL that is not on the issuer's allowlist. The few tokens that *should* pass
(aud as an array, lowercase ``bearer``, surrounding whitespace) are checked too.
"""

from __future__ import annotations

import json
import time
import uuid

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from jwt_helpers import JwksServer, b64, claims, hmac_signed, public_jwk, signed_token, unsigned

ISS = "https://ehr.example.org/"
PUBLIC = "https://cds.example.org"
GREETER = "/cds-services/toy-greeter"
AUD = PUBLIC + GREETER
BODY = {
    "hook": "patient-view",
    "hookInstance": "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea",
    "context": {"userId": "Practitioner/example", "patientId": "1288992"},
    "prefetch": {"patient": {"resourceType": "Patient", "id": "1288992"}, "conditions": None},
}
BARE_401 = {
    "resourceType": "OperationOutcome",
    "issue": [{"severity": "error", "code": "login", "diagnostics": "unauthorized"}],
}

KEY = ec.generate_private_key(ec.SECP384R1())
EVIL_KEY = ec.generate_private_key(ec.SECP384R1())


def _claims(**changes):
    return claims(**{"iss": ISS, "aud": AUD, **changes})


def _token(key=KEY, alg="ES384", headers=None, **changes):
    return signed_token(key, alg=alg, headers=headers, **{"iss": ISS, "aud": AUD, **changes})


def _signed(header, payload, key=KEY):
    """Sign any header (even one PyJWT would refuse to encode) with ES384."""
    signing_input = f"{b64(header)}.{b64(payload)}"
    signature = jwt.get_algorithm_by_name("ES384").sign(signing_input.encode(), key)
    return f"{signing_input}.{b64(signature)}"


@pytest.fixture
def jwks_pair():
    """(allowed, evil): the issuer's JWKS and an attacker's JWKS, both on loopback."""
    allowed, evil = JwksServer([public_jwk(KEY)]), JwksServer([public_jwk(EVIL_KEY)])
    yield allowed, evil
    allowed.close()
    evil.close()


@pytest.fixture
def secure_app(make_app):
    return make_app(
        AUTH_MODE="required", JWT_ISSUERS={ISS: {"keys": [public_jwk(KEY)]}}, PUBLIC_BASE_URL=PUBLIC
    )


def _post(app, token, path=GREETER, headers=None, base_url=PUBLIC, raw_auth=None):
    headers = dict(headers or {})
    if raw_auth is not None:
        headers["Authorization"] = raw_auth
    elif token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return app.test_client().post(path, json=BODY, base_url=base_url, headers=headers)


def _assert_bare_401(response):
    assert response.status_code == 401, response.get_data(as_text=True)
    assert response.get_json() == BARE_401
    assert response.headers["WWW-Authenticate"] == "Bearer"


# -- algorithm confusion and hostile headers -------------------------------------------------

PEM = KEY.public_key().public_bytes(
    serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
)


def _hs_with_public_key(alg, secret):
    return hmac_signed(alg, secret, {"alg": alg, "kid": "k1", "typ": "JWT"}, _claims())


HOSTILE_TOKENS = {
    "none": lambda: unsigned({"alg": "none", "kid": "k1"}, _claims()),
    "None": lambda: unsigned({"alg": "None", "kid": "k1"}, _claims()),
    "NONE with sig": lambda: unsigned({"alg": "NONE", "kid": "k1"}, _claims(), "AAAA"),
    "HS384 keyed with the PEM": lambda: _hs_with_public_key("HS384", PEM),
    "HS256 keyed with the JWK": lambda: _hs_with_public_key(
        "HS256", json.dumps(public_jwk(KEY)).encode()
    ),
    "ES256 not configured": lambda: jwt.encode(
        _claims(), ec.generate_private_key(ec.SECP256R1()), "ES256", headers={"kid": "k1"}
    ),
    "alg with space": lambda: unsigned({"alg": "ES384 ", "kid": "k1"}, _claims(), "AAAA"),
    "alg list": lambda: unsigned({"alg": ["ES384"], "kid": "k1"}, _claims(), "AAAA"),
    "embedded jwk": lambda: _token(EVIL_KEY, headers={"jwk": public_jwk(EVIL_KEY)}),
    "x5c": lambda: _token(EVIL_KEY, headers={"x5c": ["MIIB"]}),
    "x5u": lambda: _token(EVIL_KEY, headers={"x5u": "http://127.0.0.1:9/cert.pem"}),
    "crit": lambda: _token(headers={"crit": ["exp"], "exp": 1}),
    "b64 false": lambda: _token(headers={"b64": False, "crit": ["b64"]}),
    "typ JWE": lambda: _token(headers={"typ": "JWE"}),
    "kid traversal": lambda: _token(headers={"kid": "../../k1"}),
    "kid NUL": lambda: _token(headers={"kid": "k1\x00"}),
    "kid not a string": lambda: _signed({"alg": "ES384", "kid": 1}, _claims()),
    "kid missing": lambda: _signed({"alg": "ES384"}, _claims()),
    "kid SQL-ish": lambda: _token(headers={"kid": "k1' OR '1'='1"}),
    "foreign key, right kid": lambda: _token(EVIL_KEY),
    "signature stripped": lambda: _token().rsplit(".", 1)[0] + ".",
    "header not JSON": lambda: b64(b"{") + "." + b64(_claims()) + ".AAAA",
    "payload not an object": lambda: unsigned({"alg": "ES384", "kid": "k1"}, [1], "AAAA"),
    "two dots only": lambda: "..",
    "five segments (JWE)": lambda: "a.b.c.d.e",
}


@pytest.mark.parametrize("case", sorted(HOSTILE_TOKENS))
def test_hostile_token_headers_get_a_bare_401(secure_app, case):
    _assert_bare_401(_post(secure_app, HOSTILE_TOKENS[case]()))


# -- claims: time, audience, jti ---------------------------------------------------------------

NOW = int(time.time())
BAD_CLAIMS = {
    "exp infinite": {"exp": float("inf")},
    "exp NaN": {"exp": float("nan")},
    "exp string": {"exp": str(NOW + 100)},
    "exp huge": {"exp": 10**30},
    "exp negative": {"exp": -1, "iat": -10},
    "exp bool": {"exp": True},
    "exp missing": {"exp": None},
    "iat in the future": {"iat": NOW + 3600, "exp": NOW + 3700},
    "iat infinite": {"iat": float("inf")},
    "iat missing": {"iat": None},
    "nbf in the future": {"nbf": NOW + 600},
    "nbf infinite": {"nbf": float("inf")},
    "lifetime too long": {"iat": NOW - 10, "exp": NOW + 7200},
    "jti missing": {"jti": None},
    "jti number": {"jti": 12345},
    "jti empty": {"jti": ""},
    "jti too long": {"jti": "j" * 300},
    "aud trailing slash": {"aud": AUD + "/"},
    "aud other case": {"aud": AUD.upper()},
    "aud other host": {"aud": "https://cds.example.org.evil.example" + GREETER},
    "aud only the base": {"aud": PUBLIC},
    "aud feedback url": {"aud": AUD + "/feedback"},
    "aud list without it": {"aud": [PUBLIC, AUD + "/"]},
    "aud missing": {"aud": None},
    "aud object": {"aud": {"url": AUD}},
    "iss missing": {"iss": None},
    "iss other case": {"iss": ISS.upper()},
    "iss without slash": {"iss": ISS.rstrip("/")},
}


@pytest.mark.parametrize("case", sorted(BAD_CLAIMS))
def test_bad_claims_get_a_bare_401(secure_app, case):
    _assert_bare_401(_post(secure_app, _token(**BAD_CLAIMS[case])))


def test_aud_as_a_list_containing_the_url_is_accepted(secure_app):
    assert _post(secure_app, _token(aud=["https://other.example/x", AUD])).status_code == 200


@pytest.mark.parametrize(
    "authorization",
    ["bearer {t}", "BEARER {t}", "  Bearer   {t}  "],
)
def test_bearer_scheme_is_case_insensitive_and_whitespace_tolerant(secure_app, authorization):
    token = _token()
    response = _post(secure_app, None, raw_auth=authorization.format(t=token))
    assert response.status_code == 200


@pytest.mark.parametrize(
    "authorization",
    [
        "Bearer\t{t}",
        "Basic {t}",
        "{t}",
        "Bearer {t} extra",
        "Bearer {t}, Bearer {t}",
        "Bearer " + "A" * 20_000,
        "Bearer {t}" + "A" * 20_000,
        "Bearer",
        "",
    ],
)
def test_malformed_authorization_headers_get_a_bare_401(secure_app, authorization):
    response = _post(secure_app, None, raw_auth=authorization.format(t=_token()))
    _assert_bare_401(response)


def test_a_replayed_jti_is_refused_on_every_endpoint(make_app):
    app = make_app(
        AUTH_MODE="required",
        AUTH_DISCOVERY=True,
        JWT_ISSUERS={ISS: {"keys": [public_jwk(KEY)]}},
        PUBLIC_BASE_URL=PUBLIC,
    )
    client = app.test_client()
    jti = str(uuid.uuid4())
    discovery = _token(aud=PUBLIC + "/cds-services", jti=jti)
    assert (
        client.get(
            "/cds-services", base_url=PUBLIC, headers={"Authorization": f"Bearer {discovery}"}
        ).status_code
        == 200
    )
    # the same jti again, on discovery, then on a hook (with a hook aud): refused both times
    _assert_bare_401(
        client.get(
            "/cds-services", base_url=PUBLIC, headers={"Authorization": f"Bearer {discovery}"}
        )
    )
    _assert_bare_401(_post(app, _token(jti=jti)))
    # a discovery token is not a hook token (aud), and a refused token does not burn its jti
    fresh = str(uuid.uuid4())
    _assert_bare_401(_post(app, _token(aud=PUBLIC + "/cds-services", jti=fresh)))
    assert _post(app, _token(jti=fresh)).status_code == 200


# -- Host header spoofing and aud ------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        {"Host": "evil.example"},
        {"X-Forwarded-Host": "evil.example", "X-Forwarded-Proto": "http"},
        {"Forwarded": "host=evil.example;proto=http"},
    ],
)
def test_with_public_base_url_the_host_header_cannot_pick_the_audience(secure_app, headers):
    # a token minted for the spoofed host is refused ...
    spoofed = _token(aud="http://evil.example" + GREETER)
    _assert_bare_401(_post(secure_app, spoofed, headers=headers, base_url="http://evil.example"))
    # ... and the genuine one still works whatever the headers say
    assert _post(secure_app, _token(), headers=headers).status_code == 200


def test_without_public_base_url_forwarding_headers_are_ignored(make_app):
    app = make_app(AUTH_MODE="required", JWT_ISSUERS={ISS: {"keys": [public_jwk(KEY)]}})
    forged = {"X-Forwarded-Host": "cds.example.org", "X-Forwarded-Proto": "https"}
    response = _post(app, _token(), headers=forged, base_url="http://internal:8080")
    _assert_bare_401(response)
    token = _token(aud="http://internal:8080" + GREETER)
    assert _post(app, token, base_url="http://internal:8080").status_code == 200


# -- jku: only the exact allowlisted URL is ever fetched ----------------------------------------


def _jku_variants(allowed, evil):
    port = allowed.port
    return {
        "other loopback server": evil.url,
        "userinfo": f"http://127.0.0.1:{port}@127.0.0.1:{evil.port}/jwks.json",
        "allowed as userinfo": f"http://{allowed.url[7:]}@127.0.0.1:{evil.port}/",
        "trailing dot": f"http://127.0.0.1.:{port}/jwks.json",
        "upper-case scheme": allowed.url.replace("http://", "HTTP://"),
        "localhost spelling": f"http://localhost:{port}/jwks.json",
        "encoded path": allowed.url.replace(".json", "%2Ejson"),
        "extra query": allowed.url + "?x=1",
        "fragment": allowed.url + "#k",
        "trailing slash": allowed.url + "/",
        "dot segment": f"http://127.0.0.1:{port}/x/../jwks.json",
        "single-dot segment": f"http://127.0.0.1:{port}/./jwks.json",
        "list": [allowed.url],
        "object": {"url": allowed.url},
    }


@pytest.mark.parametrize(
    "case",
    [
        "other loopback server",
        "userinfo",
        "allowed as userinfo",
        "trailing dot",
        "upper-case scheme",
        "localhost spelling",
        "encoded path",
        "extra query",
        "fragment",
        "trailing slash",
        "dot segment",
        "single-dot segment",
        "list",
        "object",
    ],
)
def test_jku_tricks_are_refused_and_never_fetched(make_app, jwks_pair, case):
    allowed, evil = jwks_pair
    app = make_app(
        AUTH_MODE="required",
        JWT_ISSUERS={ISS: {"jku_allowlist": [allowed.url]}},
        JWKS_ALLOW_HTTP=True,
        PUBLIC_BASE_URL=PUBLIC,
    )
    jku = _jku_variants(allowed, evil)[case]
    _assert_bare_401(_post(app, _token(EVIL_KEY, headers={"jku": jku})))
    assert (allowed.hits, evil.hits) == (0, 0)


def test_allowed_jku_redirecting_elsewhere_is_not_followed(make_app, jwks_pair):
    allowed, evil = jwks_pair
    allowed.redirect_to = evil.url
    app = make_app(
        AUTH_MODE="required",
        JWT_ISSUERS={ISS: {"jku_allowlist": [allowed.url]}},
        JWKS_ALLOW_HTTP=True,
        PUBLIC_BASE_URL=PUBLIC,
    )
    _assert_bare_401(_post(app, _token(EVIL_KEY, headers={"jku": allowed.url})))
    assert allowed.hits == 1 and evil.hits == 0


def test_allowed_jku_serves_the_key(make_app, jwks_pair):
    allowed, evil = jwks_pair
    app = make_app(
        AUTH_MODE="required",
        JWT_ISSUERS={ISS: {"jku_allowlist": [allowed.url]}},
        JWKS_ALLOW_HTTP=True,
        PUBLIC_BASE_URL=PUBLIC,
    )
    assert _post(app, _token(headers={"jku": allowed.url})).status_code == 200
    # an unknown kid refetches at most once per JWKS_MIN_REFETCH_SECONDS: no fetch storm
    for _ in range(5):
        _assert_bare_401(_post(app, _token(headers={"jku": allowed.url, "kid": "nope"})))
    assert allowed.hits == 1 and evil.hits == 0


def test_https_jwks_url_with_http_jku_on_loopback_is_refused(make_app, jwks_pair):
    allowed, _ = jwks_pair
    app = make_app(
        AUTH_MODE="required",
        JWT_ISSUERS={ISS: {"jku_allowlist": [allowed.url]}},
        PUBLIC_BASE_URL=PUBLIC,  # JWKS_ALLOW_HTTP off: http is never fetched, even if listed
    )
    _assert_bare_401(_post(app, _token(headers={"jku": allowed.url})))
    assert allowed.hits == 0


# -- unauthenticated callers learn nothing ---------------------------------------------------


@pytest.mark.parametrize("path", ["/cds-services/no-such-service", "/cds-services/x/feedback"])
def test_unknown_service_is_a_bare_401_before_authentication(secure_app, path):
    """A 404 to an anonymous caller would reveal which service ids exist (AUTH_DISCOVERY)."""
    _assert_bare_401(_post(secure_app, None, path=path))


def test_cors_preflight_of_protected_discovery_is_not_401(make_app):
    """Browsers send the preflight without credentials; a 401 there breaks every browser client."""
    app = make_app(
        AUTH_MODE="required",
        AUTH_DISCOVERY=True,
        JWT_ISSUERS={ISS: {"keys": [public_jwk(KEY)]}},
        PUBLIC_BASE_URL=PUBLIC,
    )
    response = app.test_client().options(
        "/cds-services",
        base_url=PUBLIC,
        headers={
            "Origin": "https://sandbox.example",
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "authorization",
        },
    )
    assert response.status_code in (200, 204)
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert not response.get_data()  # no service list to an anonymous caller
    _assert_bare_401(app.test_client().get("/cds-services", base_url=PUBLIC))
    assert app.test_client().head("/cds-services", base_url=PUBLIC).status_code == 401
