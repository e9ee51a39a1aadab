"""Red team: hostile bodies, bytes on the wire, and what error answers give away.

Flask test client for the parser and validators; the real waitress server (``live_server``) for
what only the wire shows: body size before the app sees it, chunked and slow bodies, the
``Server`` header, and concurrent feedback.
"""

from __future__ import annotations

import json
import logging
import socket
import sqlite3
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from conftest import http

GREETER = "/cds-services/toy-greeter"
FEEDBACK = GREETER + "/feedback"
HOOK = {
    "hook": "patient-view",
    "hookInstance": "7c0f4f3e-1111-4222-8333-444455556666",
    "context": {"userId": "Practitioner/example", "patientId": "p1"},
    "prefetch": {"patient": {"resourceType": "Patient", "id": "p1"}, "conditions": None},
}
LEAK_MARKERS = ("Traceback", 'File "', "site-packages", "/work/", "werkzeug", "waitress", "Python/")


def _raw_hook(extension_json):
    """The hook body as text, with ``extension`` spliced in verbatim (for non-JSON literals)."""
    text = json.dumps(HOOK)
    return (text[:-1] + ', "extension": ' + extension_json + "}").encode()


def _feedback(card=None, **changes):
    item = {
        "card": card if card is not None else str(uuid.uuid4()),
        "outcome": "overridden",
        "outcomeTimestamp": "2024-01-15T10:00:00Z",
    }
    item.update(changes)
    return {"feedback": [item]}


def _post_raw(client, path, raw, content_type="application/json"):
    return client.post(path, data=raw, content_type=content_type)


def _assert_no_leak(response):
    text = response.get_data(as_text=True)
    for marker in LEAK_MARKERS:
        assert marker not in text, (marker, text[:300])


# -- numbers and strings that JSON does not have -------------------------------------------


@pytest.mark.parametrize(
    "literal", ["NaN", "Infinity", "-Infinity", "1e999", "-1e999", '[1, {"x": NaN}]']
)
def test_non_finite_numbers_are_400_not_500(client, literal):
    """RFC 8259 has no NaN or Infinity; Python's parser accepts them, and a NaN that reaches a rule
    compares false with everything (or breaks the JSON answer: a 500)."""
    response = _post_raw(client, GREETER, _raw_hook('{"v": ' + literal + "}"))
    assert response.status_code == 400, response.get_data(as_text=True)
    assert "not valid JSON" in response.get_json()["issue"][0]["diagnostics"]


@pytest.mark.parametrize("literal", ["-0", "-0.0", "1e308", "1e-400", "12345678901234567890"])
def test_odd_but_finite_numbers_are_fine(client, literal):
    assert _post_raw(client, GREETER, _raw_hook('{"v": ' + literal + "}")).status_code == 200


def test_non_finite_number_in_a_fhir_response_makes_the_key_unavailable(make_app):
    import responses

    fhir = "https://ehr.example.org/fhir"
    body = dict(HOOK, fhirServer=fhir, prefetch={})
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.get(fhir + "/Patient/p1", body=b'{"resourceType": "Patient", "id": "p1", "x": NaN}')
        response = make_app().test_client().post(GREETER, json=body)
    assert response.status_code == 412
    assert "no JSON" in response.get_json()["issue"][0]["diagnostics"]


@pytest.mark.parametrize(
    ("path", "raw"),
    [
        (FEEDBACK, json.dumps(_feedback(card="CARD")).replace("CARD", "\\ud800").encode()),
        (
            FEEDBACK,
            json.dumps(_feedback(card="x", overrideReason={"userComment": "C"}))
            .replace('"C"', '"a\\udfffb"')
            .encode(),
        ),
        (FEEDBACK, b'{"\\udc00": 1, ' + json.dumps(_feedback())[1:].encode()),
        (GREETER, json.dumps(HOOK).replace(HOOK["hookInstance"], "\\ud83d").encode()),
    ],
    ids=["card", "comment", "member name", "hookInstance"],
)
def test_lone_surrogates_are_400_not_500(client, path, raw):
    """A lone UTF-16 surrogate is valid JSON syntax but not text: SQLite cannot encode it."""
    response = _post_raw(client, path, raw)
    assert response.status_code == 400, response.get_data(as_text=True)
    _assert_no_leak(response)


