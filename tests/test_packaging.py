"""The package as a user installs it (issue 10 item 5): sdist -> wheel -> a fresh virtual
environment outside the checkout, then ``rair-cds serve`` and ``rair-cds evaluate`` from there.

The installed package must carry its knowledge (``rules/``), the sample patients and the demo's
static files, and find them without the checkout: before this, ``pip install .`` gave a wheel
without ``rules/`` and ``rair-cds serve`` stopped with "cannot read cards.yaml".
"""

from __future__ import annotations

import configparser
import json
import os
import re
import subprocess
import sys
import tarfile
import threading
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
AS_OF = "2026-11-27"


def test_every_package_directory_is_listed_in_setup_cfg():
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "setup.cfg")
    listed = set(cfg["options"]["packages"].split())
    found = {
        ".".join(p.parent.relative_to(ROOT).parts)
        for top in ("cds_hooks", "plugin")
        for p in (ROOT / top).rglob("__init__.py")
    }
    assert found <= listed, sorted(found - listed)
    mapped = dict(
        line.replace(" ", "").split("=")
        for line in cfg["options"]["package_dir"].strip().splitlines()
    )
    assert mapped == {"plugin.rules": "rules", "plugin.fhir_samples": "fhir_samples"}


def _run(args: list[str], **kwargs) -> subprocess.CompletedProcess:
    done = subprocess.run(args, capture_output=True, text=True, timeout=600, **kwargs)
    assert done.returncode == 0, f"{args[:4]}: {done.stdout[-2000:]}\n{done.stderr[-3000:]}"
    return done


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """(sdist, wheel, venv bin dir, work dir): built from the checkout, installed outside it."""
    base = tmp_path_factory.mktemp("packaging")
    dist = base / "dist"
    dist.mkdir()
    # the sdist first, then the wheel from the sdist (as `python -m build` does): a file the
    # sdist forgets is then missing from the wheel too
    _run([sys.executable, "-c",
          "import sys; from setuptools import build_meta as b; print(b.build_sdist(sys.argv[1]))",
          str(dist)], cwd=ROOT)
    (sdist,) = dist.glob("*.tar.gz")
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--disable-pip-version-check",
          "-q", "-w", str(dist), str(sdist)], cwd=base)
    (wheel,) = dist.glob("*.whl")
    venv = base / "venv"
    _run([sys.executable, "-m", "venv", str(venv)], cwd=base)
    bindir = venv / "bin"
    _run([str(bindir / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check",
          str(wheel)], cwd=base)
    work = base / "work"
    work.mkdir()
    return sdist, wheel, bindir, work


def _env() -> dict[str, str]:
    """The environment without the checkout on any path (and without our settings)."""
    return {k: v for k, v in os.environ.items()
            if not k.startswith("RAIR_CDS_") and k not in ("PYTHONPATH", "VIRTUAL_ENV")}


def test_the_sdist_and_the_wheel_carry_rules_samples_and_the_demo(installed):
    sdist, wheel, _, _ = installed
    with tarfile.open(sdist) as tar:
        names = {n.split("/", 1)[1] for n in tar.getnames() if "/" in n}
    assert {"rules/thyroid/cards.yaml", "rules/thyroid/thresholds.yaml", "rules/README.md",
            "fhir_samples/thyroid/index.json", "plugin/thyroid/demo/static/index.html"} <= names
    with zipfile.ZipFile(wheel) as whl:
        files = set(whl.namelist())
    rules = {p.name for p in (ROOT / "rules" / "thyroid").glob("*.yaml")}
    assert {f"plugin/rules/thyroid/{r}" for r in rules} <= files
    samples = {p.relative_to(ROOT / "fhir_samples").as_posix()
               for p in (ROOT / "fhir_samples").rglob("*.json")}
    assert {f"plugin/fhir_samples/{s}" for s in samples} <= files
    static = {p.relative_to(ROOT).as_posix() for p in (ROOT / "plugin" / "thyroid" / "demo"
                                                        / "static").iterdir()}
    assert static and static <= files  # every page asset, each ES module of demo.js included


def test_the_installed_package_reads_its_own_knowledge(installed):
    _, _, bindir, work = installed
    done = _run([str(bindir / "python"), "-c",
                 "import plugin.thyroid.knowledge.loader as k, plugin.thyroid.samples as s;"
                 "print(k.default_folder()); print(s.SAMPLES_DIR)"], cwd=work, env=_env())
    for line in done.stdout.split():
        assert "site-packages" in line and str(ROOT) not in line, line


def test_rair_cds_evaluate_runs_a_sample_from_the_installed_package(installed):
    _, _, bindir, work = installed
    index = json.loads((ROOT / "fhir_samples" / "thyroid" / "index.json").read_text())
    scenario = index["scenarios"][0]
    expected = json.loads(
        (ROOT / "fhir_samples" / "thyroid" / scenario["expected"]).read_text())
    bundle = ROOT / "fhir_samples" / "thyroid" / scenario["bundle"]
    done = _run([str(bindir / "rair-cds"), "evaluate", str(bundle), "--as-of", AS_OF,
                 "--format", "json"], cwd=work, env=_env())
    assessment = json.loads(done.stdout)["assessment"]
    assert assessment["rairStatus"] == expected["rairStatus"]
    assert assessment["action"] == expected["action"]


def test_rair_cds_serve_answers_discovery_from_the_installed_package(installed):
    _, _, bindir, work = installed
    env = {**_env(), "RAIR_CDS_AUTH_MODE": "off",
           "RAIR_CDS_FEEDBACK_DB": str(work / "feedback.sqlite3")}
    proc = subprocess.Popen([str(bindir / "rair-cds"), "serve", "--host", "127.0.0.1",
                             "--port", "0", "--threads", "2"],
                            cwd=work, env=env, stderr=subprocess.PIPE, text=True)
    lines: list[str] = []
    found = threading.Event()
    url: list[str] = []

    def read() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            lines.append(line)
            m = re.search(r"listening on (http://127\.0\.0\.1:\d+)", line)
            if m and not url:
                url.append(m.group(1))
                found.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        # start-up (loading and checking the knowledge) is waited for, never timed
        assert found.wait(timeout=120) or proc.poll() is not None
        assert url, "".join(lines)[-3000:]
        from conftest import http

        status, _, body = http("GET", f"{url[0]}/cds-services")
        assert status == 200, body
        ids = {s["id"] for s in body["services"]}
        assert {"rair-patient-view", "rair-order-select", "rair-order-sign"} <= ids
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        reader.join(timeout=10)
        assert proc.stderr is not None
        proc.stderr.close()
