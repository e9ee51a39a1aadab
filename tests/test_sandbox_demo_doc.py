"""docs/DEMO.md "A public sandbox, step by step" (issue 12 item 7) stays true: its commands parse
with the real ``rair-cds`` parser, its settings exist, its sandbox link points at the server it
loads and the service it starts, and its table "what to expect" is the expected assessments.
"""

from __future__ import annotations

import importlib.util
import json
import re
import shlex
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from conftest import REPO_DIR

from cds_hooks.app import load_config
from cds_hooks.cli import build_parser
from plugin.thyroid.samples import sample_index

DEMO = (REPO_DIR / "docs" / "DEMO.md").read_text(encoding="utf-8")
SECTION = DEMO[DEMO.index("## A public sandbox, step by step"):]
CONFIGURATION = (REPO_DIR / "docs" / "CONFIGURATION.md").read_text(encoding="utf-8")


def demo_table_script():
    spec = importlib.util.spec_from_file_location("demo_table", REPO_DIR / "scripts" /
                                                  "demo_table.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def fhir_base():
    (value,) = re.findall(r"^FHIR=(\S+)$", SECTION, flags=re.MULTILINE)
    return value


def test_the_table_is_the_expected_assessments():
    script = demo_table_script()
    assert script.table() in SECTION, (
        "docs/DEMO.md's table is out of date: run .venv/bin/python scripts/demo_table.py --write")
    for sample in sample_index():
        expected = json.loads(Path(sample["expected"]).read_text(encoding="utf-8"))
        (row,) = [r for r in SECTION.splitlines() if r.startswith(f"| `{sample['patientId']}` |")]
        assert f"`{sample['name']}`" in row and f"| {expected['action']} |" in row


@pytest.mark.parametrize("command", sorted(set(re.findall(r"^\.venv/bin/(rair-cds .+)$", SECTION,
                                                          flags=re.MULTILINE))))
def test_every_command_parses_with_the_real_cli(command):
    argv = shlex.split(command.split("#")[0].replace("$FHIR", fhir_base()))[1:]
    args = build_parser(load_config()).parse_args(argv)
    assert args.command in ("load-samples", "evaluate")
    assert args.fhir_server == fhir_base()
    if args.command == "evaluate":
        assert args.patient in {s["patientId"] for s in sample_index()}


def test_the_sandbox_link_opens_a_loaded_patient_on_that_server_with_this_service():
    (link,) = re.findall(r"^https://sandbox\.cds-hooks\.org/\?\S+$", SECTION, flags=re.MULTILINE)
    query = {k: v[0] for k, v in parse_qs(urlsplit(link).query).items()}
    assert query["fhirServiceUrl"] == fhir_base()
    assert query["patientId"] in {s["patientId"] for s in sample_index()}
    (base,) = re.findall(r"RAIR_CDS_PUBLIC_BASE_URL=(\S+)", SECTION)
    assert query["serviceDiscoveryURL"] == f"{base}/cds-services"
    assert f"--port {urlsplit(base).port}" in SECTION


def test_the_start_command_uses_documented_settings_and_allows_that_server():
    start = SECTION[SECTION.index("RAIR_CDS_AUTH_MODE=required"):]
    start = start[: start.index("bash scripts/start.sh")]
    names = re.findall(r"(RAIR_CDS_[A-Z_]+)=", start)
    assert {"RAIR_CDS_FHIR_SERVER_ALLOWLIST", "RAIR_CDS_FHIR_REQUIRE_AUTHORIZATION",
            "RAIR_CDS_EVALUATION_DATE"} <= set(names)
    for name in names:
        assert f"`{name}`" in CONFIGURATION, name
    (allowlist,) = re.findall(r"RAIR_CDS_FHIR_SERVER_ALLOWLIST='([^']+)'", start)
    assert json.loads(allowlist) == [fhir_base()]
    (date,) = re.findall(r"RAIR_CDS_EVALUATION_DATE=(\S+)", start)
    assert date == json.loads(
        (REPO_DIR / "fhir_samples" / "thyroid" / "index.json").read_text())["evaluationDate"]


def test_the_readme_links_the_section():
    readme = (REPO_DIR / "README.md").read_text(encoding="utf-8")
    assert "docs/DEMO.md#a-public-sandbox-step-by-step" in readme
