"""Default configuration and the environment layer (``RAIR_CDS_*``).

Configuration flows one way (STYLE G2): :data:`DEFAULTS` here, then the environment read by
:func:`from_environment`, then the ``test_config`` given to :func:`cds_hooks.create_app`.
Only :func:`cds_hooks.create_app` reads ``os.environ``; deep code gets values as arguments.
Every setting is documented in ``docs/CONFIGURATION.md``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

ENV_PREFIX = "RAIR_CDS_"

DEFAULTS: dict[str, Any] = {
    # plugin modules, each exposing create_services(config) (and optionally register_cli)
    "PLUGINS": ["plugin.thyroid"],
    # hard deadline for one hook call, in seconds; past it the answer is {"cards": []}
    "DEADLINE_SECONDS": 10.0,
    # per-request timeout for FHIR reads (also clipped to the time left before the deadline)
    "FHIR_TIMEOUT_SECONDS": 5.0,
    # bounds on one prefetch key: searchset pages followed and resources merged
    "MAX_PAGES": 10,
    "MAX_PREFETCH_RESOURCES": 5000,
    # prefetch keys fetched at once
    "PREFETCH_CONCURRENCY": 4,
    # SQLite file for feedback and issued cards; relative paths are under the working directory;
    # or a postgresql:// URL (docs/FEEDBACK.md)
    "FEEDBACK_DB": "var/feedback.sqlite3",
    # issued-card records waiting for the writer thread (0: written on the request path), and
    # how long a call waits for room in a full queue before writing its cards itself, and how
    # long the writer waits for more calls before one transaction (0: write each call at once)
    "FEEDBACK_QUEUE_SIZE": 10000,
    "FEEDBACK_QUEUE_BLOCK_SECONDS": 0.05,
    "FEEDBACK_QUEUE_LINGER_SECONDS": 0.1,
    # days an issued-card record no feedback names is kept (0: for ever; docs/FEEDBACK.md)
    "FEEDBACK_ISSUED_RETENTION_DAYS": 365,
    # "*" or a list of allowed origins
    "CORS_ORIGINS": "*",
    # put context.patientId in audit lines (off: no patient identifiers in logs)
    "AUDIT_INCLUDE_PATIENT": False,
    # largest request body accepted, in bytes (Flask's own setting; larger bodies get 413)
    "MAX_CONTENT_LENGTH": 10 * 1024 * 1024,
    # a hook call whose body has at least this many bytes runs with Python's cyclic garbage
    # collector paused (cds_hooks/collector.py; issue 11); 0: never paused
    "GC_PAUSE_MIN_BYTES": 1024 * 1024,
    # "YYYY-MM-DD" to pin HookCall.evaluation_date (tests); None means today in UTC
    "EVALUATION_DATE": None,
    # "module:function" called as f(request, config) before a hook or feedback call; None: no-op
    "AUTHENTICATOR": None,
    # -- security (issue 5; cds_hooks/security.py, docs/SECURITY.md) --
    # "required": hook/feedback calls need a CDS Client JWT from JWT_ISSUERS (no issuers: the
    # app refuses to start); "off": no client authentication (loud WARNING; local trials only)
    "AUTH_MODE": "required",
    # also require the JWT on GET /cds-services
    "AUTH_DISCOVERY": False,
    # {iss: {"jwks_url", "jku_allowlist", "keys", "tenants", "fhir_servers"}} (JSON in the env)
    "JWT_ISSUERS": {},
    # algorithms accepted besides ES384 and RS384 (ES256, ES512, RS256, RS512, PS256/384/512)
    "JWT_ALGORITHMS": [],
    "JWT_LEEWAY_SECONDS": 60,
    "JWT_MAX_LIFETIME_SECONDS": 3600,
    "JWT_REPLAY_CACHE_SIZE": 100000,
    "JWKS_CACHE_TTL_SECONDS": 300,
    "JWKS_MIN_REFETCH_SECONDS": 30,
    "JWKS_TIMEOUT_SECONDS": 5.0,
    "JWKS_MAX_BYTES": 65536,
    "JWKS_ALLOW_HTTP": False,
    # the URL the EHR calls (e.g. https://cds.example.org); the JWT aud is checked against it
    "PUBLIC_BASE_URL": None,
    # FHIR base URLs the EHR token (and any FHIR read) may go to, besides each issuer's own
    "FHIR_SERVER_ALLOWLIST": [],
    "ALLOW_HTTP_FHIR": False,
    # spec "FHIR Resource Access": fetch from fhirServer only with a fhirAuthorization token
    "FHIR_REQUIRE_AUTHORIZATION": True,
    # JSON shape bounds for request bodies and FHIR responses (413 / key unavailable)
    "MAX_JSON_DEPTH": 64,
    "MAX_JSON_ARRAY_LENGTH": 10000,
    "MAX_JSON_OBJECT_MEMBERS": 1000,
    "MAX_JSON_STRING_LENGTH": 4 * 1024 * 1024,
    "MAX_JSON_NODES": 2000000,
    "MAX_PREFETCH_KEYS": 64,
    "MAX_PREFETCH_KEY_BYTES": 8 * 1024 * 1024,
    "MAX_FHIR_RESPONSE_BYTES": 16 * 1024 * 1024,
    # entries of a supplied prefetch Bundle (instead of MAX_JSON_ARRAY_LENGTH and
    # MAX_PREFETCH_RESOURCES): a long-followed patient's record (issue 11)
    "MAX_PREFETCH_ENTRIES": 50000,
    # defaults for `rair-cds serve`
    "HOST": "127.0.0.1",
    "PORT": 8080,
    "WAITRESS_THREADS": 8,
    # `rair-cds serve` refuses a non-loopback --host while AUTH_MODE is off, unless this is set
    # (or --allow-unauthenticated-remote is given)
    "ALLOW_UNAUTHENTICATED_REMOTE": False,
    # -- several workers and instances (issue 11; docs/DEPLOYMENT.md) --
    # default `--workers` of `rair-cds serve`: 1 serves with waitress, more with gunicorn
    "WORKERS": 1,
    # redis://host:port/db shared by every worker and instance: JWT replay cache, order alert
    # memory, JWKS cache; None: in-process caches (one process only)
    "REDIS_URL": None,
    "REDIS_PREFIX": "rair-cds:",
    "REDIS_TIMEOUT_SECONDS": 2.0,
    # start more than one worker without REDIS_URL anyway (a replayed JWT may then be accepted)
    "ALLOW_UNSHARED_STATE": False,
    # reverse proxies in front that set X-Forwarded-For/-Proto/-Host (0: trust none)
    "FORWARDED_HOPS": 0,
}

# Settings that are lists but may be written as a comma list in the environment.
_LIST_SETTINGS = frozenset({"PLUGINS"})


class SettingsError(ValueError):
    """An environment variable could not be read as its setting's type."""


