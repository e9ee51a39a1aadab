"""Benchmark the running service: latency per hook and throughput over HTTP (prints figures).

Usage: .venv/bin/python scripts/bench_service.py [--runs N] [--clients K] [--threads T]

Starts the real waitress server on a free loopback port (AUTH_MODE off, EVALUATION_DATE
2026-11-27, a throw-away feedback database), then posts every
``fhir_samples/thyroid/patient-view.*.json`` request N times, and one order-sign sample from
``fhir_samples/thyroid/orders/`` when present: first sequentially from one client, then from K
concurrent client threads (each with its own keep-alive connection). Prints median, p95 and
p99 latency per hook and the throughput. Every answer must be 200; failures are counted.
The spec asks services to answer "on the order of 500 ms" (CDS Hooks 2.0).
"""

from __future__ import annotations

import argparse
import http.client
import json
import logging
import queue
import statistics
import sys
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from cds_hooks import create_app  # noqa: E402  (needs the repo on sys.path first)
from cds_hooks.server import BackgroundServer, create_server  # noqa: E402

SAMPLES = REPO / "fhir_samples" / "thyroid"
EVALUATION_DATE = "2026-11-27"


def load_requests() -> list[tuple[str, str, bytes]]:
    """``(hook, sample name, body)`` for each patient-view sample and one order-sign sample."""
    requests_ = []
    for path in sorted(SAMPLES.glob("patient-view.*.json")):
        requests_.append(("patient-view", path.stem, path.read_bytes()))
    order_sign = sorted((SAMPLES / "orders").glob("order-sign.*.json"))
    if order_sign:
        requests_.append(("order-sign", order_sign[0].stem, order_sign[0].read_bytes()))
    return requests_


class Client:
    """One keep-alive HTTP/1.1 connection to the server."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

    def post(self, path: str, body: bytes) -> tuple[int, float]:
        """``(status, seconds)`` for one POST; reconnects once if the server closed the socket."""
        headers = {"Content-Type": "application/json"}
        started = time.perf_counter()
        try:
            self.conn.request("POST", path, body, headers)
            response = self.conn.getresponse()
        except (http.client.HTTPException, ConnectionError):
            self.conn.close()
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
            self.conn.request("POST", path, body, headers)
            response = self.conn.getresponse()
        response.read()
        return response.status, time.perf_counter() - started

    def get_json(self, path: str) -> dict:
        self.conn.request("GET", path)
        return json.loads(self.conn.getresponse().read())

    def close(self) -> None:
        self.conn.close()


def percentile(values: list[float], pct: int) -> float:
    """The ``pct``-th percentile (inclusive method); the value itself for one sample."""
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[pct - 1]


def report(title: str, latencies: dict[str, list[float]], wall: float, failures: int) -> None:
    total = sum(len(v) for v in latencies.values())
    print(f"\n{title}: {total} requests in {wall:.2f} s = {total / wall:.1f} req/s"
          f"; non-200 answers: {failures}")
    print(f"  {'hook':<14}{'n':>6}{'median ms':>12}{'p95 ms':>10}{'p99 ms':>10}{'max ms':>10}")
    for hook, values in sorted(latencies.items()):
        ms = [v * 1000 for v in values]
        print(
            f"  {hook:<14}{len(ms):>6}{statistics.median(ms):>12.1f}"
            f"{percentile(ms, 95):>10.1f}{percentile(ms, 99):>10.1f}{max(ms):>10.1f}"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=20, help="posts of each sample (%(default)s)")
    parser.add_argument("--clients", type=int, default=8, help="concurrent clients (%(default)s)")
    parser.add_argument("--threads", type=int, default=8, help="waitress threads (%(default)s)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)

    requests_ = load_requests()
    if not requests_:
        print(f"no samples under {SAMPLES}", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory() as tmp:
        app = create_app(
            {
                "AUTH_MODE": "off",
                "EVALUATION_DATE": EVALUATION_DATE,
                "FEEDBACK_DB": str(Path(tmp) / "feedback.sqlite3"),
            }
        )
        server = create_server(app, host="127.0.0.1", port=0, threads=args.threads)
        with BackgroundServer(server) as running:
            port = running.server.effective_port
            probe = Client(port)
            services = {s["hook"]: s["id"] for s in probe.get_json("/cds-services")["services"]}
            paths = {hook: f"/cds-services/{services[hook]}" for hook, _, _ in requests_}
            for hook, _, body in requests_:  # warm-up: rule engine, caches, connections
                probe.post(paths[hook], body)
            print(
                f"{len(requests_)} samples ({sum(h == 'patient-view' for h, _, _ in requests_)} "
                f"patient-view, {sum(h == 'order-sign' for h, _, _ in requests_)} order-sign), "
                f"{args.runs} runs each; waitress threads {args.threads}; "
                f"evaluation date {EVALUATION_DATE}; Python {sys.version.split()[0]}"
            )

            # sequential: one client, one request at a time
            latencies: dict[str, list[float]] = defaultdict(list)
            failures = 0
            started = time.perf_counter()
            for _ in range(args.runs):
                for hook, _, body in requests_:
                    status, seconds = probe.post(paths[hook], body)
                    latencies[hook].append(seconds)
                    failures += status != 200
            report("sequential (1 client)", latencies, time.perf_counter() - started, failures)
            probe.close()

            # concurrent: K clients share one queue of the same work
            work: queue.SimpleQueue = queue.SimpleQueue()
            for _ in range(args.runs):
                for item in requests_:
                    work.put(item)
            latencies = defaultdict(list)
            counts = {"failures": 0}
            lock = threading.Lock()

            def worker() -> None:
                client = Client(port)
                try:
                    while True:
                        try:
                            hook, _, body = work.get_nowait()
                        except queue.Empty:
                            return
                        status, seconds = client.post(paths[hook], body)
                        with lock:
                            latencies[hook].append(seconds)
                            counts["failures"] += status != 200
                finally:
                    client.close()

            threads = [threading.Thread(target=worker) for _ in range(args.clients)]
            started = time.perf_counter()
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            report(
                f"concurrent ({args.clients} clients)",
                latencies,
                time.perf_counter() - started,
                counts["failures"],
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
