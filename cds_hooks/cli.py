"""The ``rair-cds`` command: ``serve``, ``feedback-report``, and plugin subcommands.

Each plugin module named in ``PLUGINS`` may define ``register_cli(subparsers)``, adding its own
subcommands (e.g. ``evaluate``) with ``parser.set_defaults(func=handler)`` where
``handler(args) -> int``. Configuration is the same as the app's (defaults, then ``RAIR_CDS_*``).
"""

from __future__ import annotations

import argparse
import ipaddress
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from cds_hooks.app import create_app, load_config
from cds_hooks.errors import ConfigurationError
from cds_hooks.feedback_postgres import redact_url
from cds_hooks.feedback_report import format_report
from cds_hooks.feedback_store import is_postgres_url, open_store
from cds_hooks.registry import import_plugins
from cds_hooks.settings import SettingsError


def build_parser(config: dict[str, Any]) -> argparse.ArgumentParser:
    """The argument parser, with the subcommands of every importable plugin."""
    parser = argparse.ArgumentParser(prog="rair-cds", description="CDS Hooks 2.0 service")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = subparsers.add_parser("serve", help="serve the CDS Hooks API with waitress")
    serve.add_argument("--host", default=config["HOST"], help="address to bind (%(default)s)")
    serve.add_argument("--port", type=int, default=config["PORT"], help="port (%(default)s)")
    serve.add_argument("--threads", type=int, default=config["WAITRESS_THREADS"])
    serve.add_argument(
        "--allow-unauthenticated-remote",
        action="store_true",
        default=bool(config.get("ALLOW_UNAUTHENTICATED_REMOTE")),
        help="serve a non-loopback address even though CDS client authentication is off "
        "(AUTH_MODE=off); never with real patient data",
    )
    serve.set_defaults(func=_serve)

    report = subparsers.add_parser(
        "feedback-report",
        help="print accept/override rates per service, card kind and rule, and marked feedback",
    )
    report.add_argument(
        "--db",
        default=config["FEEDBACK_DB"],
        help="SQLite file or postgresql:// URL (default: FEEDBACK_DB)",
    )
    report.set_defaults(func=_feedback_report)

    for name in config["PLUGINS"]:
        try:
            (module,) = import_plugins([name])
        except ConfigurationError as exc:
            # serve still fails loudly; other commands stay usable
            print(f"rair-cds: warning: {exc.message}", file=sys.stderr)
            continue
        register = getattr(module, "register_cli", None)
        if callable(register):
            register(subparsers)
    return parser


def is_loopback(host: str) -> bool:
    """Whether ``host`` is a loopback address (``127.0.0.0/8``, ``::1``) or ``localhost``.

    Anything else, including ``0.0.0.0``, ``::`` and other host names, counts as remote.
    """
    name = host.strip().strip("[]").lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def _serve(args: argparse.Namespace) -> int:
    from cds_hooks.server import serve  # waitress only when serving

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    app = create_app()
    unauthenticated = app.extensions["rair_cds"].authenticator is None
    if unauthenticated and not is_loopback(args.host):
        if not args.allow_unauthenticated_remote:
            raise ConfigurationError(
                f"refusing to serve {args.host} without CDS client authentication "
                "(AUTH_MODE=off): anyone who can reach that address could call the service. "
                "Configure RAIR_CDS_JWT_ISSUERS, serve on 127.0.0.1, or pass "
                "--allow-unauthenticated-remote (RAIR_CDS_ALLOW_UNAUTHENTICATED_REMOTE=true) "
                "for a trial with sample data only."
            )
        logging.getLogger("rair_cds.security").warning(
            "serving %s WITHOUT CDS client authentication (--allow-unauthenticated-remote)",
            args.host,
        )
    serve(app, host=args.host, port=args.port, threads=args.threads)
    return 0


def _feedback_report(args: argparse.Namespace) -> int:
    # reading must not create an empty database where the operator mistyped the path
    if not is_postgres_url(args.db) and not Path(args.db).is_file():
        print(f"rair-cds: no feedback database at {args.db} (set RAIR_CDS_FEEDBACK_DB)",
              file=sys.stderr)
        return 2
    try:
        report = open_store(args.db).full_report()
    except ConfigurationError:
        raise
    except Exception as exc:  # no traceback, no password: what failed, and where
        print(f"rair-cds: cannot read the feedback database {redact_url(str(args.db))}: "
              f"{type(exc).__name__}: {exc}", file=sys.stderr)
        return 2
    print(format_report(report))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``rair-cds`` console script."""
    try:
        config = load_config()
        args = build_parser(config).parse_args(argv)
        return int(args.func(args) or 0)
    except ConfigurationError as exc:
        print(f"rair-cds: {exc.message}", file=sys.stderr)
        return 2
    except SettingsError as exc:
        print(f"rair-cds: bad environment setting: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        # output piped into e.g. `head`, which closed early: not an error worth a traceback;
        # point stdout at /dev/null so the interpreter's final flush does not raise again
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
