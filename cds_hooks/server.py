"""Serving the app with waitress (never Flask's development server).

:func:`create_server` binds a waitress server; :func:`serve` runs it in the foreground;
:class:`BackgroundServer` runs it on a thread and stops it cleanly (tests, benchmarks).

Stopping waitress cleanly needs more than ``server.close()``: that closes only the listening
socket and the trigger, while the event loop may still be in ``select()`` over them and over
keep-alive client connections, which then fail with ``OSError: [Errno 9] Bad file descriptor``
or are left open (``ResourceWarning``). So :func:`shutdown` stops the worker threads and closes
*every* socket in the server's map, and :class:`BackgroundServer` does that on the loop's own
thread after the loop has returned, so that no ``select()`` ever sees a closed descriptor.
"""

from __future__ import annotations

import gc
import json
import logging
import signal
import threading
from typing import Any

from flask import Flask
from waitress import channel as waitress_channel
from waitress import wasyncore
from waitress.server import create_server as _waitress_server
from waitress.task import ErrorTask

from cds_hooks.errors import ConfigurationError, operation_outcome
from cds_hooks.http_errors import FHIR_JSON, issue_code_for

log = logging.getLogger("rair_cds.server")


def check_feedback_store(app: Flask) -> None:
    """Make sure the feedback database is usable (schema created or migrated) before serving.

    :raises ConfigurationError: naming the problem (the URL's password redacted).
    """
    state = app.extensions.get("rair_cds")  # absent for a bare app (the benchmark's floor)
    store = getattr(state, "feedback_store", None)
    ensure = getattr(store, "ensure_schema", None)
    if callable(ensure):
        try:
            ensure()  # fail at start-up, not on the first feedback, when the database is unusable
        except ConfigurationError:
            raise
        except Exception as exc:  # a clear line, not a traceback (the URL's password redacted)
            raise ConfigurationError(
                f"the feedback database cannot be used: {type(exc).__name__}: {exc} "
                f"({getattr(store, 'store', store)!r})"
            ) from exc


def create_server(
    app: Flask, host: str = "127.0.0.1", port: int = 8080, threads: int = 8, **adjustments: Any
) -> Any:
    """A bound (not yet running) waitress server; port 0 picks a free port.

    Run it with :func:`serve` or :class:`BackgroundServer`; stop it with :func:`shutdown`. The
    bound port is ``server.effective_port``. ``adjustments`` are further waitress settings.
    """
    check_feedback_store(app)
    max_body = app.config.get("MAX_CONTENT_LENGTH")
    if max_body:
        # waitress buffers a whole body (by default up to 1 GiB) before the app can refuse it:
        # refuse a larger one as soon as its size is known (waitress refuses a size >= its limit)
        adjustments.setdefault("max_request_body_size", int(max_body) + 1)
    server = _waitress_server(
        app, host=host, port=port, threads=threads, ident="rair-cds", **adjustments
    )
    for candidate in (server, *socket_map(server).values()):
        if hasattr(candidate, "channel_class"):  # a listening server (one or several)
            candidate.channel_class = HTTPChannel
    return server


class _OperationOutcomeErrorTask(ErrorTask):
    """waitress's own error answers (413 body too large, 400 malformed request line, ...) as a
    FHIR ``OperationOutcome``, like every other error answer of the service."""

    def execute(self) -> None:
        error = self.request.error
        outcome = operation_outcome(issue_code_for(error.code), f"{error.code} {error.reason}")
        body = json.dumps(outcome, separators=(",", ":")).encode()
        self.status = f"{error.code} {error.reason}"
        self.response_headers.append(("Content-Type", FHIR_JSON))
        self.set_close_on_finish()
        self.content_length = len(body)
        self.write(body)


class HTTPChannel(waitress_channel.HTTPChannel):
    """waitress's channel, answering its own errors with an ``OperationOutcome``."""

    error_task_class = _OperationOutcomeErrorTask


def socket_map(server: Any) -> dict[int, Any]:  # noqa: ANN401 - a waitress server
    """The wasyncore map of ``server``: listening socket(s), trigger and client channels."""
    mapping = getattr(server, "_map", None)  # one listening socket: a BaseWSGIServer
    return mapping if mapping is not None else server.map  # several: a MultiSocketServer


