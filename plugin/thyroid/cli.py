"""``rair-cds evaluate FILE [--as-of YYYY-MM-DD] [--format text|json]``: one patient, offline.

``FILE`` is a FHIR Bundle (collection, searchset, transaction), a single resource, or a whole
CDS Hooks ``patient-view`` request (its prefetch is used). The command prints the §A1 assessment
and the cards exactly as the ``rair-patient-view`` service would return them.
``rair-cds evaluate --fhir-server URL --patient ID [--bearer-token T]`` reads the record from a
FHIR server instead, through the service's own prefetch templates and paging rules
(:mod:`plugin.thyroid.sandbox`).
Exit status: 0 on success, 1 when the FHIR server could not give the data, 2 for an unreadable
file, a bad date or bad arguments.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from plugin.engine import RuleEngineError
from plugin.thyroid.cards.render import render
from plugin.thyroid.knowledge.check import KnowledgeError
from plugin.thyroid.knowledge.loader import Knowledge, load_knowledge
from plugin.thyroid.pipeline import Pipeline, flatten_prefetch
from plugin.thyroid.sandbox import (
    add_token_option,
    bearer_token,
    evaluate_server,
    unavailable_lines,
)


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the ``evaluate`` subcommand to ``subparsers``."""
    parser = subparsers.add_parser(
        "evaluate",
        help="assess one patient from a FHIR Bundle or a patient-view request",
        description=__doc__.splitlines()[0],
    )
    parser.add_argument("file", metavar="BUNDLE.json", nargs="?", default=None,
                        help="FHIR Bundle, resource, or patient-view request")
    parser.add_argument("--fhir-server", metavar="URL", default=None,
                        help="read the record from this FHIR R4 server instead of a file")
    parser.add_argument("--patient", metavar="ID", default=None,
                        help="the patient's id on --fhir-server")
    add_token_option(parser)
    parser.add_argument("--as-of", dest="as_of", type=_date, default=None,
                        help="evaluation date YYYY-MM-DD (default: today, UTC)")
    parser.add_argument("--format", choices=("text", "json"), default="text")
    parser.add_argument("--knowledge", metavar="DIR", default=None,
                        help="knowledge folder (default: the package's rules/thyroid)")
    parser.set_defaults(func=run)
    return parser


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from exc


def evaluate_file(
    path: Path, as_of: dt.date, knowledge: Knowledge | None = None
) -> dict[str, Any]:
    """``{"assessment": ..., "cards": [...], "cardKinds": [...]}`` for one file.

    :raises ValueError: when the file is not JSON or holds no FHIR resource.
    """
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"cannot read {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a JSON object")
    patient_id = None
    if "hook" in data and isinstance(data.get("prefetch"), dict):
        prefetch = data["prefetch"]
        context = data.get("context") or {}
        patient_id = context.get("patientId") if isinstance(context, dict) else None
    elif "resourceType" in data:
        prefetch = {"file": data}
    else:
        raise ValueError(f"{path}: neither a FHIR resource nor a CDS Hooks request")
    resources, notes = flatten_prefetch(prefetch)
    knowledge = knowledge or load_knowledge()
    done = Pipeline(knowledge).evaluate(resources, as_of, notes)
    rendered = render(done.assessment, done.record, patient_id=patient_id,
                      templates=knowledge.templates, derivation=done.derivation)
    assessment = done.assessment
    return {
        "assessment": assessment.to_json(),
        "cards": [rc.card.to_json() for rc in rendered],
        "cardKinds": [rc.kind for rc in rendered],
    }


