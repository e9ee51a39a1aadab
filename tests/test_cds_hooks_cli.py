"""The ``rair-cds`` command: subcommands, plugin subcommands, serve wiring, feedback-report."""

from __future__ import annotations

import pytest

from cds_hooks import cli
from cds_hooks.feedback import parse_feedback
from cds_hooks.feedback_store import SqliteFeedbackStore
from cds_hooks.settings import DEFAULTS

DEFAULT_HOST = DEFAULTS["HOST"]


@pytest.fixture
def toy_env(monkeypatch, tmp_path):
    monkeypatch.setenv("RAIR_CDS_PLUGINS", "toy_plugin")
    monkeypatch.setenv("RAIR_CDS_AUTH_MODE", "off")
    monkeypatch.setenv("RAIR_CDS_FEEDBACK_DB", str(tmp_path / "fb.sqlite3"))
    return tmp_path


def test_plugin_subcommands_are_discovered(toy_env, capsys):
    assert cli.main(["toy-hello", "--name", "thyroid"]) == 0
    assert capsys.readouterr().out.strip() == "hello thyroid"


def test_help_lists_builtin_and_plugin_commands(toy_env, capsys):
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    out = capsys.readouterr().out
    assert "serve" in out and "feedback-report" in out and "toy-hello" in out


def test_feedback_report_reads_the_configured_database(toy_env, capsys):
    SqliteFeedbackStore(toy_env / "fb.sqlite3").add(  # a card never issued: marked
        "svc",
        parse_feedback(
            {
                "feedback": [
                    {
                        "card": "c",
                        "outcome": "overridden",
                        "outcomeTimestamp": "2024-01-01T00:00:00Z",
                    }
                ]
            }
        ),
    )
    assert cli.main(["feedback-report"]) == 0
    out = capsys.readouterr().out
    assert "svc" in out and "Marked feedback" in out
    assert out.splitlines()[-1].split() == ["svc", "1", "0", "0"]


def test_empty_report(toy_env, capsys):
    db = toy_env / "empty.sqlite3"
    SqliteFeedbackStore(db).ensure_schema()  # an existing database with no feedback yet
    assert cli.main(["feedback-report", "--db", str(db)]) == 0
    assert "no feedback recorded" in capsys.readouterr().out


def test_report_on_a_missing_database_says_so_and_creates_nothing(toy_env, capsys):
    db = toy_env / "typo.sqlite3"
    assert cli.main(["feedback-report", "--db", str(db)]) == 2
    assert "no feedback database" in capsys.readouterr().err
    assert not db.exists()


def test_a_plugin_that_fails_to_start_is_one_clear_line(monkeypatch, capsys):
    import plugin.thyroid as thyroid

    def broken(config):
        raise RuntimeError("knowledge files disagree: W-PREG has no text")

    monkeypatch.setattr(thyroid, "create_services", broken)
    monkeypatch.setenv("RAIR_CDS_PLUGINS", "plugin.thyroid")
    monkeypatch.setenv("RAIR_CDS_AUTH_MODE", "off")
    assert cli.main(["serve", "--port", "0"]) == 2
    err = capsys.readouterr().err
    assert "plugin 'plugin.thyroid' failed to start" in err and "W-PREG" in err
    assert "Traceback" not in err


def test_serve_uses_waitress_with_host_and_port(toy_env, monkeypatch):
    calls = {}

    def fake_serve(app, host, port, threads):
        calls.update(
            host=host, port=port, threads=threads, services=len(app.extensions["rair_cds"].registry)
        )

    import cds_hooks.server

    monkeypatch.setattr(cds_hooks.server, "serve", fake_serve)
    # AUTH_MODE is off in toy_env: a non-loopback host needs the explicit flag (issue 6 task 4)
    argv = ["serve", "--host", "0.0.0.0", "--port", "9999", "--allow-unauthenticated-remote"]
    assert cli.main(argv) == 0
    assert calls == {"host": "0.0.0.0", "port": 9999, "threads": 8, "services": 6}


@pytest.fixture
def fake_serve(monkeypatch):
    """Record the hosts ``rair-cds serve`` would have served (nothing is bound)."""
    import cds_hooks.server

    served = []
    monkeypatch.setattr(
        cds_hooks.server, "serve", lambda app, host, port, threads: served.append(host)
    )
    return served


@pytest.mark.parametrize(
    "host", ["0.0.0.0", "::", "10.1.2.3", "cds.example.org", "[::ffff:1.2.3.4]"]
)
def test_serve_refuses_a_remote_host_without_authentication(toy_env, fake_serve, capsys, host):
    assert cli.main(["serve", "--host", host, "--port", "0"]) == 2
    err = capsys.readouterr().err
    assert "refusing to serve" in err and "--allow-unauthenticated-remote" in err
    assert fake_serve == []


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "::1", "[::1]", "localhost"])
def test_serve_allows_loopback_without_authentication(toy_env, fake_serve, host):
    assert cli.main(["serve", "--host", host, "--port", "0"]) == 0
    assert fake_serve == [host]


def test_remote_without_authentication_allowed_by_flag_or_setting(
    toy_env, fake_serve, monkeypatch, caplog
):
    assert cli.main(["serve", "--host", "0.0.0.0", "--allow-unauthenticated-remote"]) == 0
    assert "WITHOUT CDS client authentication" in caplog.text
    monkeypatch.setenv("RAIR_CDS_ALLOW_UNAUTHENTICATED_REMOTE", "true")
    assert cli.main(["serve", "--host", "0.0.0.0"]) == 0
    assert fake_serve == ["0.0.0.0", "0.0.0.0"]


def test_remote_host_is_allowed_when_clients_are_authenticated(
    toy_env, fake_serve, monkeypatch
):
    # a custom authenticator (as with JWT_ISSUERS) means every call is authenticated
    monkeypatch.setenv("RAIR_CDS_AUTHENTICATOR", "toy_plugin:create_services")
    assert cli.main(["serve", "--host", "0.0.0.0", "--port", "0"]) == 0
    assert fake_serve == ["0.0.0.0"]


def test_start_script_serves_loopback_with_authentication_off():
    from pathlib import Path

    script = (Path(__file__).resolve().parents[1] / "scripts" / "start.sh").read_text()
    assert 'RAIR_CDS_AUTH_MODE="${RAIR_CDS_AUTH_MODE:-off}"' in script
    assert "rair-cds serve" in script
    assert cli.is_loopback(DEFAULT_HOST)


def test_bad_configuration_is_a_clean_error(toy_env, monkeypatch, capsys):
    monkeypatch.setenv("RAIR_CDS_MAX_PAGES", "lots")
    assert cli.main(["feedback-report"]) == 2
    assert "RAIR_CDS_MAX_PAGES" in capsys.readouterr().err


def test_serve_refuses_to_start_with_a_broken_plugin(toy_env, monkeypatch, capsys):
    monkeypatch.setenv("RAIR_CDS_PLUGINS", "no_such_plugin_module")
    assert cli.main(["serve", "--port", "0"]) == 2
    assert "no_such_plugin_module" in capsys.readouterr().err
