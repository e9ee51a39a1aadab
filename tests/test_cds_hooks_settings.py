"""Configuration flows one way: defaults, then RAIR_CDS_* environment, then test config."""

from __future__ import annotations

import datetime as dt

import pytest

from cds_hooks.app import load_config
from cds_hooks.errors import ConfigurationError
from cds_hooks.settings import DEFAULTS, SettingsError, from_environment


@pytest.mark.parametrize(
    ("name", "raw", "expected"),
    [
        ("PLUGINS", '["a.b", "c"]', ["a.b", "c"]),
        ("PLUGINS", "a.b, c", ["a.b", "c"]),
        ("DEADLINE_SECONDS", "2.5", 2.5),
        ("FHIR_TIMEOUT_SECONDS", "3", 3.0),
        ("MAX_PAGES", "7", 7),
        ("CORS_ORIGINS", "*", "*"),
        (
            "CORS_ORIGINS",
            "https://a.example, https://b.example",
            ["https://a.example", "https://b.example"],
        ),
        ("AUDIT_INCLUDE_PATIENT", "true", True),
        ("AUDIT_INCLUDE_PATIENT", "0", False),
        ("FEEDBACK_DB", "/data/fb.sqlite3", "/data/fb.sqlite3"),
        ("EVALUATION_DATE", "2024-02-29", "2024-02-29"),
        ("SOMETHING_ELSE", "kept", "kept"),
    ],
)
def test_environment_values_are_typed(name, raw, expected):
    assert from_environment({f"RAIR_CDS_{name}": raw, "OTHER": "x"}) == {name: expected}


@pytest.mark.parametrize(
    ("name", "raw"),
    [("MAX_PAGES", "many"), ("AUDIT_INCLUDE_PATIENT", "maybe"), ("PLUGINS", '{"a": 1}')],
)
def test_bad_environment_values_fail(name, raw):
    with pytest.raises(SettingsError, match=f"RAIR_CDS_{name}"):
        from_environment({f"RAIR_CDS_{name}": raw})


def test_order_defaults_then_environment_then_test_config(monkeypatch):
    monkeypatch.setenv("RAIR_CDS_DEADLINE_SECONDS", "4")
    monkeypatch.setenv("RAIR_CDS_MAX_PAGES", "3")
    config = load_config({"MAX_PAGES": 9})
    assert config["DEADLINE_SECONDS"] == 4.0
    assert config["MAX_PAGES"] == 9
    assert config["FHIR_TIMEOUT_SECONDS"] == DEFAULTS["FHIR_TIMEOUT_SECONDS"]


def test_evaluation_date_defaults_to_utc_today_and_can_be_pinned(make_app):
    pinned = make_app().extensions["rair_cds"].call_settings
    assert pinned.evaluation_date == dt.date(2024, 1, 15)
    unpinned = make_app(EVALUATION_DATE=None)
    client = unpinned.test_client()
    response = client.post(
        "/cds-services/toy-greeter",
        json={
            "hook": "patient-view",
            "hookInstance": "h",
            "context": {"userId": "Practitioner/1", "patientId": "p"},
            "prefetch": {"patient": None},
        },
    )
    seen = response.get_json()["extension"]["org.example.toy"]["evaluationDate"]
    assert seen in {
        dt.datetime.now(dt.UTC).date().isoformat(),
        (dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)).date().isoformat(),
    }


@pytest.mark.parametrize(
    "bad",
    [
        {"DEADLINE_SECONDS": 0},
        {"MAX_PAGES": 0},
        {"EVALUATION_DATE": "yesterday"},
        {"AUTHENTICATOR": "no.such:fn"},
    ],
)
def test_bad_settings_fail_at_start_up(make_app, bad):
    with pytest.raises(ConfigurationError):
        make_app(**bad)


def test_every_setting_is_documented():
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[1] / "docs" / "CONFIGURATION.md").read_text()
    for name in DEFAULTS:
        assert f"`{name}`" in doc and f"`RAIR_CDS_{name}`" in doc, name
