"""The README and the published CodeSystem say what the code does: checked, not trusted."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
RAIR_SYSTEM = "https://rair-cds.org/fhir/CodeSystem/concepts"
CODESYSTEM = ROOT / "fhir_samples" / "thyroid" / "CodeSystem-rair-concepts.json"


def _defined_codes() -> set[str]:
    resource = json.loads(CODESYSTEM.read_text(encoding="utf-8"))
    assert resource["resourceType"] == "CodeSystem"
    assert resource["url"] == RAIR_SYSTEM
    return {concept["code"] for concept in resource["concept"]}


def _codes_used_in_yaml(path: Path) -> set[str]:
    """``rair#code`` strings and ``{system: <rair>, code: x}`` mappings in a YAML file."""
    found: set[str] = set()

    def walk(node: object) -> None:
        if isinstance(node, dict):
            if node.get("system") == RAIR_SYSTEM and isinstance(node.get("code"), str):
                found.add(node["code"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)
        elif isinstance(node, str):
            found.update(re.findall(r"\brair#([a-z0-9-]+)", node))

    walk(yaml.safe_load(path.read_text(encoding="utf-8")))
    return found


def test_readme_code_table_lists_exactly_the_published_codesystem():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    in_readme = set(re.findall(r"^\| `rair#([a-z0-9-]+)` \|", readme, flags=re.MULTILINE))

    assert in_readme == _defined_codes()


def test_every_project_code_in_the_code_lists_is_published():
    used = _codes_used_in_yaml(ROOT / "rules" / "thyroid" / "codes.yaml")

    assert used, "codes.yaml names no project codes: the walker is broken"
    assert used <= _defined_codes(), f"undefined: {sorted(used - _defined_codes())}"


def test_every_project_code_the_samples_use_is_published():
    used: set[str] = set()
    for path in (ROOT / "fhir_samples").rglob("*.json"):
        text = path.read_text(encoding="utf-8")
        for match in re.finditer(
            r'"system":\s*"' + re.escape(RAIR_SYSTEM) + r'",\s*"code":\s*"([^"]+)"', text
        ):
            used.add(match.group(1))

    assert used, "no sample uses a project code: the pattern is broken"
    assert used <= _defined_codes(), f"undefined: {sorted(used - _defined_codes())}"


def test_readme_quick_start_commands_exist():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for script in re.findall(r"^bash (scripts/\S+\.sh)", readme, flags=re.MULTILINE):
        assert (ROOT / script).is_file(), script
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "scripts/test.sh" in ci and "bash scripts/test.sh" in readme
