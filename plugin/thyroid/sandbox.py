"""The sandbox kit: ``rair-cds load-samples`` and the FHIR-server form of ``rair-cds evaluate``.

``load-samples --fhir-server URL [--bearer-token T] [--only NAME ...] [--dry-run]`` writes the
bundled sample patients (``fhir_samples/thyroid/bundles``) into a FHIR R4 server with their stable
ids (:class:`cds_hooks.fhir_writer.FhirWriter`: one transaction per patient, or one PUT per
resource where the server refuses transactions; only what is absent or different is written, so
a second run changes nothing) and prints each patient id with its scenario.

``evaluate --fhir-server URL --patient ID`` (:func:`evaluate_server`) runs the ``patient-view``
service on a record read from a FHIR server through the service's own prefetch templates and
paging rules (:func:`cds_hooks.hook_call.execute_from_fhir_server`, the fallback fetch of a hook
call), and gives the same ``{"assessment", "cards", "cardKinds"}`` as the file form.
The bearer token is sent only to that server, never printed or logged.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TextIO

import requests

from cds_hooks.fhir_writer import FhirWriteError, FhirWriter
from plugin.thyroid.knowledge.loader import Knowledge
from plugin.thyroid.samples import sample_index

#: the CLI reads a whole record at a terminal: longer than a hook call's deadline and timeout
CLI_DEADLINE_SECONDS = 120.0
CLI_FHIR_TIMEOUT_SECONDS = 30.0
#: a user id for the patient-view context (the hook requires one; the service does not use it)
CLI_USER = "Practitioner/rair-cds-cli"


def register_load_samples(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the ``load-samples`` subcommand."""
    parser = subparsers.add_parser(
        "load-samples",
        help="write the sample patients into a FHIR R4 server (idempotent)",
        description="Write the bundled sample patients into a FHIR R4 server with stable ids; "
        "a second run changes nothing. Prints each patient id with its scenario.",
    )
    parser.add_argument("--fhir-server", required=True, metavar="URL",
                        help="FHIR R4 base URL, e.g. https://fhir.example.org/r4")
    add_token_option(parser)
    parser.add_argument("--only", nargs="+", metavar="NAME", default=None,
                        help="only these scenarios (names as in fhir_samples/thyroid/index.json)")
    parser.add_argument("--dry-run", action="store_true",
                        help="read and report what would be written; write nothing")
    parser.set_defaults(func=run_load_samples)
    return parser


#: the environment variable a FHIR server's access token may come from instead of the command
#: line (where other local users can read it in the process list)
TOKEN_ENV_VAR = "RAIR_CDS_FHIR_BEARER_TOKEN"


def add_token_option(parser: argparse.ArgumentParser) -> None:
    """``--bearer-token T``: sent as ``Authorization: Bearer T`` to the FHIR server only."""
    parser.add_argument("--bearer-token", metavar="T", default=None,
                        help="access token for the FHIR server (sent to it only; never printed);"
                        f" default: ${TOKEN_ENV_VAR}. A token starting with '-' needs"
                        " --bearer-token=T")


def bearer_token(args: argparse.Namespace) -> str | None:
    """The FHIR server's token: ``--bearer-token``, else ``$RAIR_CDS_FHIR_BEARER_TOKEN``."""
    given = getattr(args, "bearer_token", None)
    return given if given else (os.environ.get(TOKEN_ENV_VAR) or None)


