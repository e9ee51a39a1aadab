"""rair-cds protocol layer: CDS Hooks 2.0 over HTTP, with clinical domains as plugins.

Build the WSGI app with :func:`create_app`; plugins implement :mod:`cds_hooks.service` and
answer with :mod:`cds_hooks.cards`. This package never imports a plugin by name.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flask import Flask

__all__ = ["create_app"]


def create_app(test_config: Any = None) -> Flask:
    """Build the Flask app (see :func:`cds_hooks.app.create_app`)."""
    # imported here so that plugins importing cds_hooks.service/cards do not load Flask
    from cds_hooks.app import create_app as _create_app

    return _create_app(test_config)
