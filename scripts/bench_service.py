"""Benchmark rair-cds beside a bare Flask "floor", in the same run, and print the ratios.

Usage: .venv/bin/python scripts/bench_service.py [--runs N] [--big-runs M] [--clients K]
       [--requests R] [--threads T]

Both are separate processes on free loopback ports, served the same way (waitress with one
worker; gunicorn ``gthread`` with ``--workers 2``); the floor parses the same body
(``scripts/bench_floor.py``). rair-cds runs as deployed: CDS Client JWTs required (ES384, a fresh
token per call, signed before the clock starts), the patient-view service, EVALUATION_DATE pinned.
With two workers the replay, alert and JWKS caches are in a real Redis when ``redis-server`` is
installed (else ALLOW_UNSHARED_STATE). Bodies:

* typical: ``patient-view.js-ii-post-therapy-no-uptake.json`` (~10 KiB);
* realistic: the same with routine lab results up to ~30 KiB;
* 10k: the same with 10,000 routine lab results (no rule reads them; the assessment must equal
  the typical one, else the run fails).

Every call gets a body of its own, the same for both servers: a fresh ``hookInstance`` and a
patient id of its own (in ``context.patientId``, the Patient and every reference to it), so
nothing one call leaves behind can serve the next.

An extra row, labelled as such and not one of the issue's ratios, sets the typical p50 beside a
floor that also verifies each call's ES384 JWT (``bench_floor.py --verify-jwt``): the one
cryptographic step no rair-cds call can skip.

Extra rows (labelled) give the CPU time the server processes spent per call (``/proc``, workers
included): unlike latency it hardly moves when other work shares the machine, so it is the figure
to compare between runs on a busy machine.

Prints p50/p99 with one client (one worker each), then throughput and p99 with K clients against
``--workers 2`` each, and the ratios to the floor with the issue-11 targets. A benchmark, not a
test: figures depend on the machine and on what else runs on it (the load average is printed).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import queue
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

import jwt  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec  # noqa: E402
from jwt_helpers import public_jwk  # noqa: E402
from large_record import with_routine_labs  # noqa: E402
from redis_server import RedisServer, free_port  # noqa: E402

SAMPLE = REPO / "fhir_samples" / "thyroid" / "patient-view.js-ii-post-therapy-no-uptake.json"
SERVICE = "/cds-services/rair-patient-view"
EVALUATION_DATE = "2026-11-27"
ISSUER = "https://ehr.example.org"
PUBLIC = "https://cds.example.org"


def bodies() -> dict[str, bytes]:
    """The three request bodies, by name."""
    request = json.loads(SAMPLE.read_text(encoding="utf-8"))
    realistic = request
    labs = 0
    while len(json.dumps(realistic)) < 30 * 1024:
        labs += 4
        realistic = with_routine_labs(request, labs)
    return {
        "typical": SAMPLE.read_bytes(),  # as the EHR would send it (indented)
        "realistic": json.dumps(realistic).encode(),
        "10k": json.dumps(with_routine_labs(request, 10_000)).encode(),
    }


PATIENT = b"rair-02"  # the sample's patient id


def variants(body: bytes, count: int) -> list[bytes]:
    """``count`` copies of a request body, each with its own hookInstance and patient id."""
    request = json.loads(body)
    instance = request["hookInstance"].encode()
    if request["context"]["patientId"].encode() != PATIENT:
        raise ValueError("the sample's patient id changed; update PATIENT")
    run = os.urandom(3).hex()
    return [body.replace(instance, str(uuid.uuid4()).encode())
                .replace(PATIENT, f"rair-02-{run}-{i}".encode())
            for i in range(count)]


def same_patient(answer: bytes) -> bytes:
    """An answer with the call's own patient id put back to the sample's (to compare them)."""
    return re.sub(rb"rair-02-[0-9a-f]{6}-[0-9]+", PATIENT, answer)


class Tokens:
    """Fresh signed JWTs for the service (one per call), made before timing."""

    def __init__(self) -> None:
        self.key = ec.generate_private_key(ec.SECP384R1())
        self.issuers = json.dumps({ISSUER: {"keys": [public_jwk(self.key)]}})

    def make(self, count: int) -> list[str]:
        now = int(time.time())
        return [
            jwt.encode({"iss": ISSUER, "aud": PUBLIC + SERVICE, "iat": now, "exp": now + 3000,
                        "jti": f"bench-{now}-{i}-{os.urandom(6).hex()}"},
                       self.key, algorithm="ES384", headers={"kid": "k1"})
            for i in range(count)
        ]


SERVER_PIDS: dict[int, int] = {}  # port -> the server's process id


def cpu_seconds(port: int) -> float:
    """CPU time (user + system) used so far by the server on ``port`` and its worker processes
    (Linux ``/proc``; 0 elsewhere). Unlike latency, it hardly depends on other work running."""
    root = SERVER_PIDS.get(port)
    tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    stats: dict[int, tuple[int, float]] = {}  # pid -> (parent, seconds)
    for entry in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = entry.read_text()
        except OSError:
            continue
        fields = text[text.rindex(")") + 2:].split()
        stats[int(entry.parent.name)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / tick)
    if root is None:
        return 0.0
    family, grew = {root}, True
    while grew:
        more = {pid for pid, (parent, _) in stats.items() if parent in family} - family
        family |= more
        grew = bool(more)
    return sum(stats.get(pid, (0, 0.0))[1] for pid in family)


@contextmanager
def process(args: list[str], env: dict[str, str], port: int) -> Iterator[int]:
    """Run a server process until its /healthz answers; stop it (SIGTERM) afterwards."""
    log = tempfile.TemporaryFile()
    proc = subprocess.Popen(args, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
    SERVER_PIDS[port] = proc.pid
    try:
        give_up = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2):
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > give_up:
                    log.seek(0)
                    output = log.read()[-3000:].decode()
                    raise RuntimeError(f"{args} did not start:\n{output}") from None
                time.sleep(0.2)
        yield port
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def post(conn: http.client.HTTPConnection, body: bytes, token: str | None) -> tuple[int, float,
                                                                                      bytes]:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    started = time.perf_counter()
    conn.request("POST", SERVICE, body, headers)
    response = conn.getresponse()
    payload = response.read()
    return response.status, time.perf_counter() - started, payload


def sequential(port: int, bodies: list[bytes], tokens: list[str] | None) -> tuple[list[float],
                                                                                   bytes]:
    """Latencies of one keep-alive client's calls, one per body (the first 3 warm up)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    out: list[float] = []
    last = b""
    try:
        for i, body in enumerate(bodies):
            status, seconds, last = post(conn, body, tokens[i] if tokens else None)
            if status != 200:
                raise RuntimeError(f"answer {status}: {last[:300]!r}")
            if i >= 3:
                out.append(seconds)
    finally:
        conn.close()
    return out, last


