"""Rewrite citations of the shared domain file into citations of docs/DECISIONS.md (issue 10).

Usage: python scripts/cite_decisions.py   (from the repository root; prints the files changed)

Mechanical and idempotent: in every tracked ``.py``, ``.yaml``, ``.md`` and ``.json`` file under
``plugin/``, ``cds_hooks/``, ``rules/``, ``scripts/``, ``tests/`` and ``fhir_samples/``, a run of
references after ``DOMAIN.md`` (or ``DOMAIN``) becomes ``DECISIONS`` with the sections renumbered:
``§An`` -> ``§Dn``, ``§n`` (Part B) -> ``§Kn``, ``B0.n`` -> ``§K0.n``; rule IDs (``C1``, ``E3``)
stay. ``DOMAIN.md §A4.2, §A4.10, §5`` -> ``DECISIONS §D4.2, §D4.10, §K5`` (same length as before,
so line limits hold). Mentions that are not section citations ("DOMAIN.md rule ID") are left.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FOLDERS = ("plugin", "cds_hooks", "rules", "scripts", "tests", "fhir_samples")
SUFFIXES = (".py", ".yaml", ".md", ".json")
TOKEN = r"(?:§?B0\.\d|§[A-Z]?\d+(?:\.\d+)*|[A-H]\d+[a-z]?)"
RUN = re.compile(r"DOMAIN(?:\.md)? (" + TOKEN + r"(?:(?:, |/|-|; | and )" + TOKEN + r")*)")


def _section(match: re.Match[str]) -> str:
    ref = match.group(0)
    if re.fullmatch(r"§?B0\.\d", ref):
        return "§K" + ref.lstrip("§B")
    if ref.startswith("§A"):
        return "§D" + ref[2:]
    if re.fullmatch(r"§\d+(?:\.\d+)*", ref):
        return "§K" + ref[1:]
    return ref  # a rule ID


def rewrite(text: str) -> str:
    """``text`` with every domain-file citation run pointed at DECISIONS."""
    return RUN.sub(lambda m: "DECISIONS " + re.sub(TOKEN, _section, m.group(1)), text)


def main() -> None:
    listed = subprocess.run(["git", "ls-files", *FOLDERS], cwd=ROOT, capture_output=True,
                            text=True, check=True).stdout.split()
    for name in listed:
        if not name.endswith(SUFFIXES) or name == "scripts/cite_decisions.py":
            continue
        path = ROOT / name
        text = path.read_text(encoding="utf-8")
        new = rewrite(text)
        if new != text:
            path.write_text(new, encoding="utf-8")
            print(name)


if __name__ == "__main__":
    main()