@pytest.mark.parametrize(
    "value", ["\\ud83d\\ude00", "a\\u0000b", "\\u202eevil", "\\ufeff", "\\u00e9\\u0301"]
)
def test_real_unicode_and_nul_are_stored(client, value):
    raw = json.dumps(_feedback(card="CARD")).replace("CARD", value).encode()
    assert _post_raw(client, FEEDBACK, raw).status_code == 200
    raw = json.dumps(HOOK).replace(HOOK["hookInstance"], value).encode()
    assert _post_raw(client, GREETER, raw).status_code == 200


def test_duplicate_keys_resolve_one_way_for_validator_and_guard(make_app):
    """Python keeps the last duplicate; the guard must judge the same value that is used."""
    import responses

    client = make_app().test_client()
    fhir, evil = "https://ehr.example.org/fhir", "https://evil.example/fhir"
    rest = json.dumps(dict(HOOK, prefetch={}))[1:]
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.get(fhir + "/Patient/p1", json={"resourceType": "Patient", "id": "p1"})
        mock.get(evil + "/Patient/p1", json={"resourceType": "Patient", "id": "p1"})
        good_last = f'{{"fhirServer": "{evil}", "fhirServer": "{fhir}", {rest}'.encode()
        evil_last = f'{{"fhirServer": "{fhir}", "fhirServer": "{evil}", {rest}'.encode()
        assert _post_raw(client, GREETER, good_last).status_code == 200
        assert _post_raw(client, GREETER, evil_last).status_code == 412
        assert all(c.request.url.startswith(fhir + "/") for c in mock.calls)


@pytest.mark.parametrize(
    "content_type",
    [
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "application/xml",
        "application/jsonp",
        "application/json-seq",
        "text/html",
    ],
)
def test_non_json_content_types_are_415(client, content_type):
    response = _post_raw(client, GREETER, json.dumps(HOOK).encode(), content_type)
    assert response.status_code == 415


@pytest.mark.parametrize(
    ("config", "raw"),
    [
        ({}, b'{"a":' * 70 + b"1" + b"}" * 70),
        ({}, json.dumps({"extension": {str(i): i for i in range(1001)}}).encode()),
        ({"MAX_JSON_STRING_LENGTH": 1000}, json.dumps({"x": "y" * 1001}).encode()),
        ({"MAX_JSON_NODES": 100}, json.dumps({"x": list(range(100))}).encode()),
        ({"MAX_CONTENT_LENGTH": 100}, json.dumps(HOOK).encode()),
    ],
    ids=["depth", "members", "string", "nodes", "bytes"],
)
def test_shape_bounds_are_413(make_app, config, raw):
    response = _post_raw(make_app(**config).test_client(), GREETER, raw)
    assert response.status_code == 413
    assert response.get_json()["issue"][0]["code"] == "too-long"


# -- reflected content and leaks in error answers ------------------------------------------


@pytest.mark.parametrize(
    ("path", "body"),
    [
        (GREETER, dict(HOOK, hook="<script>" + "A" * 100_000)),
        (GREETER, dict(HOOK, prefetch={"<img src=x>" + "K" * 100_000: 1})),
        ("/cds-services/" + "S" * 50_000, HOOK),
        (FEEDBACK, {"feedback": [{"card": "c", "outcome": "x" * 100_000}]}),
    ],
    ids=["hook", "prefetch key", "service id", "feedback"],
)
def test_error_answers_do_not_reflect_unbounded_input(client, path, body):
    response = client.post(path, json=body)
    assert 400 <= response.status_code < 500
    assert len(response.get_data()) < 2048, len(response.get_data())
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    _assert_no_leak(response)


