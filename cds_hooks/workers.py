"""``rair-cds serve --workers N`` with N > 1: N processes under gunicorn (``gthread`` workers).

Each worker builds its own app after the fork (no shared sockets, Redis connections or threads
across a fork); the master builds one first so that a bad setting fails at start-up, not in every
worker. Every worker serves ``threads`` requests at once, so the service serves
``workers * threads`` calls at once; the CPU-bound evaluation needs processes (the GIL), the FHIR
reads need threads. State that must be shared lives in Redis (``cds_hooks/shared_state.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Flask
from gunicorn.app.base import BaseApplication

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


def gunicorn_options(
    host: str, port: int, workers: int, threads: int, deadline_seconds: float
) -> dict[str, Any]:
    """The gunicorn settings for ``rair-cds serve --workers``."""
    address = f"[{host}]" if ":" in host else host
    return {
        "bind": f"{address}:{port}",
        "workers": workers,
        "worker_class": "gthread",
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
