#!/usr/bin/env python3
"""Mutation testing of the clinical knowledge (rules/thyroid): does the suite notice a wrong
number, flag or code?

Each mutant is ONE plausible knowledge bug, enumerated from the files as they are now:

* every number in ``thresholds.yaml``, one step up and one step down (1, or 0.1 for a decimal
  such as K 3.5), which moves the boundary across the value a test should pin;
* every ``blocking`` / ``*_blocking`` flag in any knowledge file, flipped;
* every drug age limit in ``therapies.yaml`` (``min_age``), one year/month up and down, and a
  missing limit (``null``) turned into "adults only";
* every ``preferred`` conclusion in the rule files, removed;
* every pair of neighbouring tiers in ``precedence.yaml`` swapped (what wins between two
  candidates of one kind, DECISIONS §D4.17);
* every order rule (``orders.rules.yaml``: its ``order_check`` conclusion), removed;
* every code of the safety-relevant concepts in ``codes.yaml`` (pregnancy, lactation, I-131 and
  RAI orders, blood pressure, fusion terms, the BRAF V600E hotspot, the BRAF/RET/NTRK gene ids,
  the RET/NTRK fusion genes and aliases) and a stable sample of the other codes (those whose
  text hashes to 0 modulo ``--sample``), each replaced by a code no record uses.

For each mutant the knowledge folder is copied to a temporary directory, the one line changed
there, and the fast knowledge tests (``TESTS``) run against the copy through
``RAIR_CDS_THYROID_KNOWLEDGE_DIR``, with ``-x`` (stop at the first failure), ``--jobs`` at a
time. The working tree is never written. A mutant is *killed* when the tests fail; the script
prints the kill rate and each survivor with its ``file:line``. Run from the repository root:

    .venv/bin/python scripts/mutate_knowledge.py            # all mutants, 2 at a time
    .venv/bin/python scripts/mutate_knowledge.py --list     # what would be run
    .venv/bin/python scripts/mutate_knowledge.py --match thresholds.yaml --jobs 1
    .venv/bin/python scripts/mutate_knowledge.py --match precedence.yaml   # the tiers only

Exit status: 0 when the kill rate reaches ``--min-rate`` (default 95), 1 otherwise, 2 when the
unmutated knowledge already fails the tests.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import dataclasses
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
KNOWLEDGE = ROOT / "rules" / "thyroid"
ENV_VAR = "RAIR_CDS_THYROID_KNOWLEDGE_DIR"  # plugin/thyroid/knowledge/loader.py default_folder()
# The test files per stage, most pointed first (scripts/mutate_knowledge_tests.yaml says why).
_LISTS = yaml.safe_load((Path(__file__).with_name("mutate_knowledge_tests.yaml"))
                        .read_text(encoding="utf-8"))
FIRST_STAGE: list[str] = _LISTS["first_stage"]
ASSESSMENT_TESTS: list[str] = _LISTS["assessment"]
OUTPUT_TESTS: list[str] = _LISTS["output"]
RULE_TESTS = [*ASSESSMENT_TESTS, *OUTPUT_TESTS]
FHIR_TESTS: list[str] = _LISTS["fhir"]
ORDER_TESTS: list[str] = _LISTS["orders"]
TESTS = {
    "codes.yaml": [*FHIR_TESTS, *OUTPUT_TESTS, *ASSESSMENT_TESTS],
    "orders.rules.yaml": ORDER_TESTS,
    "": [*RULE_TESTS, *FHIR_TESTS],
}
# codes.yaml `concepts:` keys whose every code is mutated (the rest are sampled).
SAFETY_CONCEPTS = {
    "pregnancy_status", "pregnant", "not_pregnant", "lactating",
    "i131", "rai_therapy_order", "radiopharmaceutical_procedure", "intent_therapeutic",
    "blood_pressure_panel", "systolic_bp", "diastolic_bp", "fusion_terms",
}
SAFETY_GENES = {"BRAF", "RET", "NTRK1", "NTRK2", "NTRK3"}
SAFETY_HOTSPOTS = {("BRAF", "V600E")}


@dataclasses.dataclass(frozen=True)
class Mutant:
    """One change: ``new`` replaces line ``line`` (1-based) of ``file``, or lines ``line`` to
    ``end`` (inclusive) when ``end`` is set (``new`` may hold several lines)."""

    file: str
    line: int
    new: str
    what: str
    end: int | None = None

    def apply(self, lines: list[str]) -> list[str]:
        """``lines`` with the change made."""
        return [*lines[: self.line - 1], self.new, *lines[(self.end or self.line):]]

    @property
    def where(self) -> str:
        return f"rules/thyroid/{self.file}:{self.line}"


# ------------------------------------------------------------------------ enumeration


def _numbers(lines: list[str]) -> Iterator[Mutant]:
    inside = False
    for i, text in enumerate(lines, 1):
        if re.match(r"^\S", text):
            inside = text.startswith("thresholds:")
            continue
        m = re.match(r"^(\s+)(\w+):(\s*)(-?\d+(?:\.(\d+))?)(\s*(?:#.*)?)$", text)
        if not inside or not m:
            continue
        value = m.group(4)
        places = len(m.group(5) or "")
        step = 10 ** -places
        for sign, word in ((1, "up"), (-1, "down")):
            new = f"{float(value) + sign * step:.{places}f}"
            yield Mutant("thresholds.yaml", i, f"{m.group(1)}{m.group(2)}:{m.group(3)}{new}"
                         f"{m.group(6)}", f"{m.group(2)} {value} -> {new} ({word})")


def _blocking(name: str, lines: list[str]) -> Iterator[Mutant]:
    for i, text in enumerate(lines, 1):
        if text.lstrip().startswith("#"):
            continue
        for m in re.finditer(r"\b(\w*blocking): (true|false)\b", text):
            flipped = "false" if m.group(2) == "true" else "true"
            new = text[: m.start(2)] + flipped + text[m.end(2):]
            code = re.search(r"code: ([\w-]+)", text)
            label = f"{code.group(1)} " if code else ""
            yield Mutant(name, i, new, f"{label}{m.group(1)} {m.group(2)} -> {flipped}")


def _ages(lines: list[str]) -> Iterator[Mutant]:
    drug = ""
    for i, text in enumerate(lines, 1):
        head = re.match(r"^  ([\w+]+):\s*$", text)
        if head:
            drug = head.group(1)
        m = re.match(r"^(\s+min_age: \{)(years|months_exclusive): (\d+)(\}.*)$", text)
        if m:
            value = int(m.group(3))
            for new in (value + 1, value - 1):
                if new >= 0:
                    yield Mutant("therapies.yaml", i, f"{m.group(1)}{m.group(2)}: {new}"
                                 f"{m.group(4)}", f"{drug} min_age {m.group(2)} {value} -> {new}")
        elif re.match(r"^\s+min_age: null\b", text):
            yield Mutant("therapies.yaml", i, text.replace("null", "{years: 18}", 1),
                         f"{drug} min_age null -> 18 years")


def _preferred(name: str, lines: list[str]) -> Iterator[Mutant]:
    for i, text in enumerate(lines, 1):
        m = re.search(r"\{type: preferred, drug: ([\w+]+)[,}]", text)
        if not m:
            continue
        if text.lstrip().startswith("- "):
            new = ""  # the list item deleted (a blank line)
        else:  # `assert: {type: preferred, ...}` as the only conclusion
            new = text[: text.index("assert:")] + "record: true"
        yield Mutant(name, i, new, f"preferred {m.group(1)} removed")


def _tier_swaps(lines: list[str]) -> Iterator[Mutant]:
    """Each tier of ``precedence.yaml`` swapped with the next tier of its kind (line blocks)."""
    kind, blocks = "", []  # blocks: (kind, tier name, first line, last line)
    for i, text in enumerate(lines, 1):
        kind = m.group(1) if (m := re.match(r"^(\w+):", text)) else kind
        if tier := re.match(r"^    - name: (\w+)", text):
            blocks.append((kind, tier.group(1), i, i))
        elif blocks and blocks[-1][3] == i - 1 and re.match(r"^      \w", text):
            blocks[-1] = (*blocks[-1][:3], i)
    for a, b in zip(blocks, blocks[1:], strict=False):
        if a[0] == b[0] and a[3] + 1 == b[2]:
            yield Mutant("precedence.yaml", a[2], "\n".join(lines[b[2] - 1:b[3]] + lines[
                a[2] - 1:a[3]]), f"tiers {a[1]} and {b[1]} ({a[0]}) swapped", end=b[3])


def _order_rules(name: str, lines: list[str]) -> Iterator[Mutant]:
    rule = ""
    for i, text in enumerate(lines, 1):
        head = re.match(r"^(\w+):\s*$", text)
        if head:
            rule = head.group(1)
        if re.match(r"^\s+assert: \{type: order_check\b", text):
            new = text[: text.index("assert:")] + "record: true"
            yield Mutant(name, i, new, f"order rule {rule} removed")


def _flow_items(text: str, after: int = 0) -> Iterator[tuple[int, int, str]]:
    """(start, end, item) of each item of the first ``[...]`` flow list from ``after`` on."""
    open_at = text.find("[", after)
    close_at = text.find("]", open_at)
    if open_at < 0 or close_at < open_at:
        return
    for m in re.finditer(r'"[^"]*"|\'[^\']*\'|[^,\s\[\]][^,\[\]]*', text[open_at + 1:close_at]):
        item = m.group(0).strip()
        start = open_at + 1 + m.start()
        yield start, start + len(item), item.strip("\"'")


def _sampled(key: str, every: int) -> bool:
    return int(hashlib.sha1(key.encode()).hexdigest(), 16) % every == 0


def _codes(lines: list[str], every: int) -> Iterator[Mutant]:
    section = ""
    gene = alteration = ""
    for i, text in enumerate(lines, 1):
        if text.lstrip().startswith("#") or not text.strip():
            continue
        top = re.match(r"^(\w+):", text)
        if top:
            section = top.group(1)
        key = re.match(r"^\s+-?\s*(\w[\w/.]*):", text)
        key_name = key.group(1) if key else ""
        if section == "hotspots":
            gene = m.group(1) if (m := re.match(r"^\s+- gene: (\w+)", text)) else gene
            m = re.match(r"^\s+alteration: (\S+)", text)
            alteration = m.group(1) if m else alteration
        if section == "genes" and key:
            if key_name in SAFETY_GENES or _sampled(f"genes/{key_name}", every):
                m = re.match(r"^(\s+\w+: )(\d+)(.*)$", text)
                if m:
                    wrong = int(m.group(2)) + 900000  # an id no gene has
                    yield Mutant("codes.yaml", i, f"{m.group(1)}{wrong}{m.group(3)}",
                                 f"HGNC id of {key_name} {m.group(2)} -> {wrong}")
            continue
        if section == "fusion_aliases" and key:
            yield Mutant("codes.yaml", i, text.replace(key_name, key_name + "-MUTANT", 1),
                         f"fusion alias {key_name} removed")
            continue
        if section == "fusion_3prime_genes":
            for start, end, item in _flow_items(text):
                if item in SAFETY_GENES:
                    yield Mutant("codes.yaml", i, text[:start] + "MUTANT" + text[end:],
                                 f"fusion 3' gene {item} removed")
            continue
        listed = {"concepts": key_name != "", "hotspots": key_name in ("genomic", "coding"),
                  "drugs": "rxnorm: [" in text, "histology": key_name != "" and "[" in text}
        if listed.get(section):
            after = text.find("rxnorm: [") if section == "drugs" else 0
            for start, end, item in _flow_items(text, after):
                owner = f"{gene} {alteration}" if section == "hotspots" else key_name
                safe = (section == "concepts" and key_name in SAFETY_CONCEPTS) or (
                    section == "hotspots" and (gene, alteration) in SAFETY_HOTSPOTS)
                if safe or _sampled(f"{section}/{owner}/{item}", every):
                    quote = text[start] if text[start] in "\"'" else ""
                    new = text[:start] + f"{quote}MUTANT-{item}{quote}" + text[end:]
                    yield Mutant("codes.yaml", i, new, f"{section} {owner}: code {item} removed")


def enumerate_mutants(knowledge: Path = KNOWLEDGE, every: int = 4) -> list[Mutant]:
    """Every mutant of the knowledge files as they are now."""
    def read(name: str) -> list[str]:
        return (knowledge / name).read_text(encoding="utf-8").splitlines()

    mutants = [*_numbers(read("thresholds.yaml")), *_ages(read("therapies.yaml"))]
    if (knowledge / "precedence.yaml").exists():
        mutants += _tier_swaps(read("precedence.yaml"))
    for path in sorted(knowledge.glob("*.yaml")):
        mutants += _blocking(path.name, read(path.name))
        if path.name == "orders.rules.yaml":
            mutants += _order_rules(path.name, read(path.name))
        elif path.name.endswith(".rules.yaml"):
            mutants += _preferred(path.name, read(path.name))
    mutants += _codes(read("codes.yaml"), every)
    return [m for m in mutants if _still_valid(knowledge, m)]


def _still_valid(knowledge: Path, mutant: Mutant) -> bool:
    lines = mutant.apply((knowledge / mutant.file).read_text(encoding="utf-8").splitlines())
    try:
        yaml.safe_load("\n".join(lines))
    except yaml.YAMLError:
        print(f"skipped (not valid YAML once mutated): {mutant.where} {mutant.what}",
              file=sys.stderr)
        return False
    return True


# ------------------------------------------------------------------------ running


@dataclasses.dataclass
class Outcome:
    mutant: Mutant | None
    killed: bool
    detail: str
    seconds: float


def _run(mutant: Mutant | None, tests: list[str], timeout: float, base: Path) -> Outcome:
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="rair-mutant-") as tmp:
        folder = Path(tmp) / "thyroid"
        shutil.copytree(base, folder)
        if mutant is not None:
            path = folder / mutant.file
            lines = mutant.apply(path.read_text(encoding="utf-8").splitlines())
            path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        env = {**os.environ, ENV_VAR: str(folder), "CI": "true", "PYTHONDONTWRITEBYTECODE": "1",
               "HYPOTHESIS_DATABASE_FILE": str(Path(tmp) / "hypothesis")}
        stages = [[t for t in tests if t in FIRST_STAGE], [t for t in tests
                                                         if t not in FIRST_STAGE]]
        for stage in [s for s in stages if s]:
            command = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider",
                       "-o", "addopts=-ra", "--no-header", *stage]
            try:
                proc = subprocess.run(command, cwd=ROOT, env=env, capture_output=True,
                                      text=True, timeout=timeout)
            except subprocess.TimeoutExpired:
                return Outcome(mutant, True, f"timeout after {timeout:.0f} s",
                               time.monotonic() - started)
            if proc.returncode != 0:
                break
    failed = re.findall(r"^(?:FAILED|ERROR) (\S+)", proc.stdout, re.M)
    detail = failed[0] if failed else proc.stdout.strip().splitlines()[-1:] or ["(no output)"]
    return Outcome(mutant, proc.returncode != 0, str(detail if failed else detail[0]),
                   time.monotonic() - started)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=2, help="mutants run at once (default 2)")
    parser.add_argument("--sample", type=int, default=4,
                        help="mutate 1 in N of the codes outside the safety concepts (default 4)")
    parser.add_argument("--match", default="", help="only mutants whose location or text has this")
    parser.add_argument("--list", action="store_true", help="list the mutants and stop")
    parser.add_argument("--timeout", type=float, default=600, help="seconds per mutant")
    parser.add_argument("--min-rate", type=float, default=95.0, help="exit 1 below this kill rate")
    parser.add_argument("--tests", nargs="*", help="test files to run (default: TESTS)")
    parser.add_argument("--no-baseline", action="store_true",
                        help="skip the run of the unmutated knowledge (when re-checking a few)")
    args = parser.parse_args(argv)

    # One snapshot of the knowledge for the whole run: the mutants' line numbers stay right
    # even if rules/ changes while the run goes on.
    snapshot = tempfile.TemporaryDirectory(prefix="rair-knowledge-")
    base = Path(snapshot.name) / "thyroid"
    shutil.copytree(KNOWLEDGE, base)
    mutants = [m for m in enumerate_mutants(base, args.sample)
               if args.match in f"{m.where} {m.what}"]
    if args.list:
        for m in mutants:
            print(f"{m.where}: {m.what}")
        print(f"{len(mutants)} mutants")
        return 0
    def tests(mutant: Mutant | None) -> list[str]:
        names = args.tests or [*FIRST_STAGE,
                               *TESTS.get(mutant.file if mutant else "", TESTS[""])]
        return [t for t in names if (ROOT / t).exists()]

    print(f"{len(mutants)} mutants, {len(tests(None))} test files, {args.jobs} at a time",
          flush=True)
    baseline = Outcome(None, False, "skipped", 0.0) if args.no_baseline else _run(
        None, tests(None), args.timeout, base)
    if baseline.killed:
        print(f"the UNMUTATED knowledge fails the tests ({baseline.detail}); fix that first")
        return 2
    print(f"baseline passes in {baseline.seconds:.0f} s", flush=True)
    outcomes: list[Outcome] = []
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        futures = [pool.submit(_run, m, tests(m), args.timeout, base) for m in mutants]
        for future in concurrent.futures.as_completed(futures):
            o = future.result()
            outcomes.append(o)
            assert o.mutant is not None
            state = "killed  " if o.killed else "SURVIVED"
            print(f"[{len(outcomes)}/{len(mutants)}] {state} {o.mutant.where}: {o.mutant.what}"
                  f"  ({o.detail}, {o.seconds:.0f} s)", flush=True)
    survivors = sorted((o.mutant for o in outcomes if not o.killed and o.mutant),
                       key=lambda m: (m.file, m.line, m.what))
    killed = len(outcomes) - len(survivors)
    rate = 100.0 * killed / len(outcomes) if outcomes else 100.0
    print(f"\nkill rate: {killed}/{len(outcomes)} = {rate:.1f}%")
    for m in survivors:
        print(f"survivor: {m.where}: {m.what}")
    return 0 if rate >= args.min_rate else 1


if __name__ == "__main__":
    sys.exit(main())
