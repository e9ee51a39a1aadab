"""CORS for browser-based CDS clients (e.g. the CDS Hooks sandbox).

Preflight (``OPTIONS``) needs no credentials; ``Authorization`` and ``Content-Type`` are
allowed request headers; allowed origins come from ``CORS_ORIGINS`` (``"*"`` or a list).
"""

from __future__ import annotations

from collections.abc import Sequence

from flask import Flask, Response, request

ALLOWED_HEADERS = "Authorization, Content-Type"
ALLOWED_METHODS = "GET, POST, OPTIONS"
MAX_AGE_SECONDS = "600"


def init_cors(app: Flask, origins: str | Sequence[str]) -> None:
    """Add CORS headers to every response of ``app``."""
    allow_all = origins == "*"
    allowed = frozenset(() if allow_all else origins)

    @app.after_request
    def _cors(response: Response) -> Response:
        origin = request.headers.get("Origin")
        if allow_all:
            response.headers["Access-Control-Allow-Origin"] = "*"
        elif origin in allowed:
            response.headers["Access-Control-Allow-Origin"] = origin
            response.vary.add("Origin")
        else:
            return response
        if request.method == "OPTIONS":
            response.headers["Access-Control-Allow-Methods"] = ALLOWED_METHODS
            response.headers["Access-Control-Allow-Headers"] = ALLOWED_HEADERS
            response.headers["Access-Control-Max-Age"] = MAX_AGE_SECONDS
        return response
