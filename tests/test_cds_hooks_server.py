"""The waitress server stops cleanly, even with clients holding keep-alive connections.

The old ``live_server`` teardown called ``server.close()`` from the test thread while the loop
thread was in ``select()``; with a keep-alive client the loop then failed intermittently with
``OSError: [Errno 9] Bad file descriptor`` (16 of 40 runs when measured), and the client's
channel stayed open. :class:`cds_hooks.server.BackgroundServer` closes every socket on the loop's
own thread after the loop has returned.
"""

from __future__ import annotations

import gc
import http.client
import socket
import threading
import time
import warnings

import pytest

from cds_hooks.server import BackgroundServer, create_server, shutdown, socket_map

pytestmark = pytest.mark.e2e


def _server(app):
    return create_server(app, host="127.0.0.1", port=0, threads=4, asyncore_loop_timeout=0.05)


def _keep_alive_client(running):
    port = running.server.effective_port
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", "/healthz")  # HTTP/1.1: the connection stays open afterwards
    response = conn.getresponse()
    assert response.status == 200 and response.getheader("Connection") != "close"
    response.read()
    return conn


@pytest.mark.parametrize("round_", range(8))
def test_start_stop_with_an_open_keep_alive_connection(app, round_):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        running = BackgroundServer(_server(app)).start()
        conn = _keep_alive_client(running)
        idle = socket.create_connection(("127.0.0.1", running.server.effective_port))
        idle.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")  # a request cut short
        time.sleep(0.02)
        started = time.monotonic()
        running.stop()
        elapsed = time.monotonic() - started

        assert running.error is None
        assert not running._thread.is_alive()
        assert socket_map(running.server) == {}, "every channel and the listener are closed"
        assert elapsed < 5
        # the client sees the connection closed rather than hanging
        idle.settimeout(5)
        assert idle.recv(1024) == b""
        idle.close()
        conn.close()
        gc.collect()
    assert [w for w in caught if issubclass(w.category, ResourceWarning)] == []


def test_stop_is_idempotent_and_works_without_start(app):
    running = BackgroundServer(_server(app))
    running.stop()
    running.stop()
    assert socket_map(running.server) == {}

    with BackgroundServer(_server(app)) as running:
        _keep_alive_client(running).close()
    running.stop()
    assert running.error is None


def test_in_flight_request_completes_before_the_server_stops(make_app):
    app = make_app(DEADLINE_SECONDS=5, TOY_SLEEP_SECONDS=0.3)
    running = BackgroundServer(_server(app)).start()
    port = running.server.effective_port
    result = {}

    def call():
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        body = (
            '{"hook":"patient-view","hookInstance":"i","context":'
            '{"patientId":"p1","userId":"Practitioner/1"}}'
        )
        conn.request(
            "POST", "/cds-services/toy-sleeper", body, {"Content-Type": "application/json"}
        )
        response = conn.getresponse()
        result["status"] = response.status
        result["body"] = response.read()
        conn.close()

    client = threading.Thread(target=call)
    client.start()
    time.sleep(0.1)  # the request is being evaluated
    running.stop()
    client.join(10)
    assert result.get("status") == 200, result
    assert b"Woke up" in result["body"]


def test_shutdown_closes_client_channels_that_close_alone_leaves_open(app):
    """Control, single-threaded: waitress's ``close()`` leaves a keep-alive channel open."""
    from waitress import wasyncore

    server = _server(app)
    client = socket.create_connection(("127.0.0.1", server.effective_port))
    deadline = time.monotonic() + 5
    while not any(type(c).__name__ == "HTTPChannel" for c in socket_map(server).values()):
        assert time.monotonic() < deadline
        wasyncore.loop(timeout=0.05, map=socket_map(server), count=1)  # accept, in this thread

    server.close()  # what the old fixture did: listener and trigger only
    left = [c for c in socket_map(server).values() if type(c).__name__ == "HTTPChannel"]
    assert left, "the client channel is still open after close()"

    shutdown(server)
    assert socket_map(server) == {}
    client.close()
