"""Issue 10 item 3: no module of ``plugin/`` or ``cds_hooks/`` reaches into another module's
private names (``from plugin.x import _helper``, or ``module._helper`` on an imported project
module). A name another module needs is public; a private one stays inside its module."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("plugin", "cds_hooks")


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _absolute(node: ast.ImportFrom, here: str, is_package: bool) -> str:
    """The absolute module an ``ImportFrom`` names (relative imports resolved)."""
    if not node.level:
        return node.module or ""
    base = here.split(".")
    if not is_package:
        base = base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _is_project(module: str) -> bool:
    return module.split(".")[0] in PACKAGES


def _is_module(name: str) -> bool:
    path = ROOT.joinpath(*name.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def violations(source: str, here: str, is_package: bool = False) -> list[str]:
    """Cross-module private uses in ``source`` (the text of module ``here``)."""
    tree = ast.parse(source)
    found: list[str] = []
    project_modules: set[str] = set()  # local names bound to project modules
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            module = _absolute(node, here, is_package)
            if not _is_project(module) or module == here:
                continue
            for alias in node.names:
                if _private(alias.name):
                    found.append(f"{here}:{node.lineno} from {module} import {alias.name}")
                elif _is_module(f"{module}.{alias.name}"):
                    project_modules.add(alias.asname or alias.name)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if _is_project(alias.name) and alias.name != here:
                    if any(_private(p) for p in alias.name.split(".")):
                        found.append(f"{here}:{node.lineno} import {alias.name}")
                    if alias.asname:
                        project_modules.add(alias.asname)
    for node in ast.walk(tree):
        if (isinstance(node, ast.Attribute) and _private(node.attr)
                and isinstance(node.value, ast.Name) and node.value.id in project_modules):
            found.append(f"{here}:{node.lineno} {node.value.id}.{node.attr}")
    return found


def test_no_module_imports_another_modules_private_names():
    found: list[str] = []
    files = [p for pkg in PACKAGES for p in sorted((ROOT / pkg).rglob("*.py"))]
    assert len(files) > 50  # the walk sees the code base
    for path in files:
        found += violations(path.read_text(encoding="utf-8"), _module_name(path),
                            path.name == "__init__.py")
    assert not found, "cross-module private names:\n" + "\n".join(found)


def test_the_check_sees_each_form_of_private_use():
    here = "plugin.thyroid.facts.builder"
    assert violations("from plugin.thyroid.facts.rai import _rai\n", here)
    assert violations("from .rai import intent_of, _rai\n", here)
    assert violations("from ..facts.common import _Ctx\n", here)
    assert violations("from plugin.thyroid.facts import rai\nrai._activity(1)\n", here)
    assert violations("import plugin.thyroid.facts.rai as r\nr._activity(1)\n", here)
    # public names, the module's own private names and third-party private names are fine
    assert not violations("from plugin.thyroid.facts.rai import rai_fact\n", here)
    assert not violations("from plugin.thyroid.facts.builder import _patient\n", here)
    assert not violations("from argparse import _SubParsersAction\n", here)
    assert not violations("from durable import engine as _durable\n", here)
