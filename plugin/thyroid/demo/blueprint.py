"""The demo page (``/demo``): a stand-in EHR for the thyroid services, with no EHR needed.

The page (``demo/static/``, plain HTML/CSS/JS, no network beyond this server) picks a sample
patient, shows a compact record summary and timeline, and calls the real CDS Hooks endpoints
exactly as an EHR would (discovery, ``patient-view``, ``order-select``, ``order-sign``,
feedback). This blueprint only serves the page and two read-only JSON APIs:

* ``GET /demo/api/patients``: the sample scenarios (name, title) and the evaluation date;
* ``GET /demo/api/patients/<name>``: one scenario's FHIR Bundle and its record summary
  (:func:`plugin.thyroid.demo.summary.summarize` over ``from_fhir.read_record``).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Blueprint, abort, jsonify, send_from_directory
from flask.typing import ResponseReturnValue

from plugin.thyroid.demo.summary import summarize
from plugin.thyroid.facts.derivation import derive
from plugin.thyroid.knowledge.loader import knowledge_from_config
from plugin.thyroid.reading.record import read_record
from plugin.thyroid.samples import sample_index

STATIC_DIR = Path(__file__).parent / "static"


def create_blueprint(config: Mapping[str, Any]) -> Blueprint:
    """The ``/demo`` blueprint; ``config`` gives ``EVALUATION_DATE`` (``None``: today, UTC)."""
    bp = Blueprint(
        "thyroid_demo",
        __name__,
        url_prefix="/demo",
        static_folder=str(STATIC_DIR),
        static_url_path="/static",
    )
    knowledge = knowledge_from_config(config)
    fixed_date = config.get("EVALUATION_DATE")
    # the page cannot hold a CDS Client key: with client JWTs required its hook calls get 401
    auth_required = bool(config.get("AUTHENTICATOR")) or (
        str(config.get("AUTH_MODE", "off")).lower() != "off"
    )

    def evaluation_date() -> dt.date:
        if fixed_date:
            return dt.date.fromisoformat(str(fixed_date))
        return dt.datetime.now(dt.UTC).date()

    @bp.get("/")
    def page() -> ResponseReturnValue:
        response = send_from_directory(STATIC_DIR, "index.html", max_age=0)
        # the page loads nothing from elsewhere; say so to the browser as well
        response.headers["Content-Security-Policy"] = (
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
            "connect-src 'self'; frame-ancestors 'none'"
        )
        return response

    @bp.get("/api/patients")
    def patients() -> ResponseReturnValue:
        rows = [{"name": s["name"], "title": s["title"]} for s in _samples()]
        return jsonify(
            {
                "patients": rows,
                "evaluationDate": evaluation_date().isoformat(),
                "authRequired": auth_required,
            }
        )

    @bp.get("/api/patients/<name>")
    def patient(name: str) -> ResponseReturnValue:
        sample = next((s for s in _samples() if s["name"] == name), None)
        if sample is None:
            abort(404, description=f"no sample patient named {name!r}")
        bundle = json.loads(Path(sample["bundle"]).read_text(encoding="utf-8"))
        resources = [e["resource"] for e in bundle.get("entry", []) if "resource" in e]
        as_of = evaluation_date()
        record = read_record(resources, codes=knowledge.codes,
                             diagnostic_below_mbq=knowledge.thresholds.diagnostic_cut_mbq)
        derivation = derive(record, as_of, knowledge.thresholds, knowledge.therapies)
        return jsonify(
            {
                "name": sample["name"],
                "title": sample["title"],
                "patientId": _patient_id(resources),
                "evaluationDate": as_of.isoformat(),
                "bundle": bundle,
                "summary": summarize(record, as_of, derivation=derivation),
            }
        )

    return bp


def _samples() -> list[dict[str, Any]]:
    """The sample scenarios: ``name``, ``title`` and the ``bundle`` file path."""
    return [s for s in sample_index() if s.get("bundle")]


def _patient_id(resources: list[dict[str, Any]]) -> str | None:
    for resource in resources:
        if resource.get("resourceType") == "Patient":
            return resource.get("id")
    return None
