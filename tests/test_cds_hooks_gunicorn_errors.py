"""gunicorn's own error answers (before the app: a malformed request line or header, too long a
request line) are a FHIR OperationOutcome, as waitress's and the app's are; they never quote
what was sent (``cds_hooks.workers.OperationOutcomeWorker``)."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import textwrap
import time
import urllib.request

import pytest
from conftest import REPO_DIR
from redis_server import free_port

# a bare app, served by serve_workers exactly as `rair-cds serve --workers N` serves rair-cds
SCRIPT = textwrap.dedent(
    """
    import sys
    from flask import Flask
    from cds_hooks.workers import serve_workers

    def factory():
        app = Flask("bare")
        app.get("/healthz")(lambda: {"status": "ok"})
        return app

    serve_workers("127.0.0.1", int(sys.argv[1]), 1, 2, 10.0, factory=factory)
    """
)


@pytest.fixture(scope="module")
def gunicorn_port():
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-c", SCRIPT, str(port)], cwd=REPO_DIR,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        give_up = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2):
                    break
            except OSError:
                assert proc.poll() is None and time.monotonic() < give_up, "gunicorn did not start"
                time.sleep(0.2)
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _exchange(port: int, data: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(data)
        answer = b""
        while more := sock.recv(65536):
            answer += more
    return answer


@pytest.mark.parametrize(
    ("request_bytes", "status"),
    [
        (b"GARBAGE secret-token\r\n\r\n", 400),  # not a request line
        (b"GET /healthz HTTP/1.1\r\nHost: x\r\nBad Header secret-token\r\n\r\n", 400),
        (b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414),  # line too long
    ],
    ids=["request-line", "header", "uri-too-long"],
)
def test_gunicorn_errors_are_operation_outcomes(gunicorn_port, request_bytes, status):
    answer = _exchange(gunicorn_port, request_bytes)

    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 %d " % status), answer[:200]
    assert b"Content-Type: application/fhir+json" in head
    outcome = json.loads(body)
    assert outcome["resourceType"] == "OperationOutcome"
    assert outcome["issue"][0]["severity"] == "error"
    assert b"secret-token" not in answer and b"aaaa" not in answer  # nothing sent comes back
