"""RAIR_CDS_THYROID_KNOWLEDGE_DIR as the default knowledge folder (knowledge/loader.py)
and the mutant enumeration of scripts/mutate_knowledge.py (issue 13)."""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
KNOWLEDGE = ROOT / "rules" / "thyroid"


def _script():
    spec = importlib.util.spec_from_file_location("mutate_knowledge",
                                                  ROOT / "scripts" / "mutate_knowledge.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["mutate_knowledge"] = module
    spec.loader.exec_module(module)
    return module


PROBE = """
from plugin.thyroid.knowledge.loader import default_folder
from plugin.thyroid.knowledge.codes import load_codes
from plugin.thyroid.facts.builder import load_thresholds
print(default_folder())
print(load_thresholds().bp_systolic_uncontrolled)
"""


def test_the_library_reads_its_knowledge_from_the_environment_folder(tmp_path: Path) -> None:
    folder = tmp_path / "site"
    shutil.copytree(KNOWLEDGE, folder)
    text = (folder / "thresholds.yaml").read_text(encoding="utf-8")
    (folder / "thresholds.yaml").write_text(
        re.sub(r"bp_systolic_uncontrolled: \d+", "bp_systolic_uncontrolled: 135", text),
        encoding="utf-8")
    env = {**os.environ, "RAIR_CDS_THYROID_KNOWLEDGE_DIR": str(folder)}
    out = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, env=env, capture_output=True,
                         text=True, timeout=120, check=True).stdout.split("\n")
    assert out[:2] == [str(folder.resolve()), "135"]


def test_without_the_variable_the_repository_folder_is_used(monkeypatch) -> None:
    from plugin.thyroid.knowledge.loader import default_folder

    monkeypatch.delenv("RAIR_CDS_THYROID_KNOWLEDGE_DIR", raising=False)
    assert default_folder().resolve() == KNOWLEDGE.resolve()
    monkeypatch.setenv("RAIR_CDS_THYROID_KNOWLEDGE_DIR", "  ")
    assert default_folder().resolve() == KNOWLEDGE.resolve()


def test_every_threshold_number_is_mutated_up_and_down() -> None:
    mutants = _script().enumerate_mutants(KNOWLEDGE)
    numbers = yaml.safe_load((KNOWLEDGE / "thresholds.yaml").read_text())["thresholds"]
    found = [m for m in mutants if m.file == "thresholds.yaml"]
    assert len(found) == 2 * len(numbers)
    assert {m.what.split()[0] for m in found} == set(numbers)


def test_every_blocking_flag_and_preferred_conclusion_is_mutated() -> None:
    mutants = _script().enumerate_mutants(KNOWLEDGE)
    flags = preferred = 0
    for path in KNOWLEDGE.glob("*.yaml"):
        for line in path.read_text(encoding="utf-8").splitlines():
            if not line.lstrip().startswith("#"):
                flags += len(re.findall(r"\b\w*blocking: (?:true|false)\b", line))
                preferred += "{type: preferred," in line
    assert sum("blocking" in m.what and "->" in m.what for m in mutants) == flags > 0
    assert sum(m.what.startswith("preferred ") for m in mutants) == preferred > 0


def test_every_safety_code_and_drug_age_is_mutated() -> None:
    script = _script()
    mutants = script.enumerate_mutants(KNOWLEDGE)
    concepts = yaml.safe_load((KNOWLEDGE / "codes.yaml").read_text())["concepts"]
    for concept in script.SAFETY_CONCEPTS:
        for code in concepts[concept]:
            assert any(m.what == f"concepts {concept}: code {code} removed" for m in mutants), code
    assert any("BRAF V600E: code c.1799T>A removed" in m.what for m in mutants)
    drugs = yaml.safe_load((KNOWLEDGE / "therapies.yaml").read_text())["drugs"]
    for drug, facts in drugs.items():
        assert any(m.what.startswith(f"{drug} min_age") for m in mutants), drug
        if facts["min_age"]:
            assert sum(m.what.startswith(f"{drug} min_age") for m in mutants) == 2, drug