def concurrent(port: int, bodies: list[bytes], clients: int,
               tokens: list[str] | None) -> tuple[float, list[float]]:
    """(requests per second, latencies) of one call per body from ``clients`` threads."""
    total = len(bodies)
    work: queue.SimpleQueue[int] = queue.SimpleQueue()
    for i in range(total):
        work.put(i)
    latencies: list[float] = []
    failures: list[int] = []
    lock = threading.Lock()

    def client() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        try:
            while True:
                try:
                    i = work.get_nowait()
                except queue.Empty:
                    return
                status, seconds, _ = post(conn, bodies[i], tokens[i] if tokens else None)
                with lock:
                    latencies.append(seconds)
                    if status != 200:
                        failures.append(status)
        finally:
            conn.close()

    warm = [threading.Thread(target=client) for _ in range(clients)]
    started = time.perf_counter()
    for thread in warm:
        thread.start()
    for thread in warm:
        thread.join()
    wall = time.perf_counter() - started
    if failures:
        raise RuntimeError(f"{len(failures)} non-200 answers, e.g. {failures[0]}")
    return total / wall, latencies


def load_average() -> str:
    """The 1/5/15-minute load averages (other work on the machine skews every figure)."""
    try:
        return " ".join(f"{v:.2f}" for v in os.getloadavg())
    except OSError:
        return "unknown"