def run_load_samples(args: argparse.Namespace, out: TextIO | None = None,
                     session: requests.Session | None = None) -> int:
    """The ``load-samples`` handler: 0 when every patient is on the server, 1 when a write
    failed, 2 for an unknown scenario name."""
    out = out or sys.stdout
    samples = sample_index()
    if args.only:
        names = {s["name"] for s in samples}
        unknown = [n for n in args.only if n not in names]
        if unknown:
            print(f"rair-cds load-samples: unknown scenario(s): {', '.join(unknown)}; "
                  f"known: {', '.join(sorted(names))}", file=sys.stderr)
            return 2
        samples = [s for s in samples if s["name"] in args.only]
    writer = FhirWriter(args.fhir_server, access_token=bearer_token(args),
                        timeout=CLI_FHIR_TIMEOUT_SECONDS, session=session)
    verb, done = ("would write", "to write") if args.dry_run else ("wrote", "written")
    failed = 0
    totals = {"written": 0, "unchanged": 0}
    for sample in samples:
        bundle = json.loads(Path(sample["bundle"]).read_text(encoding="utf-8"))
        resources = [entry["resource"] for entry in bundle["entry"]]
        try:
            result = writer.sync(resources, dry_run=args.dry_run)
        except FhirWriteError as exc:
            failed += 1
            print(f"rair-cds load-samples: {sample['name']}: {exc.message}", file=sys.stderr)
            if exc.status in (401, 403):
                return 1  # every further write would be refused the same way
            continue
        written = len(result.created) + len(result.updated)
        totals["written"] += written
        totals["unchanged"] += len(result.unchanged)
        how = f" ({result.mode})" if written and not args.dry_run else ""
        status = (f"{verb} {written}{how}: {len(result.created)} new, "
                  f"{len(result.updated)} changed" if written else "unchanged")
        out.write(f"{sample['patientId']}\t{sample['name']}\t{status}\t{sample['title']}\n")
    out.write(f"{len(samples) - failed} of {len(samples)} patient(s) on {writer.base_url}: "
              f"{totals['written']} resource(s) {done}, {totals['unchanged']} unchanged\n")
    return 1 if failed else 0


def evaluate_server(
    fhir_server: str,
    patient_id: str,
    as_of: dt.date,
    *,
    access_token: str | None = None,
    session: requests.Session | None = None,
    config: Mapping[str, Any] | None = None,
    knowledge: Knowledge | None = None,
) -> dict[str, Any]:
    """``{"assessment", "cards", "cardKinds"}`` for a patient read from ``fhir_server``.

    :param config: the service settings (paging bounds); default: :func:`load_config`.
    :param knowledge: the loaded knowledge (default: the package's).
    :raises CdsHooksError: a bad patient id or URL (400), data that could not be had (412,
        naming every key), or the deadline passed.
    """
    from cds_hooks.app import load_config
    from cds_hooks.errors import DeadlineExceeded
    from cds_hooks.hook_call import CallSettings, execute_from_fhir_server
    from plugin.thyroid.patient_view import PatientViewService

    settings = CallSettings.from_config(config if config is not None else load_config())
    settings = dataclasses.replace(
        settings,
        evaluation_date=as_of,
        # an open server needs no token; with one, it is sent (never without the user asking)
        require_fhir_authorization=False,
        deadline_seconds=max(settings.deadline_seconds, CLI_DEADLINE_SECONDS),
        fhir_timeout_seconds=max(settings.fhir_timeout_seconds, CLI_FHIR_TIMEOUT_SECONDS),
    )
    outcome = execute_from_fhir_server(
        PatientViewService(knowledge=knowledge),
        {"patientId": patient_id, "userId": CLI_USER},
        fhir_server,
        settings,
        access_token=access_token,
        session=session,
    )
    if outcome.deadline_exceeded:
        raise DeadlineExceeded(
            f"reading the record took longer than {settings.deadline_seconds:.0f} s"
        )
    body = outcome.body
    return {
        "assessment": body["extension"]["rair-cds"]["assessment"],
        "cards": body["cards"],
        "cardKinds": [card.kind for card in outcome.issued],
    }


def unavailable_lines(outcome: Mapping[str, Any]) -> list[str]:
    """One line per issue of an error ``OperationOutcome`` (e.g. each missing prefetch key)."""
    return [str(issue.get("diagnostics") or issue.get("code"))
            for issue in outcome.get("issue") or [] if isinstance(issue, Mapping)]
