"""Shared state on a real Redis (issue 11): the JWT replay cache, the order alert memory and the
JWKS cache hold for every worker and instance.

The redis-server is real (``redis_server`` fixture, a free loopback port); so are the two
instances: one ``rair-cds serve`` (waitress) and one ``rair-cds serve --workers 2`` (gunicorn),
on two ports, with client JWTs required and the keys served by a loopback JWKS endpoint.
"""

from __future__ import annotations

import copy
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from conftest import REPO_DIR, assert_operation_outcome, http
from cryptography.hazmat.primitives.asymmetric import ec
from jwt_helpers import JwksServer, public_jwk, signed_token
from redis_server import free_port
from test_issue_11_cost_per_call import toy_request

from cds_hooks.errors import ConfigurationError, SharedStateUnavailable
from cds_hooks.shared_state import (
    RedisAlertMemory,
    RedisReplayCache,
    check_worker_state,
    redis_from_config,
)
from plugin.thyroid.orders.alert_cache import AlertCache

ORDERS = REPO_DIR / "fhir_samples" / "thyroid" / "orders"
EVALUATION_DATE = json.loads((ORDERS / "index.json").read_text())["evaluationDate"]
ISSUER = "https://ehr.example.org"
PUBLIC = "https://cds.example.org"  # both instances sit behind one name (a load balancer)


@pytest.fixture
def redis_url(redis_server):
    redis_server.flush()
    return redis_server.url


# -- the stores on their own --------------------------------------------------------------------


def test_a_jti_seen_by_one_replay_cache_is_refused_by_another(redis_url):
    first = RedisReplayCache(redis_from_config({"REDIS_URL": redis_url}), "t1:")
    # a second client, as another process would hold
    import redis

    second = RedisReplayCache(redis.Redis.from_url(redis_url), "t1:")
    forget_at = time.time() + 300
    assert first.add(ISSUER, "jti-1", forget_at) is True
    assert second.add(ISSUER, "jti-1", forget_at) is False
    assert second.add("https://other.example.org", "jti-1", forget_at) is True
    assert first.add(ISSUER, "jti-2", forget_at) is True


def test_replay_keys_hold_no_token_material_and_expire_with_the_token(redis_url):
    import redis

    client = redis.Redis.from_url(redis_url)
    RedisReplayCache(client, "t2:").add(ISSUER, "secret-jti", time.time() + 120)
    (key,) = client.keys("t2:*")
    assert b"secret-jti" not in key and b"ehr.example.org" not in key
    assert 100 < client.ttl(key) <= 122


def test_an_unreachable_redis_refuses_rather_than_accepts(redis_url):
    import redis

    dead = redis.Redis(host="127.0.0.1", port=free_port(), socket_connect_timeout=0.5)
    with pytest.raises(SharedStateUnavailable) as caught:
        RedisReplayCache(dead).add(ISSUER, "jti", time.time() + 60)
    assert caught.value.status_code == 503
    # the alert memory shows the card again rather than fail the call
    assert RedisAlertMemory(dead, 60).shown(("p", "o", "f")) == frozenset()


def test_a_redis_url_nobody_answers_is_a_start_up_error(make_app):
    with pytest.raises(ConfigurationError, match="REDIS_URL"):
        make_app(REDIS_URL=f"redis://127.0.0.1:{free_port()}/0", AUTH_MODE="required",
                 JWT_ISSUERS={ISSUER: {"keys": [public_jwk(ec.generate_private_key(
                     ec.SECP384R1()))]}})


def test_alert_memory_is_shared_between_two_caches(redis_url):
    import redis

    one = AlertCache(shared=RedisAlertMemory(redis.Redis.from_url(redis_url), 60, "t3:"))
    two = AlertCache(shared=RedisAlertMemory(redis.Redis.from_url(redis_url), 60, "t3:"))
    key = AlertCache.key("patient-1", "MedicationRequest/1", {"resourceType": "MedicationRequest"})
    one.remember(key, ["sig-a"])
    two.remember(key, ["sig-b"])
    assert one.shown(key) == two.shown(key) == frozenset({"sig-a", "sig-b"})
    assert two.shown(AlertCache.key("patient-2", "MedicationRequest/1", {})) == frozenset()
    assert all(b"patient" not in k for k in redis.Redis.from_url(redis_url).keys("t3:*"))


def test_several_workers_need_shared_state_or_an_explicit_setting():
    with pytest.raises(ConfigurationError, match="RAIR_CDS_REDIS_URL"):
        check_worker_state(2, {})
    check_worker_state(1, {})
    check_worker_state(2, {"REDIS_URL": "redis://127.0.0.1:1/0"})
    check_worker_state(2, {"ALLOW_UNSHARED_STATE": True})