def pct(values: list[float], p: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[p - 1] * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=200, help="calls per small body (%(default)s)")
    parser.add_argument("--big-runs", type=int, default=15, help="calls with 10k (%(default)s)")
    parser.add_argument("--clients", type=int, default=8, help="concurrent clients (%(default)s)")
    parser.add_argument("--requests", type=int, default=800, help="concurrent calls (%(default)s)")
    parser.add_argument("--threads", type=int, default=8, help="threads per worker (%(default)s)")
    args = parser.parse_args()

    data = bodies()
    tokens = Tokens()
    python = sys.executable
    base_env = {k: v for k, v in os.environ.items() if not k.startswith("RAIR_CDS_")}
    tmp = tempfile.mkdtemp(prefix="rair-cds-bench-")
    service_env = {**base_env, "RAIR_CDS_JWT_ISSUERS": tokens.issuers,
                   "RAIR_CDS_PUBLIC_BASE_URL": PUBLIC, "RAIR_CDS_EVALUATION_DATE": EVALUATION_DATE,
                   "RAIR_CDS_FEEDBACK_DB": str(Path(tmp) / "feedback.sqlite3")}
    threads = ["--threads", str(args.threads)]

    def service(port: int, *extra: str, env: dict[str, str] | None = None) -> Any:
        return process([python, "-m", "cds_hooks.cli", "serve", "--port", str(port), *threads,
                        *extra], env or service_env, port)

    def floor_jwt(port: int) -> Any:
        return process([python, "scripts/bench_floor.py", "--port", str(port), *threads,
                        "--verify-jwt", tokens.issuers, "--audience", PUBLIC], base_env, port)

    def floor(port: int, *extra: str) -> Any:
        return process([python, "scripts/bench_floor.py", "--port", str(port), *threads, *extra],
                       base_env, port)

    rows: list[tuple[str, float, float, float, str]] = []
    cpu_rows: list[tuple[str, float, float, float, str]] = []
    print("bodies: " + ", ".join(f"{k} {len(v) / 1024:.1f} KiB" for k, v in data.items())
          + f"; Python {sys.version.split()[0]}; {os.cpu_count()} CPUs; threads per worker "
          f"{args.threads}; load average before {load_average()}")
    with service(free_port()) as sport, floor(free_port()) as fport:
        assessment = None
        for name, runs, target in (("typical", args.runs, 3.0), ("realistic", args.runs, 4.0),
                                   ("10k", args.big_runs, 2.0)):
            warm = variants(data[name], 3)  # so that the CPU figures leave out first calls
            sequential(sport, warm, tokens.make(3))
            sequential(fport, warm, None)
            calls = variants(data[name], runs + 3)
            mine_cpu = cpu_seconds(sport)
            mine, answer = sequential(sport, calls, tokens.make(runs + 3))
            mine_cpu = (cpu_seconds(sport) - mine_cpu) / len(calls) * 1000
            base_cpu = cpu_seconds(fport)
            base, _ = sequential(fport, calls, None)
            base_cpu = (cpu_seconds(fport) - base_cpu) / len(calls) * 1000
            cpu_rows.append((f"(extra) {name}: server CPU ms per call", mine_cpu, base_cpu,
                             mine_cpu / base_cpu if base_cpu else float("nan"), ""))
            found = json.loads(same_patient(answer))["extension"]["rair-cds"]["assessment"]
            if assessment is None:
                assessment = found
            elif found != assessment:
                raise RuntimeError(f"{name}: assessment differs from the typical record's")
            for label, p in (("p50", 50), ("p99", 99)):
                ratio = pct(mine, p) / pct(base, p)
                rows.append((f"{name} 1 client {label} ms", pct(mine, p), pct(base, p), ratio,
                             f"<= {target:g}x" if p == 50 else ""))
        # not the issue's floor: a labelled extra row, the floor plus one ES384 verification
        with floor_jwt(free_port()) as jport:
            calls = variants(data["typical"], args.runs + 3)
            mine, _ = sequential(sport, calls, tokens.make(args.runs + 3))
            base, _ = sequential(jport, calls, tokens.make(args.runs + 3))
            rows.append(("(extra) typical 1 client p50 ms, vs a floor that also verifies the JWT",
                         pct(mine, 50), pct(base, 50), pct(mine, 50) / pct(base, 50), ""))
        rows.extend(cpu_rows)

    redis = None
    env2 = dict(service_env)
    try:
        redis = RedisServer()
        env2["RAIR_CDS_REDIS_URL"] = redis.url
        shared = "Redis"
    except (FileNotFoundError, RuntimeError):
        env2["RAIR_CDS_ALLOW_UNSHARED_STATE"] = "true"
        shared = "no Redis: ALLOW_UNSHARED_STATE"
    try:
        with service(free_port(), "--workers", "2", env=env2) as sport, \
                floor(free_port(), "--workers", "2") as fport:
            warm = variants(data["typical"], 23)
            sequential(sport, warm, tokens.make(23))  # warm both workers
            sequential(fport, warm, None)
            calls = variants(data["typical"], args.requests)
            minted = tokens.make(args.requests)
            mine_cpu = cpu_seconds(sport)
            mine_rps, mine_lat = concurrent(sport, calls, args.clients, minted)
            mine_cpu = (cpu_seconds(sport) - mine_cpu) / len(calls) * 1000
            base_cpu = cpu_seconds(fport)
            base_rps, base_lat = concurrent(fport, calls, args.clients, None)
            base_cpu = (cpu_seconds(fport) - base_cpu) / len(calls) * 1000
            name = f"typical {args.clients} clients, 2 workers"
            rows.append((f"{name}: req/s", mine_rps, base_rps, mine_rps / base_rps, ">= 0.4x"))
            rows.append((f"{name}: p99 ms", pct(mine_lat, 99), pct(base_lat, 99),
                         pct(mine_lat, 99) / pct(base_lat, 99), "rair-cds < 100 ms"))
            rows.append((f"(extra) {name}: server CPU ms per call", mine_cpu, base_cpu,
                         mine_cpu / base_cpu if base_cpu else float("nan"), ""))
    finally:
        if redis is not None:
            redis.stop()

    print(f"shared state with 2 workers: {shared}; load average after {load_average()}\n")
    print("| measure | rair-cds | floor | ratio | target |")
    print("| --- | ---: | ---: | ---: | --- |")
    for label, mine_v, base_v, ratio, target in rows:
        print(f"| {label} | {mine_v:.1f} | {base_v:.1f} | {ratio:.2f}x | {target} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
