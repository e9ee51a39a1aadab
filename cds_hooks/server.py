"""Serving the app with waitress (never Flask's development server)."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask
from waitress.server import create_server as _waitress_server

log = logging.getLogger("rair_cds.server")


def create_server(
    app: Flask, host: str = "127.0.0.1", port: int = 8080, threads: int = 8, **adjustments: Any
) -> Any:
    """A bound (not yet running) waitress server; port 0 picks a free port.

    Run it with ``server.run()``; stop it with ``server.close()``. The bound port is
    ``server.effective_port``. ``adjustments`` are further waitress settings.
    """
    store = app.extensions["rair_cds"].feedback_store
    ensure = getattr(store, "ensure_schema", None)
    if callable(ensure):
        ensure()  # fail at start-up, not on the first feedback, when the database is unusable
    return _waitress_server(
        app, host=host, port=port, threads=threads, ident="rair-cds", **adjustments
    )


def serve(app: Flask, host: str, port: int, threads: int = 8) -> None:
    """Serve ``app`` until interrupted."""
    server = create_server(app, host=host, port=port, threads=threads)
    log.info("rair-cds listening on http://%s:%s", host, server.effective_port)
    try:
        server.run()
    finally:
        server.close()