def test_serve_with_two_workers_and_no_redis_does_not_start(tmp_path):
    env = _env(tmp_path, {"RAIR_CDS_AUTH_MODE": "off"})
    done = subprocess.run(
        [sys.executable, "-m", "cds_hooks.cli", "serve", "--port", str(free_port()),
         "--workers", "2"],
        cwd=REPO_DIR, env=env, capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 2
    assert "without a shared replay cache" in done.stderr


# -- two instances sharing Redis ----------------------------------------------------------------


def _env(tmp_path: Path, settings: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAIR_CDS_")}
    env.update(settings)
    return env


class Instance:
    """One ``rair-cds serve`` process on a free loopback port; :meth:`stop` sends SIGTERM."""

    def __init__(self, tmp_path: Path, name: str, settings: dict[str, str], *args: str) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = tmp_path / f"{name}.log"
        env = _env(tmp_path, {**settings, "RAIR_CDS_FEEDBACK_DB": str(tmp_path / f"{name}.db")})
        with self.log.open("w") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "cds_hooks.cli", "serve", "--port", str(self.port), *args],
                cwd=REPO_DIR, env=env, stdout=log, stderr=subprocess.STDOUT,
            )
        give_up = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"{self.base}/healthz", timeout=2) as answer:
                    if answer.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            if self.process.poll() is not None or time.monotonic() > give_up:
                self.stop()
                raise AssertionError(f"{name} did not start:\n{self.log.read_text()[-3000:]}")
            time.sleep(0.2)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@pytest.fixture
def two_instances(tmp_path, redis_url):
    key = ec.generate_private_key(ec.SECP384R1())
    jwks = JwksServer([public_jwk(key)])
    settings = {
        "RAIR_CDS_REDIS_URL": redis_url,
        "RAIR_CDS_JWT_ISSUERS": json.dumps({ISSUER: {"jwks_url": jwks.url}}),
        "RAIR_CDS_JWKS_ALLOW_HTTP": "true",
        "RAIR_CDS_PUBLIC_BASE_URL": PUBLIC,
        "RAIR_CDS_EVALUATION_DATE": EVALUATION_DATE,
        "RAIR_CDS_WAITRESS_THREADS": "2",
    }
    started: list[Instance] = []
    try:
        started.append(Instance(tmp_path, "waitress", settings))
        started.append(Instance(tmp_path, "gunicorn", settings, "--workers", "2", "--threads", "2"))
        yield started[0], started[1], key, jwks
    finally:
        for instance in started:
            instance.stop()
        jwks.close()


def _token(key, service: str) -> dict[str, str]:
    token = signed_token(key, iss=ISSUER, aud=f"{PUBLIC}/cds-services/{service}")
    return {"Authorization": f"Bearer {token}"}


def _select(sign_request: dict) -> dict:
    select = copy.deepcopy(sign_request)
    select["hook"] = "order-select"
    entries = select["context"]["draftOrders"]["entry"]
    select["context"]["selections"] = [
        f"{e['resource']['resourceType']}/{e['resource']['id']}" for e in entries]
    return select


def test_two_instances_share_the_replay_cache_the_alert_memory_and_the_jwks(two_instances):
    one, other, key, jwks = two_instances
    sign = json.loads((ORDERS / "order-sign.i131-refractory.json").read_text())
    select = _select(sign)

    headers = _token(key, "rair-order-select")
    status, _, first = http("POST", f"{one.base}/cds-services/rair-order-select", select, headers)
    assert status == 200, first
    assert [c["indicator"] for c in first["cards"]] == ["warning"]
    assert "JS-ii" in first["cards"][0]["summary"]

    # the same signed JWT replayed to the other instance is refused
    status, _, replayed = http("POST", f"{other.base}/cds-services/rair-order-select", select,
                               headers)
    assert status == 401
    assert_operation_outcome(replayed, "login")

    # order-sign at the other instance does not repeat the card shown at order-select
    status, _, signed = http("POST", f"{other.base}/cds-services/rair-order-sign", sign,
                             _token(key, "rair-order-sign"))
    assert status == 200, signed
    assert signed["cards"] == []
    assert signed["extension"]["rair-cds"]["suppressedCards"][0]["reason"] == (
        "shown at order-select")

    # both instances (three processes) used the one JWK Set fetched first
    for _ in range(3):
        status, _, _body = http("POST", f"{other.base}/cds-services/rair-order-sign", sign,
                                _token(key, "rair-order-sign"))
        assert status == 200
    assert jwks.hits == 1

    # the audit lines name neither the patient nor the token
    logs = one.log.read_text() + other.log.read_text()
    assert sign["context"]["patientId"] not in logs
    assert headers["Authorization"].split()[1] not in logs


# -- behind a TLS proxy (FORWARDED_HOPS) --------------------------------------------------------


@pytest.mark.parametrize("hops,expected", [(1, 200), (0, 401)])
def test_forwarded_headers_are_trusted_only_with_forwarded_hops(make_app, hops, expected):
    key = ec.generate_private_key(ec.SECP384R1())
    app = make_app(AUTH_MODE="required", FORWARDED_HOPS=hops,
                   JWT_ISSUERS={ISSUER: {"keys": [public_jwk(key)]}})
    # no PUBLIC_BASE_URL: the audience is the URL the client called, as the proxy reports it
    token = signed_token(key, iss=ISSUER, aud=f"{PUBLIC}/cds-services/toy-greeter")
    body = toy_request(None)
    response = app.test_client().post(
        "/cds-services/toy-greeter", json=body,
        headers={"Authorization": f"Bearer {token}", "X-Forwarded-Proto": "https",
                 "X-Forwarded-Host": "cds.example.org", "X-Forwarded-For": "203.0.113.7"})
    assert response.status_code == expected, response.get_json()