def shutdown(server: Any, *, timeout: float = 5.0) -> None:  # noqa: ANN401 - waitress server
    """Stop the worker threads, then close every socket of ``server`` (clients included).

    Call it only when no thread is running the server's loop, or from that thread.
    """
    server.task_dispatcher.shutdown(timeout=timeout)
    wasyncore.close_all(socket_map(server))


def freeze_heap() -> None:
    """Exempt every object alive now from the cyclic garbage collector (``gc.freeze``).

    Call it once the app is built: the knowledge, the rule engine, the R4B models and every
    imported module then stay out of the collections that a call's own allocations trigger.
    Those collections otherwise walk the whole heap again and again, and a call that parses
    a 6 MiB record allocates enough to trigger many of them (in-process, CPU per call with the
    10,000-Observation record: about 440 ms without, 380 ms with). The frozen objects are
    still freed by reference counting; only cycles among them would wait (there are none to
    speak of: they live as long as the process).
    """
    gc.collect()
    gc.freeze()


def serve(app: Flask, host: str, port: int, threads: int = 8) -> None:
    """Serve ``app`` until interrupted."""
    server = create_server(app, host=host, port=port, threads=threads)
    freeze_heap()
    log.info("rair-cds listening on http://%s:%s", host, server.effective_port)
    if threading.current_thread() is threading.main_thread():
        # SIGTERM (service managers) ends like Ctrl-C: the finally below runs
        signal.signal(signal.SIGTERM, _terminate)
    try:
        server.run()
    finally:
        shutdown(server)
        close_feedback_store(app)


def _terminate(signum: int, frame: object) -> None:
    raise SystemExit(0)


def close_feedback_store(app: Flask) -> None:
    """Flush the issued-card queue and close the feedback store (at shutdown)."""
    closer = getattr(app.extensions["rair_cds"].feedback_store, "close", None)
    if callable(closer):
        closer()


class BackgroundServer:
    """Run a waitress server on a daemon thread; :meth:`stop` shuts it down cleanly.

    ``with BackgroundServer(create_server(app, port=0)) as running: ...`` serves at
    ``running.base_url``. :meth:`stop` lets in-flight requests finish (the loop still runs
    while the workers drain), then ends the loop and closes every socket on the loop's thread,
    and joins it. It is idempotent, and safe with clients still holding keep-alive connections.
    """

    def __init__(self, server: Any, *, poll_seconds: float = 0.05) -> None:  # noqa: ANN401
        self.server = server
        self.poll_seconds = poll_seconds
        self._stopping = threading.Event()
        self._lock = threading.Lock()  # guards the trigger against being pulled once closed
        self._closed = False
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="rair-cds-waitress", daemon=True)

    @property
    def base_url(self) -> str:
        """``http://host:port`` of the listening socket."""
        host = self.server.effective_host
        host = f"[{host}]" if ":" in host else host
        return f"http://{host}:{self.server.effective_port}"

    def start(self) -> BackgroundServer:
        """Start serving on the background thread."""
        self._thread.start()
        return self

    def _run(self) -> None:
        mapping = socket_map(self.server)
        adj = self.server.adj
        try:
            while not self._stopping.is_set() and mapping:
                wasyncore.loop(
                    timeout=self.poll_seconds, map=mapping, use_poll=adj.asyncore_use_poll, count=1
                )
        except BaseException as exc:  # reported by stop(); the sockets are closed below
            self.error = exc
            log.exception("waitress loop failed")
        finally:
            with self._lock:
                self._closed = True
                shutdown(self.server)

    def stop(self, timeout: float = 10.0) -> None:
        """Drain the workers, end the loop, close every socket and join the thread.

        :raises RuntimeError: when the loop thread does not end within ``timeout``.
        """
        if not self._thread.is_alive():
            if self._thread.ident is None:  # never started: just release the sockets
                with self._lock:
                    if not self._closed:
                        self._closed = True
                        shutdown(self.server)
            return
        # workers first, while the loop still flushes their responses to the clients
        self.server.task_dispatcher.shutdown(timeout=timeout / 2)
        self._stopping.set()
        with self._lock:
            pull = getattr(self.server, "pull_trigger", None)  # not on a MultiSocketServer
            if not self._closed and pull is not None:
                pull()  # wake select() now rather than at the next poll
        self._thread.join(timeout)
        if self._thread.is_alive():
            raise RuntimeError("the waitress loop thread did not stop")

    def __enter__(self) -> BackgroundServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
