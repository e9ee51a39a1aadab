"""Write resources with stable ids into a FHIR R4 server, idempotently (``rair-cds load-samples``).

:meth:`FhirWriter.sync` reads each resource first (``GET Type/id``) and writes only those that are
absent or differ (:func:`same_content`: ``meta`` and a server-generated narrative are not
compared), so a second run changes nothing, not even a version id. It writes one
``transaction`` Bundle of ``PUT`` entries per call, or, where the server refuses transactions
(404, 405, 501, or an ``OperationOutcome`` coded ``not-supported``), one ``PUT`` per resource, in
the given order (a Patient before the resources that name it).

The bearer token goes only into the ``Authorization`` header of requests under ``base_url``: never
into a message, a ``repr`` or a log line; redirects are not followed and the environment's proxies
and ``.netrc`` are not used. Error messages quote the server's ``OperationOutcome`` text.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

import requests

from cds_hooks.fhir_client import FHIR_JSON, token_session

#: answers to a transaction POST that mean "this server does not do transactions"
_NO_TRANSACTIONS = {HTTPStatus.NOT_FOUND, HTTPStatus.METHOD_NOT_ALLOWED, HTTPStatus.NOT_IMPLEMENTED}
_EXPLAINED: dict[int, str] = {
    HTTPStatus.UNAUTHORIZED: "the FHIR server refused the credentials (401: check --bearer-token)",
    HTTPStatus.FORBIDDEN: "the FHIR server forbids this write (403: the token lacks write access)",
    HTTPStatus.UNPROCESSABLE_ENTITY: "the FHIR server rejected the content (422)",
}
_MAX_OUTCOME_TEXT = 600


class FhirWriteError(Exception):
    """A read or write the server refused or that failed; ``message`` is safe to print."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


@dataclass
class SyncResult:
    """What :meth:`FhirWriter.sync` did (or would do, in a dry run), as ``Type/id`` lists."""

    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    mode: str = "none"  # "transaction", "put", "dry-run" or "none" (nothing to write)