def format_text(result: dict[str, Any], out: TextIO) -> None:
    """A readable summary: the assessment's fields, then each card."""
    a = result["assessment"]
    w = out.write
    w(f"Assessment as of {a['evaluationDate']} (knowledge {a.get('knowledgeVersion') or '-'})\n")
    w(f"  RAIR status:      {a['rairStatus']}"
      + (f" ({', '.join(a['rairCriteria'])})" if a["rairCriteria"] else "") + "\n")
    w(f"  Progression:      {a['progression']}\n")
    w(f"  Action:           {a['action']}\n")
    w(f"  Molecular test:   {'suggested' if a['suggestMolecularTesting'] else 'no'}\n")
    drivers = [f"{d['gene']} {d['alteration']}" + (f" ({d['partner']})" if d.get("partner") else "")
               for d in a["drivers"]]
    w(f"  Drivers:          {', '.join(drivers) or '-'}\n")
    for key, label in (("onLabel", "On label"), ("guidelineSupportedOffLabel", "Off-label"),
                       ("trialOnly", "Trial only"), ("notEligible", "Not eligible")):
        items = a["therapies"][key]
        if items:
            text = "; ".join(
                t["drug"] + (" (preferred)" if t.get("preferred") else "")
                + (f" [{t['trial']}]" if t.get("trial") else "")
                + (f": {t['reason']}" if t.get("reason") else "")
                for t in items
            )
            w(f"  {label + ':':<18}{text}\n")
    warnings = [f"{x['code']}{' (blocking)' if x['blocking'] else ''}"
                + (f" [{', '.join(x['drugs'])}]" if x.get("drugs") else "") for x in a["warnings"]]
    w(f"  Warnings:         {', '.join(warnings) or '-'}\n")
    for item in a["missingData"]:
        w(f"  Missing:          {item}\n")
    w(f"  Rules fired:      {', '.join(a['rulesFired']) or '-'}\n")
    for kind, card in zip(result["cardKinds"], result["cards"], strict=True):
        w(f"\n[{card['indicator'].upper()}] {card['summary']}\n")
        w(f"  kind: {kind}; source: {card['source']['label']}"
          + (f" <{card['source']['url']}>" if card["source"].get("url") else "") + "\n")
        for line in card.get("detail", "").splitlines():
            w(f"    {line}\n")


def run(args: argparse.Namespace, out: TextIO | None = None) -> int:
    """The ``evaluate`` handler."""
    out = out or sys.stdout
    as_of = args.as_of or dt.datetime.now(dt.UTC).date()
    try:
        # the same start-up checks as the service: no conclusion without its card text, no
        # malformed rule
        knowledge = load_knowledge(getattr(args, "knowledge", None))
    except (KnowledgeError, RuleEngineError, OSError, KeyError, ValueError) as exc:
        print(f"rair-cds evaluate: {exc}", file=sys.stderr)
        return 2
    if (args.file is None) == (args.fhir_server is None) or (
        (args.fhir_server is None) != (args.patient is None)
    ):
        print("rair-cds evaluate: give either BUNDLE.json or --fhir-server URL --patient ID",
              file=sys.stderr)
        return 2
    if args.fhir_server is not None:
        from cds_hooks.errors import CdsHooksError

        try:
            result = evaluate_server(args.fhir_server, args.patient, as_of,
                                     access_token=bearer_token(args), knowledge=knowledge)
        except CdsHooksError as exc:
            for line in unavailable_lines(exc.to_operation_outcome()):
                print(f"rair-cds evaluate: {line}", file=sys.stderr)
            return 2 if exc.status_code == 400 else 1
    else:
        try:
            result = evaluate_file(Path(args.file), as_of, knowledge)
        except ValueError as exc:
            print(f"rair-cds evaluate: {exc}", file=sys.stderr)
            return 2
    if args.format == "json":
        json.dump(result, out, indent=2, ensure_ascii=False)
        out.write("\n")
    else:
        format_text(result, out)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``evaluate`` on its own (``python -m plugin.thyroid.cli FILE ...``)."""
    parser = argparse.ArgumentParser(prog="rair-cds")
    subparsers = parser.add_subparsers(dest="command", required=True)
    register(subparsers)
    args = parser.parse_args(["evaluate", *(argv if argv is not None else sys.argv[1:])])
    return int(args.func(args))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
