"""The application factory: configuration, plugins, blueprints, error handlers, CORS.

Configuration flows one way (STYLE G2): :data:`cds_hooks.settings.DEFAULTS`, then ``RAIR_CDS_*``
environment variables, then ``test_config``. Nothing happens at import time (STYLE G1).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from cds_hooks.auth import load_callable
from cds_hooks.collector import CollectorPause
from cds_hooks.cors import init_cors
from cds_hooks.endpoints import bp, health_bp
from cds_hooks.errors import ConfigurationError
from cds_hooks.feedback_store import FeedbackStore, open_store
from cds_hooks.feedback_writer import QueuedFeedbackStore
from cds_hooks.hook_call import CallSettings
from cds_hooks.http_errors import register_error_handlers
from cds_hooks.registry import ServiceRegistry, load_blueprints, load_services
from cds_hooks.security import init_security
from cds_hooks.settings import DEFAULTS, from_environment
from cds_hooks.state import RairCdsState


def load_config(test_config: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Defaults, then the environment, then ``test_config`` (the only ``os.environ`` read)."""
    config: dict[str, Any] = dict(DEFAULTS)
    config.update(from_environment(os.environ))
    if test_config:
        config.update(test_config)
    return config


def create_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    """Build the Flask app: load config and plugins (failing loudly), register the endpoints.

    ``test_config`` may also carry ``FEEDBACK_STORE`` (an object implementing
    :class:`~cds_hooks.feedback_store.FeedbackStore`) to replace the SQLite store.

    :raises ConfigurationError: for a bad setting, an unloadable plugin or a duplicate service id.
    """
    app = Flask(__name__)
    app.config.update(load_config(test_config))
    try:
        settings = CallSettings.from_config(app.config)
    except (KeyError, TypeError, ValueError) as exc:
        raise ConfigurationError(f"bad setting: {exc}") from exc
    if (
        settings.deadline_seconds <= 0
        or settings.fhir_timeout_seconds <= 0
        or settings.max_pages < 1
    ):
        raise ConfigurationError(
            "DEADLINE_SECONDS, FHIR_TIMEOUT_SECONDS and MAX_PAGES must be positive"
        )
    store = _feedback_store(app.config)
    registry = ServiceRegistry(load_services(app.config["PLUGINS"], app.config))
    app.extensions["rair_cds"] = RairCdsState(
        registry=registry,
        feedback_store=store,
        call_settings=settings,
        authenticator=load_callable("AUTHENTICATOR", app.config.get("AUTHENTICATOR")),
        destination_guard=load_callable(
            "FHIR_DESTINATION_GUARD", app.config.get("FHIR_DESTINATION_GUARD")
        ),
        audit_include_patient=bool(app.config.get("AUDIT_INCLUDE_PATIENT")),
        collector_pause=_collector_pause(app.config),
    )
    init_security(app)  # security (issue 5): client JWTs, FHIR token guard, JSON bounds
    app.register_blueprint(health_bp)
    app.register_blueprint(bp)
    for blueprint in load_blueprints(app.config["PLUGINS"], app.config):
        app.register_blueprint(blueprint)
    register_error_handlers(app)
    init_cors(app, app.config["CORS_ORIGINS"])
    hops = int(app.config.get("FORWARDED_HOPS") or 0)
    if hops > 0:  # TLS at a reverse proxy (docs/DEPLOYMENT.md): trust its X-Forwarded-* only
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops
        )
    return app


def _collector_pause(config: Mapping[str, Any]) -> CollectorPause:
    """``GC_PAUSE_MIN_BYTES``: bodies this large run with the cyclic collector paused."""
    try:
        return CollectorPause(int(config["GC_PAUSE_MIN_BYTES"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise ConfigurationError(f"bad setting GC_PAUSE_MIN_BYTES: {exc}") from exc


def _feedback_store(config: Mapping[str, Any]) -> FeedbackStore:
    """``FEEDBACK_STORE`` or the database ``FEEDBACK_DB`` names, behind the issued-card queue
    (``FEEDBACK_QUEUE_SIZE`` 0: issued cards are written on the request path)."""
    try:
        retention = int(config["FEEDBACK_ISSUED_RETENTION_DAYS"])
    except (KeyError, TypeError, ValueError) as exc:
        raise ConfigurationError(f"bad setting: {exc}") from exc
    if retention < 0:
        raise ConfigurationError("FEEDBACK_ISSUED_RETENTION_DAYS must not be negative")
    store = config.get("FEEDBACK_STORE") or open_store(
        config["FEEDBACK_DB"], issued_retention_days=retention
    )
    try:
        size = int(config["FEEDBACK_QUEUE_SIZE"])
        block = float(config["FEEDBACK_QUEUE_BLOCK_SECONDS"])
        linger = float(config["FEEDBACK_QUEUE_LINGER_SECONDS"])
    except (KeyError, TypeError, ValueError) as exc:
        raise ConfigurationError(f"bad setting: {exc}") from exc
    if size < 0 or block < 0 or not 0 <= linger <= 10:
        raise ConfigurationError(
            "FEEDBACK_QUEUE_SIZE and FEEDBACK_QUEUE_BLOCK_SECONDS must not be negative, "
            "FEEDBACK_QUEUE_LINGER_SECONDS must be 0 to 10"
        )
    if size == 0:
        return store
    return QueuedFeedbackStore(
        store, max_queue=size, block_seconds=block, linger_seconds=linger
    )
