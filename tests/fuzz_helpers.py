"""The fuzz tests' setup (tests/test_cds_hooks_fuzz*.py): the secured app (client JWTs required,
one trusted ES384 issuer, one allowed FHIR base), token signing, log capture, the hypothesis
settings, and the checks every answer must pass (never a 500, never a secret)."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import time
import uuid

import jwt
from conftest import TOY_PLUGIN, assert_operation_outcome
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import HealthCheck, Phase, event, settings
from hypothesis.control import currently_in_test_context
from hypothesis.utils.conventions import not_set

from cds_hooks.errors import ConfigurationError

PUBLIC = "https://cds.example.org"
ISS = "https://ehr.example.org/"
FHIR = "https://ehr.example.org/fhir"
EVIL = "https://evil.example/fhir"
EHR_TOKEN = "ehr-access-token-" + uuid.uuid4().hex
KEY = ec.generate_private_key(ec.SECP384R1())
PUBLIC_JWK = {
    **json.loads(jwt.get_algorithm_by_name("ES384").to_jwk(KEY.public_key())),
    "kid": "fuzz",
    "use": "sig",
}
IN_CI = os.environ.get("CI") == "true"  # .ci/run sets it
FUZZ = settings(
    # RAIR_CDS_FUZZ_EXAMPLES=1000 for a longer local run
    max_examples=int(os.environ.get("RAIR_CDS_FUZZ_EXAMPLES", "40")),
    # Every run replays the fixed corpus: the @example inputs below and the hook-call corpus of
    # test_cds_hooks_fuzz_corpus.py (issue 13: a NUL id was found only by chance). CI replays
    # only that corpus, so its result never depends on luck; local runs also explore new inputs
    # (and replay what failed before, from .hypothesis/).
    phases=(Phase.explicit,) if IN_CI else tuple(Phase),
    database=None if IN_CI else not_set,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
OK_STATUSES = {200, 400, 401, 404, 412, 413}


def sign(path: str, **claims) -> str:
    now = int(time.time())
    payload = {
        "iss": ISS,
        "aud": PUBLIC + path,
        "iat": now,
        "exp": now + 120,
        "jti": uuid.uuid4().hex,
        **claims,
    }
    return jwt.encode(payload, KEY, algorithm="ES384", headers={"kid": "fuzz"})


class LogCapture(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record):
        self.lines.append(record.getMessage())
        if record.exc_info:
            self.lines.append(logging.Formatter().formatException(record.exc_info))


@contextlib.contextmanager
def captured_logs():
    """Every log line (and traceback) emitted inside the block."""
    handler = LogCapture()
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)


def build_secure_app(make_app):
    """The app with client JWTs required, one trusted issuer and one allowed FHIR base."""
    config = {
        "AUTH_MODE": "required",
        "JWT_ISSUERS": {ISS: {"keys": [PUBLIC_JWK]}},
        "PUBLIC_BASE_URL": PUBLIC,
        "FHIR_SERVER_ALLOWLIST": [FHIR],
        "DEADLINE_SECONDS": 5.0,
    }
    try:
        return make_app(PLUGINS=["plugin.thyroid"], **config)
    except (ConfigurationError, ImportError):
        return make_app(PLUGINS=[TOY_PLUGIN], **config)


def check_answer(response, assert_valid_response, secrets=(EHR_TOKEN,)):
    assert response.status_code in OK_STATUSES, response.get_data(as_text=True)[:500]
    if currently_in_test_context():
        event(f"status {response.status_code}")  # see --hypothesis-show-statistics
    text = response.get_data(as_text=True)
    for secret in secrets:
        assert secret not in text
    body = json.loads(text)
    if response.status_code == 200:
        assert_valid_response(body)
    else:
        assert_operation_outcome(body)
    return body


def no_secret_in_logs(logs, *secrets):
    joined = "\n".join(logs.lines)
    for secret in secrets:
        assert secret not in joined
