"""Shared fixtures: app factory, test client, live waitress server, CDS Hooks schema checks.

Generic on purpose: any domain's tests can use them.

* ``make_app(**config)`` / ``app`` / ``client``: a fresh app per test (feedback DB in tmp_path,
  ``EVALUATION_DATE`` pinned). The default plugin is the toy domain (``tests/toy_plugin.py``);
  pass ``PLUGINS=[...]`` to test another one.
* ``live_server(app) -> base_url``: the real waitress server on a free loopback port.
* ``shared_dir`` / ``shared_example(relpath)``: the read-only reference files in ``../shared``.
* ``assert_valid_response(body, schema="service-response")``: validate a body against the
  derived CDS Hooks JSON Schemas (``discovery-response``, ``service-response``,
  ``feedback-request``, ``service-request``). Skips when ``../shared`` is absent.
* Every response body with an ``extension["rair-cds"]`` object, from the Flask test client (an
  autouse fixture wraps ``FlaskClient.open``) or from :func:`http`, is validated against the
  published ``docs/assessment.schema.json`` (:func:`check_rair_extension`); the run's summary
  says how many were checked.
"""

from __future__ import annotations

import functools
import json
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

TESTS_DIR = Path(__file__).resolve().parent
REPO_DIR = TESTS_DIR.parent
SHARED_DIR = REPO_DIR.parent / "shared"
SCHEMAS_DIR = SHARED_DIR / "cds-hooks-schemas"

if str(TESTS_DIR) not in sys.path:  # so that PLUGINS=["toy_plugin"] imports
    sys.path.insert(0, str(TESTS_DIR))

from client_auth_helpers import (  # noqa: E402,F401 - the CDS Client JWT tests' keys and verifiers
    ec_key,
    jwks_server,
    rsa_key,
    static_auth,
)
from engine_helpers import engine  # noqa: E402,F401 - the rule-engine tests' module-scoped engine
from feedback_store_helpers import store, store_location  # noqa: E402,F401 - one store per backend
from pg_server import postgres_server, postgres_url  # noqa: E402,F401 - real PostgreSQL fixtures

ASSESSMENT_SCHEMA = REPO_DIR / "docs" / "assessment.schema.json"
TOY_PLUGIN = "toy_plugin"
EVALUATION_DATE = "2024-01-15"
#: FHIR bases the tests' mocked EHRs use (the destination guard allows only these)
TEST_FHIR_SERVERS = ("https://ehr.example.org/fhir", "https://fhir.example.org/r4")


@pytest.fixture
def make_app(tmp_path):
    """Build an app with test settings; keyword arguments override them."""
    from cds_hooks import create_app

    def build(**overrides):
        config = {
            "TESTING": True,
            "PLUGINS": [TOY_PLUGIN],
            "FEEDBACK_DB": str(tmp_path / "feedback.sqlite3"),
            "EVALUATION_DATE": EVALUATION_DATE,
            # security (issue 5): tests opt out of client JWTs explicitly (the default is
            # "required") and allow the mocked EHR FHIR base; test_cds_hooks_client_auth/fuzz
            # cover the secure configuration.
            "AUTH_MODE": "off",
            "FHIR_SERVER_ALLOWLIST": list(TEST_FHIR_SERVERS),
            # the official assembled examples carry fhirServer without fhirAuthorization; tests
            # fetch for them from the mocked EHR. The default (True: no token, no fetch) is
            # covered in test_cds_hooks_conformance_services.py.
            "FHIR_REQUIRE_AUTHORIZATION": False,
        }
        config.update(overrides)
        return create_app(config)

    return build


@pytest.fixture
def app(make_app):
    """A fresh app with the toy plugin."""
    return make_app()


@pytest.fixture
def client(app):
    """Flask test client for ``app``."""
    return app.test_client()


@pytest.fixture
def live_server():
    """Start ``app`` on waitress on a free loopback port; returns its base URL.

    Call it as ``base = live_server(app)``; every server started is stopped after the test with
    :meth:`cds_hooks.server.BackgroundServer.stop`, which closes client keep-alive connections
    too and joins the loop thread (no "Bad file descriptor" from a racing ``select()``).
    """
    from cds_hooks.server import BackgroundServer, create_server

    started = []

    def start(app):
        # a short poll timeout so that stop() takes effect quickly
        server = create_server(app, host="127.0.0.1", port=0, threads=4, asyncore_loop_timeout=0.05)
        running = BackgroundServer(server).start()
        started.append(running)
        return running.base_url

    yield start
    for running in started:
        running.stop()
    for running in started:
        assert running.error is None, f"waitress loop failed: {running.error!r}"