def test_audit_line_is_bounded(client, caplog):
    caplog.set_level(logging.INFO, logger="rair_cds.audit")
    response = client.post(GREETER, json=dict(HOOK, hookInstance="H" * 1_000_000))
    assert response.status_code == 200
    (line,) = [r.getMessage() for r in caplog.records if r.name == "rair_cds.audit"]
    assert len(line) < 2048
    assert json.loads(line)["hookInstance"].startswith("HHHH")


def test_errors_never_carry_traces_tokens_or_internals(client):
    token = "fhir-token-must-not-echo"
    auth = {
        "access_token": token,
        "token_type": "Bearer",
        "expires_in": 1,
        "scope": "s",
        "subject": "u",
    }
    cases = [
        client.post("/cds-services/toy-raiser", json=HOOK),
        client.post(
            GREETER,
            json=dict(
                HOOK, fhirServer="https://evil.example/fhir", fhirAuthorization=auth, prefetch={}
            ),
        ),
        client.post(GREETER, data=b"\xff\xfe", content_type="application/json"),
        client.post(GREETER, data=b"{" * 10, content_type="application/json"),
        client.get(GREETER),
        client.put("/cds-services"),
        client.get("/nope/../../etc/passwd"),
    ]
    for response in cases:
        assert response.status_code >= 400
        assert response.get_json()["resourceType"] == "OperationOutcome"
        assert token not in response.get_data(as_text=True)
        assert "toy-secret-in-exception" not in response.get_data(as_text=True)
        _assert_no_leak(response)


# -- feedback: volume, odd items, timestamps ----------------------------------------------


def test_ten_thousand_feedback_items_are_stored_quickly_and_one_more_is_413(client):
    items = [
        {
            "card": str(uuid.uuid4()),
            "outcome": "accepted",
            "outcomeTimestamp": "2024-01-15T10:00:00Z",
            "acceptedSuggestions": [{"id": "s"}],
        }
        for _ in range(10_000)
    ]
    started = time.monotonic()
    assert client.post(FEEDBACK, json={"feedback": items}).status_code == 200
    assert time.monotonic() - started < 5
    items.append(items[0])
    assert client.post(FEEDBACK, json={"feedback": items}).status_code == 413


@pytest.mark.parametrize(
    ("changes", "status"),
    [
        ({"outcome": "accepted", "overrideReason": {"userComment": "x"}}, 400),
        ({"outcome": "overridden", "acceptedSuggestions": [{"id": "s"}]}, 400),
        ({"overrideReason": {"reason": {"code": ""}}}, 400),
        ({"overrideReason": {"reason": {"code": 1}}}, 400),
        ({"overrideReason": "because"}, 400),
        ({"outcomeTimestamp": "0001-01-01T00:00:00Z"}, 200),
        ({"outcomeTimestamp": "9999-12-31T23:59:59.999999Z"}, 200),
        ({"outcomeTimestamp": "0001-01-01T00:00:00+01:00"}, 400),
        ({"outcomeTimestamp": "9999-12-31T23:59:59-01:00"}, 400),
        ({"outcomeTimestamp": "2024-01-15T10:00:00"}, 400),
        ({"outcomeTimestamp": "2024-01-15"}, 400),
        ({"outcomeTimestamp": 1705312800}, 400),
        ({"outcomeTimestamp": "2024-01-15T10:00:00+25:00"}, 400),
        ({"card": ""}, 400),
        ({"card": ["x"]}, 400),
        ({"card": "unknown-card-" + "x" * 1000}, 200),
    ],
)
def test_odd_feedback_items(client, changes, status):
    response = client.post(FEEDBACK, json=_feedback(**changes))
    assert response.status_code == status, response.get_data(as_text=True)
    _assert_no_leak(response)


# -- on the wire: the real waitress server -------------------------------------------------


