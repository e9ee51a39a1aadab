"""The plugin contract: domains load by configuration alone; cds_hooks never imports plugin."""

from __future__ import annotations

import ast
import sys
import types
from pathlib import Path

import pytest

import cds_hooks
from cds_hooks.errors import ConfigurationError
from cds_hooks.service import HookResult, ServiceDefinition

PACKAGE_DIR = Path(cds_hooks.__file__).resolve().parent


def imported_modules(path):
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "import_module":
            if node.args and isinstance(node.args[0], ast.Constant):
                yield str(node.args[0].value)


def test_cds_hooks_never_imports_plugin():
    files = sorted(PACKAGE_DIR.glob("*.py"))
    assert len(files) > 10
    offenders = [
        (path.name, name)
        for path in files
        for name in imported_modules(path)
        if name == "plugin" or name.startswith("plugin.")
    ]
    assert offenders == []


def test_ast_scan_would_catch_an_import(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text(
        "from plugin.thyroid import patient_view as service\nimport importlib\n"
        "importlib.import_module('plugin.x')\n"
    )
    assert list(imported_modules(bad)) == ["plugin.thyroid", "importlib", "plugin.x"]


def test_default_plugins_setting_names_the_thyroid_domain():
    from cds_hooks.settings import DEFAULTS

    assert DEFAULTS["PLUGINS"] == ["plugin.thyroid"]


def _module(monkeypatch, name, create_services=None, **attrs):
    module = types.ModuleType(name)
    if create_services is not None:
        module.create_services = create_services
    for key, value in attrs.items():
        setattr(module, key, value)
    monkeypatch.setitem(sys.modules, name, module)
    return module


class _Service:
    def __init__(self, service_id, hook="encounter-start", **kwargs):
        self.definition = ServiceDefinition(
            id=service_id, hook=hook, title="Second", description="A second domain.", **kwargs
        )

    def evaluate(self, call):
        from cds_hooks.cards import Card, Source

        return HookResult(
            cards=[
                Card(
                    summary=f"{call.hook} for {call.context['patientId']}",
                    indicator="warning",
                    source=Source(label="second"),
                )
            ]
        )


def test_a_second_domain_is_loaded_purely_by_config(make_app, monkeypatch, assert_valid_response):
    seen_config = {}

    def create_services(config):
        seen_config.update(config)
        return [_Service("second-domain")]

    _module(monkeypatch, "second_domain_plugin", create_services)
    app = make_app(PLUGINS=["toy_plugin", "second_domain_plugin"], SECOND_DOMAIN_FLAG="on")
    client = app.test_client()
    ids = [s["id"] for s in client.get("/cds-services").get_json()["services"]]
    assert ids[-1] == "second-domain" and "toy-greeter" in ids
    assert seen_config["SECOND_DOMAIN_FLAG"] == "on"  # plugins get the app config
    # a hook the protocol layer has no context rules for: context only needs to be an object
    response = client.post(
        "/cds-services/second-domain",
        json={
            "hook": "encounter-start",
            "hookInstance": "h-1",
            "context": {"patientId": "p1", "userId": "Practitioner/1", "encounterId": "e1"},
        },
    )
    assert (
        assert_valid_response(response.get_json())["cards"][0]["summary"]
        == "encounter-start for p1"
    )


def test_env_var_selects_plugins(make_app, monkeypatch):
    _module(monkeypatch, "second_domain_plugin", lambda config: [_Service("only-second")])
    monkeypatch.setenv("RAIR_CDS_PLUGINS", "second_domain_plugin")
    from cds_hooks import create_app

    app = create_app({"FEEDBACK_DB": ":memory:", "AUTH_MODE": "off"})
    assert [d.id for d in app.extensions["rair_cds"].registry.definitions()] == ["only-second"]


@pytest.mark.parametrize(
    ("services", "message"),
    [
        (lambda config: [_Service("toy-greeter")], "duplicate service id 'toy-greeter'"),
        (lambda config: [_Service("a b")], "not URL-safe"),
        (lambda config: [object()], "not a CdsService"),
        (lambda config: _Service("x"), "must return a list"),
        (lambda config: [_Service("x", needs_data=("nope",))], "needs_data"),
        (
            lambda config: [_Service("x", prefetch={"p": "Patient/{{patientId}}"})],
            "not a CDS Hooks token",
        ),
    ],
    ids=["duplicate", "id", "not a service", "not a list", "needs_data", "template"],
)
def test_bad_plugins_fail_at_start_up(make_app, monkeypatch, services, message):
    _module(monkeypatch, "bad_plugin", services)
    with pytest.raises(ConfigurationError, match=message):
        make_app(PLUGINS=["toy_plugin", "bad_plugin"])


def test_unimportable_plugin_or_missing_factory_fails_at_start_up(make_app, monkeypatch):
    with pytest.raises(ConfigurationError, match="cannot import plugin module 'no_such_plugin'"):
        make_app(PLUGINS=["no_such_plugin"])
    _module(monkeypatch, "empty_plugin")
    with pytest.raises(ConfigurationError, match="has no create_services"):
        make_app(PLUGINS=["empty_plugin"])
    with pytest.raises(ConfigurationError, match="list of module names"):
        make_app(PLUGINS="toy_plugin")


def test_registry_is_on_app_extensions(app):
    state = app.extensions["rair_cds"]
    assert "toy-greeter" in state.registry
    assert state.registry.get("toy-greeter").definition.hook == "patient-view"
