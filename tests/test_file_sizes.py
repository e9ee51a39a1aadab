"""No hand-written source file over 400 lines (issue 10, "Done when").

A long file is where a newcomer gets lost: it mixes concerns that want their own module (see
docs/ARCHITECTURE.md). Every tracked Python, JavaScript, CSS and HTML file counts, and the YAML
knowledge under ``rules/``. Data is out of scope (the generated sample patients in
``fhir_samples/``, the FHIR test fixtures, JSON schemas). Generated data that ever matches these
globs goes in :data:`GENERATED` with the command that writes it; hand-written code never does:
split it by concern.
"""

from __future__ import annotations

import fnmatch
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MAX_LINES = 400
#: What counts as source: code of every kind, and the knowledge files (rules as data).
SOURCE_GLOBS = ("*.py", "*.js", "*.css", "*.html", "rules/*.yaml", "rules/*/*.yaml")
#: Generated data only, never hand-written code; each entry with the command that writes it.
#: Empty today: the generated sample patients (scripts/make_samples.py,
#: fhir_samples/thyroid/*/generate.py) are JSON, outside SOURCE_GLOBS.
GENERATED: tuple[str, ...] = ()


def tracked_sources() -> list[Path]:
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("needs a git checkout to list the tracked files")
    listed = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True
    ).stdout.decode("utf-8").split("\0")
    return [
        ROOT / name
        for name in listed
        if name
        and any(fnmatch.fnmatch(name, glob) for glob in SOURCE_GLOBS)
        and not any(fnmatch.fnmatch(name, glob) for glob in GENERATED)
        and (ROOT / name).is_file()  # deleted in the work tree but not yet in the index
    ]


def line_count(path: Path) -> int:
    with path.open("rb") as handle:
        return sum(1 for _ in handle)


def test_no_tracked_source_file_is_over_400_lines():
    sources = tracked_sources()
    assert any(p.name == "conftest.py" for p in sources)  # the listing itself works
    too_long = {
        p.relative_to(ROOT).as_posix(): n for p in sources if (n := line_count(p)) > MAX_LINES
    }
    assert too_long == {}, f"over {MAX_LINES} lines; split by concern: {too_long}"


def test_the_check_counts_lines_and_would_catch_a_long_file(tmp_path):
    # proves the test above can fail: the counter sees a 401-line file as over the limit
    long_file = tmp_path / "long.py"
    long_file.write_text("x = 1\n" * (MAX_LINES + 1), encoding="utf-8")
    assert line_count(long_file) == MAX_LINES + 1 > MAX_LINES
    assert not any(fnmatch.fnmatch("plugin/engine/runtime.py", g) for g in GENERATED)
    assert any(fnmatch.fnmatch("rules/thyroid/cards.yaml", g) for g in SOURCE_GLOBS)