def _exchange(port, data, wait=3.0, chunks=()):
    """Send ``data`` (then ``chunks``), return (seconds until the answer, answer bytes)."""
    with socket.create_connection(("127.0.0.1", port), timeout=wait) as sock:
        started = time.monotonic()
        sock.sendall(data)
        for chunk in chunks:
            try:
                sock.sendall(chunk)
            except OSError:  # the server answered and closed: stop uploading
                break
        answer = b""
        try:
            while True:  # until the server closes (every exchange here ends with a close)
                more = sock.recv(65536)
                if not more:
                    break
                answer += more
        except (TimeoutError, ConnectionResetError):
            pass
        return time.monotonic() - started, answer


def _port(base_url):
    return int(base_url.rsplit(":", 1)[1])


@pytest.fixture
def small_server(make_app, live_server):
    return _port(live_server(make_app(MAX_CONTENT_LENGTH=4096)))


def test_oversized_declared_body_is_refused_before_it_is_read(small_server):
    head = (
        b"POST /cds-services/toy-greeter HTTP/1.1\r\nHost: x\r\n"
        b"Content-Type: application/json\r\nContent-Length: 100000000\r\n\r\n{"
    )
    seconds, answer = _exchange(small_server, head)
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert seconds < 2
    outcome = json.loads(answer.split(b"\r\n\r\n", 1)[1])  # waitress's own 413, as FHIR
    assert outcome["issue"][0]["code"] == "too-long"
    assert b"Content-Type: application/fhir+json" in answer


def test_oversized_chunked_body_is_refused_while_it_arrives(small_server):
    head = (
        b"POST /cds-services/toy-greeter HTTP/1.1\r\nHost: x\r\n"
        b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
    )
    chunk = b"400\r\n" + b" " * 1024 + b"\r\n"
    seconds, answer = _exchange(small_server, head, chunks=[chunk] * 8)  # no terminating chunk
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert seconds < 2


def test_chunked_body_within_the_limit_is_served(small_server):
    body = json.dumps(HOOK).encode()
    head = (
        b"POST /cds-services/toy-greeter HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
        b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
    )
    chunked = b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body)
    _, answer = _exchange(small_server, head + chunked)
    assert answer.startswith(b"HTTP/1.1 200"), answer[:200]


def test_slow_bodies_do_not_starve_the_workers(make_app, live_server):
    base = live_server(make_app())
    port = _port(base)
    slow = []
    try:
        for _ in range(12):  # more than the 4 worker threads
            sock = socket.create_connection(("127.0.0.1", port), timeout=5)
            sock.sendall(
                b"POST /cds-services/toy-greeter HTTP/1.1\r\nHost: x\r\n"
                b"Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"
            )
            slow.append(sock)
        started = time.monotonic()
        status, _, _ = http("POST", base + GREETER, HOOK)
        assert status == 200
        assert time.monotonic() - started < 2
    finally:
        for sock in slow:
            sock.close()


def test_server_header_names_no_product_or_version(make_app, live_server):
    base = live_server(make_app())
    for method, path, body in [
        ("GET", "/cds-services", None),
        ("POST", GREETER, {"x": 1}),
        ("GET", "/nope", None),
    ]:
        _, headers, _ = http(method, base + path, body)
        assert headers["Server"] == "rair-cds"
        assert "X-Powered-By" not in headers
    _, answer = _exchange(_port(base), b"GARBAGE\r\n\r\n")
    assert b"waitress" not in answer.lower() and b"python" not in answer.lower()
    assert json.loads(answer.split(b"\r\n\r\n", 1)[1])["resourceType"] == "OperationOutcome"


def test_concurrent_identical_feedback_is_stored_once(make_app, live_server, tmp_path):
    db = tmp_path / "concurrent.sqlite3"
    base = live_server(make_app(FEEDBACK_DB=str(db)))
    body = _feedback(overrideReason={"userComment": "same"})
    barrier = threading.Barrier(12)

    def send(_):
        barrier.wait()
        return http("POST", base + FEEDBACK, body)[0]

    with ThreadPoolExecutor(12) as pool:
        statuses = list(pool.map(send, range(12)))
    assert statuses == [200] * 12
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT COUNT(*) FROM feedback").fetchone()[0] == 1