def from_environment(environ: Mapping[str, str], prefix: str = ENV_PREFIX) -> dict[str, Any]:
    """Read every ``<prefix><SETTING>`` variable, converted to the type of the default.

    Unknown ``<prefix>*`` variables are kept as strings (a plugin may read them).

    :raises SettingsError: when a value cannot be converted.
    """
    out: dict[str, Any] = {}
    for name, raw in environ.items():
        if not name.startswith(prefix):
            continue
        key = name[len(prefix) :]
        try:
            out[key] = _convert(key, raw)
        except (ValueError, json.JSONDecodeError) as exc:
            raise SettingsError(f"{name}={raw!r}: {exc}") from exc
    return out


def parse_bool(text: str) -> bool:
    """``1/true/yes/on`` -> True, ``0/false/no/off`` or empty -> False (any case, trimmed).

    The one reading of a boolean setting, for the environment and for plugin settings that
    arrive as strings.

    :raises ValueError: for any other text.
    """
    word = text.strip().lower()
    if word in ("1", "true", "yes", "on"):
        return True
    if word in ("0", "false", "no", "off", ""):
        return False
    raise ValueError("expected a boolean (true/false)")


def config_flag(config: Mapping[str, Any], name: str, default: bool) -> bool:
    """The boolean setting ``name`` of ``config`` (an environment string is parsed by
    :func:`parse_bool`).

    :raises ValueError: naming the setting, for a string that is not a boolean.
    """
    value = config.get(name, default)
    if isinstance(value, str):
        try:
            return parse_bool(value)
        except ValueError as exc:
            raise ValueError(f"{name}={value!r}: expected true or false") from exc
    return bool(value)


def config_number(config: Mapping[str, Any], name: str, default: float) -> float:
    """The numeric setting ``name`` of ``config``.

    :raises ValueError: naming the setting, for a value that is not a number.
    """
    value = config.get(name, default)
    try:
        return float(value)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name}={value!r}: expected a number") from exc


def _convert(key: str, raw: str) -> Any:
    default = DEFAULTS.get(key)
    text = raw.strip()
    if key in _LIST_SETTINGS or isinstance(default, list):
        return _list(text)
    if isinstance(default, dict):
        value = json.loads(text or "{}")
        if not isinstance(value, dict):
            raise ValueError("expected a JSON object")
        return value
    if key == "CORS_ORIGINS":
        return "*" if text == "*" else _list(text)
    if isinstance(default, bool):
        return parse_bool(text)
    if isinstance(default, int):
        return int(text)
    if isinstance(default, float):
        return float(text)
    if default is None and text.lower() in ("", "none", "null"):
        return None
    return raw


def _list(text: str) -> list[str]:
    """A JSON list (``["a", "b"]``) or a comma list (``a, b``)."""
    if text.startswith(("[", "{")):
        value = json.loads(text)
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ValueError("expected a JSON list of strings")
        return value
    return [part.strip() for part in text.split(",") if part.strip()]
