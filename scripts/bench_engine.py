"""Benchmark plugin.engine: evaluation latency and memory growth (prints figures).

Usage: .venv/bin/python scripts/bench_engine.py [--runs N] [--leak-runs N] [RULE_FILE ...]

Without rule files it uses the small test rulesets in tests/rules_fixtures/ (its patients use
their fact vocabulary). docs/ENGINE.md §E1.3 has the figures it gave, to compare with.
"""

from __future__ import annotations

import argparse
import random
import resource
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from plugin.engine import RuleEngine  # noqa: E402  (needs the repo on sys.path first)

DEFAULT_RULES = [
    REPO / "tests/rules_fixtures/criteria.rules.yaml",
    REPO / "tests/rules_fixtures/eligibility.rules.yaml",
]


def make_patient(rng: random.Random, size: int) -> list[dict]:
    """A patient that walks the fixture chain, padded with unmatched lab facts."""
    facts = [
        {"type": "diagnosis", "histology": "papillary", "id": "Condition/1"},
        {"type": "scan", "uptake": "none", "valid": True, "id": "DiagnosticReport/1"},
        {"type": "rai_treatment", "day": 100, "id": "Procedure/1"},
        {"type": "progression", "day": 300, "id": "Observation/p1"},
        {"type": "variant", "gene": "BRAF", "protein": "p.Val600Glu", "id": "Observation/v1"},
        {"type": "patient", "age": 61},
    ]
    while len(facts) < size:
        facts.append(
            {
                "type": "lab",
                "code": rng.choice(["tg", "tgab", "tsh"]),
                "value": round(rng.uniform(0, 50), 2),
                "day": rng.randrange(0, 3000),
                "id": f"Observation/lab-{len(facts)}",
            }
        )
    rng.shuffle(facts)
    return facts


def rss_mib() -> float:
    """Current resident set size in MiB (Linux /proc; ru_maxrss elsewhere)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def time_evaluations(engine: RuleEngine, patients: list[list[dict]], runs: int) -> list[float]:
    times = []
    for i in range(runs):
        facts = patients[i % len(patients)]
        start = time.perf_counter()
        engine.evaluate(facts)
        times.append((time.perf_counter() - start) * 1000)
    return times


def p99(values: list[float]) -> float:
    return statistics.quantiles(values, n=100)[98]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("rule_files", nargs="*", type=Path, default=DEFAULT_RULES)
    parser.add_argument("--runs", type=int, default=2000, help="timed evaluations per size")
    parser.add_argument("--leak-runs", type=int, default=20000, help="evaluations for RSS")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)

    rng = random.Random(args.seed)
    start = time.perf_counter()
    engine = RuleEngine(args.rule_files, name="bench")
    load_ms = (time.perf_counter() - start) * 1000
    print(f"rules: {len(engine.rules)} from {len(args.rule_files)} file(s); load {load_ms:.1f} ms")
    try:
        for size in (10, 500):
            patients = [make_patient(rng, size) for _ in range(50)]
            fired = len(engine.evaluate(patients[0]).fired)
            time_evaluations(engine, patients, min(200, args.runs))  # warm-up
            times = time_evaluations(engine, patients, args.runs)
            print(
                f"~{size:>3} facts: median {statistics.median(times):.3f} ms, "
                f"p99 {p99(times):.3f} ms over {args.runs} runs ({fired} rules fired)"
            )

        patients = [make_patient(rng, rng.choice((10, 50, 200))) for _ in range(100)]
        time_evaluations(engine, patients, 500)  # let allocator pools settle first
        before = rss_mib()
        checkpoints = []
        for i in range(args.leak_runs):
            engine.evaluate(patients[i % len(patients)])
            if (i + 1) % max(1, args.leak_runs // 4) == 0:
                checkpoints.append(f"{rss_mib() - before:+.1f}")
        after = rss_mib()
        print(
            f"RSS over {args.leak_runs} evaluations: {before:.1f} -> {after:.1f} MiB "
            f"({after - before:+.2f} MiB; at quarters: {', '.join(checkpoints)})"
        )
    finally:
        engine.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
