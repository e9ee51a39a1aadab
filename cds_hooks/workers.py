"""``rair-cds serve --workers N`` with N > 1: N processes under gunicorn (``gthread`` workers).

Each worker builds its own app after the fork (no shared sockets, Redis connections or threads
across a fork); the master builds one first so that a bad setting fails at start-up, not in every
worker. Every worker serves ``threads`` requests at once, so the service serves
``workers * threads`` calls at once; the CPU-bound evaluation needs processes (the GIL), the FHIR
reads need threads. State that must be shared lives in Redis (``cds_hooks/shared_state.py``).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from flask import Flask
from gunicorn import util as gunicorn_util
from gunicorn.app.base import BaseApplication
from gunicorn.workers.gthread import ThreadWorker

from cds_hooks.errors import operation_outcome
from cds_hooks.http_errors import FHIR_JSON, issue_code_for
from cds_hooks.server import freeze_heap


class GunicornServer(BaseApplication):
    """gunicorn configured from arguments, loading :func:`cds_hooks.create_app` in each worker."""

    def __init__(
        self, options: dict[str, Any], factory: Callable[[], Flask] | None = None
    ) -> None:
        self.options = options
        self.factory = factory
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Flask:
        if self.factory is not None:
            return self.factory()
        from cds_hooks.app import create_app

        return create_app()


def write_operation_outcome(sock: Any, status_int: int, reason: str, mesg: str) -> None:  # noqa: ANN401
    """gunicorn's error answer (``gunicorn.util.write_error``) as a FHIR ``OperationOutcome``.

    Only the status is said: gunicorn's ``mesg`` quotes the malformed request line or header,
    which must not come back (it may hold a token or patient data).
    """
    outcome = operation_outcome(issue_code_for(status_int), f"{status_int} {reason}")
    body = json.dumps(outcome, separators=(",", ":")).encode()
    head = (
        f"HTTP/1.1 {status_int} {reason}\r\nConnection: close\r\n"
        f"Content-Type: {FHIR_JSON}\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    gunicorn_util.write_nonblock(sock, head.encode("latin-1") + body)


class OperationOutcomeWorker(ThreadWorker):
    """gunicorn's ``gthread`` worker whose own error answers (a malformed request line or header,
    too long a request line, ...) are a FHIR ``OperationOutcome``, like waitress's
    (:mod:`cds_hooks.server`) and the app's. gunicorn has no setting for its error page: its
    workers write it with ``gunicorn.util.write_error``, which this worker process replaces."""

    def init_process(self) -> None:
        gunicorn_util.write_error = write_operation_outcome
        super().init_process()


def gunicorn_options(
    host: str, port: int, workers: int, threads: int, deadline_seconds: float
) -> dict[str, Any]:
    """The gunicorn settings for ``rair-cds serve --workers``."""
    address = f"[{host}]" if ":" in host else host
    return {
        "bind": f"{address}:{port}",
        "workers": workers,
        "worker_class": OperationOutcomeWorker,  # gthread, answering in FHIR
        "threads": threads,
        # a worker silent this long is restarted; well past the hard deadline of a call
        "timeout": int(deadline_seconds * 3) + 30,
        "graceful_timeout": int(deadline_seconds) + 5,
        "keepalive": 5,
        "accesslog": None,  # the service writes its own audit lines (rair_cds.audit)
        "errorlog": "-",
        "proc_name": "rair-cds",
        "preload_app": False,
        # after each worker has built its app (cds_hooks.server.freeze_heap)
        "post_worker_init": _post_worker_init,
    }


def _post_worker_init(worker: Any) -> None:  # noqa: ANN401 - a gunicorn worker
    freeze_heap()


def serve_workers(
    host: str,
    port: int,
    workers: int,
    threads: int,
    deadline_seconds: float,
    factory: Callable[[], Flask] | None = None,
) -> None:
    """Run gunicorn in the foreground until it is stopped (SIGTERM/SIGINT).

    ``factory`` builds each worker's app (default: :func:`cds_hooks.create_app`).
    """
    options = gunicorn_options(host, port, workers, threads, deadline_seconds)
    GunicornServer(options, factory).run()