def http(method, url, body=None, headers=None, raw=None):
    """Call a live server with urllib (not requests, which `responses` may patch).

    Returns ``(status, headers, parsed JSON or None)``.
    """
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    request = urllib.request.Request(url, data=data, method=method, headers=dict(headers or {}))
    if data is not None and not request.has_header("Content-type"):  # urllib capitalizes keys
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            status, response_headers, payload = response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        status, response_headers, payload = error.code, error.headers, error.read()
        error.close()
    body = json.loads(payload) if payload else None
    check_rair_extension(body)
    return status, response_headers, body


@functools.cache
def _assessment_validator():
    from jsonschema import Draft202012Validator, FormatChecker

    schema = json.loads(ASSESSMENT_SCHEMA.read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema, format_checker=FormatChecker())


#: how many response bodies :func:`check_rair_extension` validated in this run
RAIR_EXTENSIONS_CHECKED = [0]


def check_rair_extension(body):
    """Assert that ``body["extension"]["rair-cds"]``, when present, is valid against
    ``docs/assessment.schema.json`` (issue 12 item 6). Returns ``body``."""
    extension = body.get("extension") if isinstance(body, dict) else None
    if isinstance(extension, dict) and "rair-cds" in extension:
        errors = sorted(_assessment_validator().iter_errors(extension["rair-cds"]),
                        key=lambda e: list(e.absolute_path))
        messages = [f"{list(e.absolute_path)}: {e.message[:200]}" for e in errors]
        assert not messages, "docs/assessment.schema.json violations:\n" + "\n".join(messages)
        RAIR_EXTENSIONS_CHECKED[0] += 1
    return body


@pytest.fixture(autouse=True)
def _validate_rair_extensions(monkeypatch):
    """Every Flask test-client response is checked by :func:`check_rair_extension`."""
    from flask.testing import FlaskClient

    original = FlaskClient.open

    def open_and_check(self, *args, **kwargs):
        response = original(self, *args, **kwargs)
        if response.is_json:
            check_rair_extension(response.get_json(silent=True))
        return response

    monkeypatch.setattr(FlaskClient, "open", open_and_check)


def pytest_terminal_summary(terminalreporter):
    if RAIR_EXTENSIONS_CHECKED[0]:
        terminalreporter.write_line(
            f"docs/assessment.schema.json: {RAIR_EXTENSIONS_CHECKED[0]} response extension(s) "
            "validated"
        )


@pytest.fixture
def shared_dir():
    """The ``cds-hooks-schemas`` reference folder; skip when ``../shared`` is absent."""
    if not SCHEMAS_DIR.is_dir():
        pytest.skip(f"reference files absent: {SCHEMAS_DIR} (read-only ../shared not mounted)")
    return SCHEMAS_DIR


@pytest.fixture
def shared_example(shared_dir):
    """Load an example by path relative to ``cds-hooks-schemas/examples``."""

    def load(relpath):
        return json.loads((shared_dir / "examples" / relpath).read_text(encoding="utf-8"))

    return load


@pytest.fixture(scope="session")
def _schema_validators():
    if not SCHEMAS_DIR.is_dir():
        return None
    from jsonschema import Draft202012Validator, FormatChecker
    from referencing import Registry, Resource

    schemas = {}
    registry = Registry()
    for path in sorted((SCHEMAS_DIR / "derived-json-schema").glob("*.schema.json")):
        schema = json.loads(path.read_text(encoding="utf-8"))
        schemas[path.name.removesuffix(".schema.json")] = schema
        registry = registry.with_resource(schema["$id"], Resource.from_contents(schema))
    return {
        name: Draft202012Validator(schema, registry=registry, format_checker=FormatChecker())
        for name, schema in schemas.items()
    }


@pytest.fixture
def assert_valid_response(_schema_validators):
    """``assert_valid_response(body, schema="service-response")``; skips without ../shared."""
    if _schema_validators is None:
        pytest.skip(f"reference schemas absent: {SCHEMAS_DIR}")

    def check(body, schema="service-response"):
        errors = sorted(_schema_validators[schema].iter_errors(body), key=lambda e: list(e.path))
        messages = [f"{list(e.absolute_path)}: {e.message[:200]}" for e in errors]
        assert not messages, f"{schema} schema violations:\n" + "\n".join(messages)
        return body

    return check


def assert_operation_outcome(response_body, code=None, mentions=None):
    """An error body is a FHIR OperationOutcome (optionally: issue code, text it mentions)."""
    assert response_body["resourceType"] == "OperationOutcome"
    issue = response_body["issue"][0]
    assert issue["severity"] in ("error", "fatal")
    if code is not None:
        assert issue["code"] == code
    if mentions is not None:
        text = json.dumps(response_body)
        assert mentions in text, f"{mentions!r} not named in {text}"
    return issue


@pytest.fixture(scope="session")
def redis_server():
    """A real redis-server on a free loopback port for the session (tests/redis_server.py);
    skips with the reason where redis-server is not installed."""
    from redis_server import RedisServer

    try:
        server = RedisServer()
    except (FileNotFoundError, RuntimeError) as exc:
        pytest.skip(f"no redis-server: {exc}")
    yield server
    server.stop()
