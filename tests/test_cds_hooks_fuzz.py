"""Property-based and fuzz tests of the whole HTTP surface (hypothesis + the Flask test client).

Over request bodies, prefetch contents, FHIR server answers and Authorization headers, the
service always answers 200 with a schema-valid body or a 4xx OperationOutcome: never a 500,
never a crash, and never the EHR's FHIR token or the client's JWT in a body or a log line.

Authentication is on (``AUTH_MODE=required``, a test ES384 issuer) and the FHIR guard allows one
base URL, so the security paths are exercised too. The real plugins (``plugin.thyroid``) are used
when they load; otherwise the protocol tests' toy plugin. Example counts are kept small for CI.
The setup is in ``fuzz_helpers.py``, the strategies in ``fuzz_strategies.py``."""

from __future__ import annotations

import json
import re
import time
import uuid

import jwt
import pytest
import responses
from conftest import TOY_PLUGIN, assert_operation_outcome
from fuzz_helpers import (
    EHR_TOKEN,
    EVIL,
    FHIR,
    FUZZ,
    IN_CI,
    ISS,
    KEY,
    OK_STATUSES,
    PUBLIC,
    build_secure_app,
    captured_logs,
    check_answer,
    no_secret_in_logs,
    sign,
)
from fuzz_strategies import bundles, fhir_resources, hook_bodies, json_values
from hypothesis import example, given
from hypothesis import strategies as st


@pytest.fixture
def logs():
    with captured_logs() as handler:
        yield handler


@pytest.fixture
def secure_app(make_app):
    return build_secure_app(make_app)


@pytest.fixture
def services(secure_app):
    return [
        d for d in secure_app.extensions["rair_cds"].registry.definitions() if d.id != "toy-sleeper"
    ]


# -- the properties --------------------------------------------------------------------------


@pytest.mark.skipif(IN_CI, reason="explores new inputs only outside CI; CI replays the fixed "
                    "hook-call corpus of test_cds_hooks_fuzz_corpus.py")
@FUZZ
@given(data=st.data())
def test_hook_calls_never_fail_or_leak(secure_app, services, assert_valid_response, logs, data):
    definition, body = data.draw(hook_bodies(services))
    fhir_answers = data.draw(
        st.lists(fhir_resources | bundles | json_values, min_size=1, max_size=3)
    )
    statuses = data.draw(
        st.lists(st.sampled_from([200, 200, 404, 500, 302]), min_size=1, max_size=3)
    )
    calls = []

    def answer(request):
        calls.append((request.url, request.headers.get("Authorization")))
        i = len(calls) - 1
        status = statuses[i % len(statuses)]
        headers = {"Location": EVIL + "/stolen"} if status == 302 else {}
        return status, headers, json.dumps(fhir_answers[i % len(fhir_answers)])

    path = f"/cds-services/{definition.id}"
    token = sign(path)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.add_callback(responses.GET, re.compile(r".*"), callback=answer)
        response = secure_app.test_client().post(
            path, json=body, base_url=PUBLIC, headers={"Authorization": f"Bearer {token}"}
        )
    check_answer(response, assert_valid_response, (EHR_TOKEN, token))
    for url, authorization in calls:
        assert url.startswith(FHIR + "/") or url == FHIR, f"FHIR read outside the allowlist: {url}"
        assert authorization in (None, f"Bearer {EHR_TOKEN}")
    no_secret_in_logs(logs, EHR_TOKEN, token)


@FUZZ
@given(body=json_values)
@example(body=None)
@example(body=[])
@example(body="\u0000")
@example(body={"hook": "patient-view", "hookInstance": "\u0000", "context": {}})
@example(body={"hook": "patient-view", "context": {"patientId": "\u0000"}, "prefetch": {
    "conditions": {"resourceType": "Condition", "id": "\u0000"}}})
@example(body={"hook": "patient-view", "prefetch": {"patient": {"resourceType": "Patient",
                                                                "id": "p", "birthDate": 2**70}}})
@example(body={"hook": ["patient-view"], "context": [], "prefetch": []})
@example(body={"": {"": {"": [1.5e308, -0.0, True, None]}}})
def test_arbitrary_json_bodies_answer_4xx_or_200(secure_app, services, assert_valid_response, body):
    client = secure_app.test_client()
    for definition in services[:2]:
        path = f"/cds-services/{definition.id}"
        for suffix in ("", "/feedback"):
            response = client.post(
                path + suffix,
                data=json.dumps(body),
                content_type="application/json",
                base_url=PUBLIC,
                headers={"Authorization": f"Bearer {sign(path + suffix)}"},
            )
            assert response.status_code != 500
            if suffix:
                assert response.status_code in OK_STATUSES
                if response.status_code != 200:
                    assert_operation_outcome(response.get_json())
            else:
                check_answer(response, assert_valid_response)