class FhirWriter:
    """Reads and writes against one FHIR server base URL."""

    def __init__(
        self,
        base_url: str,
        *,
        access_token: str | None = None,
        timeout: float = 30.0,
        session: requests.Session | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._token = access_token
        self.timeout = timeout
        self.session = session or token_session()
        #: None until the server has answered a transaction; False once it refused one
        self.transactions: bool | None = None

    def __repr__(self) -> str:  # never show the token
        return f"FhirWriter({self.base_url!r})"

    def read(self, rtype: str, ident: str) -> dict[str, Any] | None:
        """The server's copy of ``rtype/ident``, or None when it has none (404, 410)."""
        response = self._send("GET", f"{rtype}/{ident}")
        if response.status_code in (HTTPStatus.NOT_FOUND, HTTPStatus.GONE):
            return None
        return self._checked(response, f"reading {rtype}/{ident}")

    def sync(self, resources: Sequence[Mapping[str, Any]], *, dry_run: bool = False) -> SyncResult:
        """Make the server hold ``resources`` (each with ``resourceType`` and ``id``).

        :raises FhirWriteError: naming the refused request, with the server's OperationOutcome.
        """
        result = SyncResult()
        changed: list[Mapping[str, Any]] = []
        for resource in resources:
            name = f"{resource['resourceType']}/{resource['id']}"
            current = self.read(str(resource["resourceType"]), str(resource["id"]))
            if current is not None and same_content(current, resource):
                result.unchanged.append(name)
                continue
            (result.created if current is None else result.updated).append(name)
            changed.append(resource)
        if not changed:
            return result
        if dry_run:
            result.mode = "dry-run"
            return result
        if self.transactions is not False and self._transaction(changed):
            result.mode = "transaction"
            return result
        for resource in changed:
            name = f"{resource['resourceType']}/{resource['id']}"
            self._checked(self._send("PUT", name, resource), f"writing {name}")
        result.mode = "put"
        return result

    def _transaction(self, resources: Iterable[Mapping[str, Any]]) -> bool:
        """Write ``resources`` in one transaction; False when the server refuses transactions."""
        entries = [
            {"resource": dict(r), "request": {"method": "PUT",
                                              "url": f"{r['resourceType']}/{r['id']}"}}
            for r in resources
        ]
        bundle = {"resourceType": "Bundle", "type": "transaction", "entry": entries}
        response = self._send("POST", "", bundle)
        if response.status_code in _NO_TRANSACTIONS or (
            response.status_code == HTTPStatus.BAD_REQUEST
            and "not-supported" in _issue_codes(response)
        ):
            self.transactions = False
            return False
        answer = self._checked(response, "writing a transaction Bundle")
        self.transactions = True
        for entry, sent in zip(answer.get("entry") or [], entries, strict=False):
            status = str((entry.get("response") or {}).get("status", ""))
            if not status.startswith(("200", "201")):
                raise FhirWriteError(
                    f"the FHIR server answered {status or 'no status'} for "
                    f"{sent['request']['url']} in the transaction"
                    + _outcome_suffix((entry.get("response") or {}).get("outcome"))
                )
        return True

    def _send(self, method: str, path: str, body: Any = None) -> requests.Response:
        url = f"{self.base_url}/{path}" if path else self.base_url
        headers = {"Accept": FHIR_JSON}
        if body is not None:
            headers["Content-Type"] = FHIR_JSON
        if self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        try:
            return self.session.request(
                method, url, headers=headers, timeout=self.timeout, allow_redirects=False,
                data=json.dumps(body) if body is not None else None,
            )
        except requests.RequestException as exc:
            raise FhirWriteError(
                f"could not reach the FHIR server at {self.base_url}: {type(exc).__name__}"
            ) from exc

    def _checked(self, response: requests.Response, what: str) -> dict[str, Any]:
        status = response.status_code
        if status in _EXPLAINED or not 200 <= status < 300:
            lead = _EXPLAINED.get(status, f"the FHIR server answered {status}")
            raise FhirWriteError(
                f"{lead} when {what}" + _outcome_suffix(_json(response)), status=status
            )
        body = _json(response)
        if not isinstance(body, dict):
            raise FhirWriteError(f"the FHIR server sent no FHIR JSON when {what}", status=status)
        return body


def same_content(current: Mapping[str, Any], wanted: Mapping[str, Any]) -> bool:
    """Whether the server's copy holds ``wanted``. Not compared: ``meta`` (the server's), and
    ``text`` when ``wanted`` has none (servers such as HAPI may generate a narrative)."""
    ignored = {"meta"} | ({"text"} if "text" not in wanted else set())
    return {k: v for k, v in current.items() if k not in ignored} == {
        k: v for k, v in wanted.items() if k != "meta"
    }


def outcome_text(outcome: Any) -> str:
    """The human-readable text of an ``OperationOutcome`` (details.text or diagnostics), bounded."""
    if not isinstance(outcome, Mapping) or outcome.get("resourceType") != "OperationOutcome":
        return ""
    texts = []
    for issue in outcome.get("issue") or []:
        if not isinstance(issue, Mapping):
            continue
        details = issue.get("details")
        text = details.get("text") if isinstance(details, Mapping) else None
        text = text or issue.get("diagnostics") or issue.get("code")
        if isinstance(text, str) and text.strip():
            texts.append(text.strip())
    joined = "; ".join(dict.fromkeys(texts))
    return joined if len(joined) <= _MAX_OUTCOME_TEXT else joined[: _MAX_OUTCOME_TEXT - 3] + "..."


def _outcome_suffix(outcome: Any) -> str:
    text = outcome_text(outcome)
    return f": {text}" if text else ""


def _json(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _issue_codes(response: requests.Response) -> list[str]:
    body = _json(response)
    issues = body.get("issue") if isinstance(body, dict) else None
    return [str(i.get("code")) for i in issues or [] if isinstance(i, dict)]
