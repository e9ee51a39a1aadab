"""A small EHR FHIR server mocked with ``responses``: reads and patient searches over a list of
resources, optionally paged with ``link[next]``.

``serve(mock, base, resources, page_size=None)`` registers one callback for every ``GET`` under
``base``: ``Type/id`` answers the resource (404 otherwise); ``Type?patient=...`` answers a
``searchset`` of the resources of that type whose ``subject``/``patient`` names that patient
(other search parameters are ignored, so a search filtered by code answers a superset; the
service selects codes itself). With ``page_size`` the searchset is cut into pages linked by
``next`` (``_page=N``), with ``total``. Every request is recorded in ``mock.calls``.
"""

from __future__ import annotations

import json
import re
from urllib.parse import parse_qs, urlencode, urlsplit

import responses


def serve(mock: responses.RequestsMock, base: str, resources: list[dict],
          page_size: int | None = None) -> None:
    base = base.rstrip("/")

    def answer(request):
        url = urlsplit(request.url)
        path = url.path[len(urlsplit(base).path):].strip("/")
        query = parse_qs(url.query)
        if "?" not in request.url and path.count("/") == 1:
            rtype, ident = path.split("/")
            for resource in resources:
                if (resource["resourceType"], resource.get("id")) == (rtype, ident):
                    return 200, {"Content-Type": "application/fhir+json"}, json.dumps(resource)
            return 404, {"Content-Type": "application/fhir+json"}, json.dumps(
                {"resourceType": "OperationOutcome",
                 "issue": [{"severity": "error", "code": "not-found"}]})
        patient = (query.get("patient") or query.get("subject") or [""])[0]
        patient = patient.rsplit("/", 1)[-1]
        found = [r for r in resources if r["resourceType"] == path and any(
            (r.get(m) or {}).get("reference", "").rsplit("/", 1)[-1] == patient
            for m in ("subject", "patient"))]
        page = int((query.get("_page") or ["1"])[0])
        size = page_size or max(1, len(found))
        chunk = found[(page - 1) * size: page * size]
        bundle = {"resourceType": "Bundle", "type": "searchset", "total": len(found),
                  "entry": [{"fullUrl": f"{base}/{r['resourceType']}/{r['id']}", "resource": r,
                             "search": {"mode": "match"}} for r in chunk]}
        if page * size < len(found):
            params = {k: v[0] for k, v in query.items()} | {"_page": str(page + 1)}
            bundle["link"] = [{"relation": "next", "url": f"{base}/{path}?{urlencode(params)}"}]
        return 200, {"Content-Type": "application/fhir+json"}, json.dumps(bundle)

    mock.add_callback(responses.GET, re.compile(re.escape(base) + r"/.*"), callback=answer)


def bundle_resources(path: str) -> list[dict]:
    """The resources of a sample's collection Bundle."""
    with open(path, encoding="utf-8") as handle:
        return [entry["resource"] for entry in json.load(handle)["entry"]]