@FUZZ
@given(raw=st.binary(max_size=200), header=st.text(max_size=60))
@example(raw=b"", header="")
@example(raw=b"\x00", header="Bearer \x00")
@example(raw=b'{"hook": "patient-view"', header="Bearer")
@example(raw=b'"\\ud800"', header="Basic " + "A" * 50)
@example(raw=b"\xef\xbb\xbf{}", header="bearer x.y.z")
@example(raw=b"NaN", header="Bearer \r\nX-Injected: 1")
def test_garbage_bytes_and_headers_never_crash(secure_app, services, logs, raw, header):
    path = f"/cds-services/{services[0].id}"
    client = secure_app.test_client()
    response = client.post(
        path,
        data=raw,
        content_type="application/json",
        base_url=PUBLIC,
        headers={"Authorization": f"Bearer {sign(path)}"},
    )
    assert response.status_code in (400, 413), response.get_data(as_text=True)
    assert_operation_outcome(response.get_json())
    try:
        headers = {"Authorization": header}
        response = client.post(path, data=raw, base_url=PUBLIC, headers=headers)
    except ValueError:  # werkzeug refuses header values with newlines before we see them
        return
    assert response.status_code == 401
    issue = assert_operation_outcome(response.get_json(), code="login")
    assert issue["diagnostics"] == "unauthorized"
    assert response.headers["WWW-Authenticate"] == "Bearer"
    if len(header) > 8:
        no_secret_in_logs(logs, header)


@FUZZ
@given(
    claims=st.dictionaries(
        st.sampled_from(["iss", "aud", "exp", "iat", "nbf", "jti", "tenant", "sub"]),
        json_values,
        max_size=4,
    )
)
@example(claims={})
@example(claims={"exp": "tomorrow"})
@example(claims={"iss": None, "aud": []})
@example(claims={"nbf": 2**70, "iat": -1})
@example(claims={"jti": "\u0000", "tenant": {"a": [1]}})
@example(claims={"aud": "https://evil.example/cds-services/x", "sub": "\ud800"})
def test_tampered_claims_are_401_never_500(secure_app, services, claims):
    path = f"/cds-services/{services[0].id}"
    now = int(time.time())
    payload = {
        "iss": ISS,
        "aud": PUBLIC + path,
        "iat": now,
        "exp": now + 60,
        "jti": uuid.uuid4().hex,
    }
    payload.update(claims)
    try:
        token = jwt.encode(payload, KEY, algorithm="ES384", headers={"kid": "fuzz"})
    except (TypeError, ValueError):
        return
    response = secure_app.test_client().post(
        path, json={}, base_url=PUBLIC, headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code in (400, 401), response.get_data(as_text=True)
    assert_operation_outcome(response.get_json())


# -- the bounds, deterministically -----------------------------------------------------------


def _post(app, path, raw):
    return app.test_client().post(
        path,
        data=raw,
        content_type="application/json",
        base_url=PUBLIC,
        headers={"Authorization": f"Bearer {sign(path)}"},
    )


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        (b"[" * 100_000 + b"]" * 100_000, 413),  # exhausts a recursive parser
        (b'{"a":' * 200 + b"1" + b"}" * 200, 413),  # deeper than MAX_JSON_DEPTH
        (b"1" * 5000, 400),  # int digit limit: a ValueError that is not a JSONDecodeError
        (b"\xff\xfe\x00garbage", 400),
        (json.dumps({"x": list(range(20_000))}).encode(), 413),
        (
            json.dumps(
                {"hook": "patient-view", "prefetch": {str(i): None for i in range(100)}}
            ).encode(),
            413,
        ),
    ],
)
def test_hostile_bodies_are_bounded(secure_app, services, raw, status):
    response = _post(secure_app, f"/cds-services/{services[0].id}", raw)
    assert response.status_code == status
    assert_operation_outcome(response.get_json())


def test_oversized_body_is_413(make_app, services):
    app = make_app(
        AUTH_MODE="off", MAX_CONTENT_LENGTH=1024, PLUGINS=[TOY_PLUGIN], FHIR_SERVER_ALLOWLIST=[FHIR]
    )
    response = app.test_client().post("/cds-services/toy-greeter", data=b"{" + b" " * 5000 + b"}")
    assert response.status_code == 413
    assert_operation_outcome(response.get_json(), code="too-long")


def test_oversized_fhir_response_makes_the_key_unavailable(make_app):
    app = make_app(
        AUTH_MODE="off",
        PLUGINS=[TOY_PLUGIN],
        FHIR_SERVER_ALLOWLIST=[FHIR],
        MAX_FHIR_RESPONSE_BYTES=2048,
    )
    body = {
        "hook": "patient-view",
        "hookInstance": str(uuid.uuid4()),
        "fhirServer": FHIR,
        "fhirAuthorization": {
            "access_token": EHR_TOKEN,
            "token_type": "Bearer",
            "expires_in": 300,
            "scope": "user/*.read",
            "subject": "rair-cds",
        },
        "context": {"userId": "Practitioner/example", "patientId": "1288992"},
    }
    huge = {"resourceType": "Patient", "id": "1288992", "text": {"div": "x" * 10_000}}
    deep = {"resourceType": "Patient", "id": "1288992", "x": json.loads("[" * 500 + "]" * 500)}
    for resource in (huge, deep):
        with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
            mock.get(re.compile(r".*"), json=resource)
            response = app.test_client().post("/cds-services/toy-greeter", json=body)
        assert response.status_code == 412
        assert_operation_outcome(response.get_json())
