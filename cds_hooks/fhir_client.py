"""Reads from the EHR's FHIR server on behalf of one hook call.

:class:`FhirClient` wraps a ``requests.Session`` with: a bearer token from
``fhirAuthorization``; a timeout on every request, clipped to the call's deadline; no redirects
(a token must never follow a ``Location`` header); and :meth:`FhirClient.check_destination`, the
one place that decides whether a URL may receive the token. It only allows URLs under the
request's ``fhirServer`` today; a destination allowlist can be added there. ``link[next]`` pages
are followed up to ``max_pages`` and merged into one Bundle.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from http import HTTPStatus
from typing import Any
from urllib.parse import urljoin

import requests

from cds_hooks.errors import DeadlineExceeded, FhirServerError, PayloadTooLarge
from cds_hooks.limits import JsonLimits, read_fhir_json

FHIR_JSON = "application/fhir+json"


class FhirClient:
    """FHIR reads against one ``fhirServer`` for one hook call (thread-safe enough for a pool)."""

    def __init__(
        self,
        base_url: str,
        *,
        access_token: str | None = None,
        timeout: float = 5.0,
        deadline: float | None = None,
        max_pages: int = 10,
        max_resources: int = 5000,
        session: requests.Session | None = None,
        destination_check: Callable[[str], None] | None = None,
        json_limits: JsonLimits | None = None,
    ) -> None:
        """:param deadline: a ``time.monotonic()`` instant after which no request is made."""
        self.base_url = base_url.rstrip("/")
        self._token = access_token
        self.timeout = timeout
        self.deadline = deadline
        self.max_pages = max_pages
        self.max_resources = max_resources
        self.session = session or token_session()
        self._destination_check = destination_check
        self.json_limits = json_limits or JsonLimits()  # security (issue 5)

    def __repr__(self) -> str:  # never show the token
        return f"FhirClient({self.base_url!r})"

    def url_for(self, query: str) -> str:
        """An absolute URL for a relative query (``Patient/1``) or an absolute one."""
        if query.startswith(("http://", "https://")):
            return query
        return urljoin(self.base_url + "/", query.lstrip("/"))

    def check_destination(self, url: str) -> None:
        """Refuse any URL that may not receive the token: outside ``fhirServer``, or refused by
        the configured destination guard (``FHIR_DESTINATION_GUARD``).

        :raises FhirServerError: naming the URL's path.
        """
        base = self.base_url
        if url != base and not url.startswith((base + "/", base + "?")):
            raise FhirServerError(
                f"refusing to send the FHIR token outside fhirServer: {_safe(url)}"
            )
        if self._destination_check is not None:
            self._destination_check(url)

    def read(self, query: str) -> dict[str, Any]:
        """GET one resource (a read or one search page).

        :raises FhirServerError: on a non-2xx status, a redirect, a timeout, a connection error,
            a body that is not a FHIR resource, or an ``OperationOutcome`` body.
        :raises DeadlineExceeded: when the call's deadline has passed or cut the request short.
        """
        url = self.url_for(query)
        self.check_destination(url)
        timeout, clipped = self._timeout()
        headers = {"Accept": FHIR_JSON}
        if self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        try:
            response = self.session.get(
                url, headers=headers, timeout=timeout, allow_redirects=False, stream=True
            )
        except requests.Timeout as exc:
            if clipped:
                raise DeadlineExceeded(f"deadline reached while reading {_safe(url)}") from exc
            raise FhirServerError(f"timed out after {timeout:.1f}s reading {_safe(url)}") from exc
        except requests.RequestException as exc:
            raise FhirServerError(f"could not read {_safe(url)}: {type(exc).__name__}") from exc
        with response:  # stream=True: release the connection on every path
            return self._resource_from(response, url)

    def _resource_from(self, response: requests.Response, url: str) -> dict[str, Any]:
        status = response.status_code
        if HTTPStatus.MULTIPLE_CHOICES <= status < HTTPStatus.BAD_REQUEST:
            raise FhirServerError(
                f"redirect ({status}) not followed for {_safe(url)}", http_status=status
            )
        if status == HTTPStatus.UNAUTHORIZED:
            raise FhirServerError(
                f"FHIR server refused the token (401) for {_safe(url)}", http_status=status
            )
        try:
            response.raise_for_status()
        except requests.HTTPError as exc:
            raise FhirServerError(
                f"FHIR server answered {status} for {_safe(url)}", http_status=status
            ) from exc
        try:
            # security (issue 5): byte cap and JSON shape bounds; raises FhirServerError
            resource = read_fhir_json(response, self.json_limits, _safe(url))
        except ValueError as exc:
            raise FhirServerError(f"FHIR server sent no JSON for {_safe(url)}") from exc
        if not isinstance(resource, dict) or not isinstance(resource.get("resourceType"), str):
            raise FhirServerError(f"FHIR server sent no FHIR resource for {_safe(url)}")
        if resource["resourceType"] == "OperationOutcome":
            raise FhirServerError(f"FHIR server sent an OperationOutcome for {_safe(url)}")
        return resource

    def read_all(self, query: str) -> dict[str, Any]:
        """:meth:`read`, then, for a Bundle with ``link[next]``, every further page merged in.

        :raises FhirServerError: see :meth:`complete`.
        """
        return self.complete(self.read(query), query)

    def complete(self, bundle: dict[str, Any], query: str = "") -> dict[str, Any]:
        """Follow ``link[next]`` of ``bundle`` and merge every page's entries into one Bundle.

        A resource without a next link is returned unchanged.

        :raises PayloadTooLarge: past ``max_pages`` pages or ``max_resources`` entries.
        :raises FhirServerError: when the searchset, all pages merged, still has fewer matches
            than its ``total`` (a server that cut the result without a next link): partial data
            would let the rules conclude from an incomplete record.
        """
        merged = self._merge_pages(bundle)
        if (short := missing_matches(merged)) > 0:
            where = f" for {_safe(self.url_for(query))}" if query else ""
            raise FhirServerError(
                f"incomplete search result{where}: the server reports {short} more match(es)"
                " than it returned, with no next page"
            )
        return merged

    def _merge_pages(self, bundle: dict[str, Any]) -> dict[str, Any]:
        if next_link(bundle) is None:
            return bundle
        merged = copy.deepcopy(bundle)
        entries: list[Any] = _entries(merged)
        page, pages = bundle, 1
        while (url := next_link(page)) is not None:
            if pages >= self.max_pages:
                raise PayloadTooLarge(f"more than {self.max_pages} pages for {_safe(url)}")
            page = self.read(url)
            pages += 1
            if page.get("resourceType") != "Bundle":
                raise FhirServerError(f"next page is not a Bundle: {_safe(url)}")
            entries.extend(_entries(page))
            if len(entries) > self.max_resources:
                raise PayloadTooLarge(
                    f"more than {self.max_resources} resources for one prefetch key"
                )
        merged["entry"] = entries
        merged["link"] = [ln for ln in merged.get("link") or [] if ln.get("relation") != "next"]
        if not merged["link"]:
            del merged["link"]
        return merged

    def _timeout(self) -> tuple[float, bool]:
        """The timeout for the next request and whether the deadline shortened it."""
        if self.deadline is None:
            return self.timeout, False
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise DeadlineExceeded("deadline reached before a FHIR read")
        return (left, True) if left < self.timeout else (self.timeout, False)


def token_session() -> requests.Session:
    """A session for token-bearing requests: it does not pick up proxies or ``.netrc``
    credentials from the environment, so the token goes only where the caller allowed."""
    session = requests.Session()
    session.trust_env = False
    return session


def next_link(resource: dict[str, Any]) -> str | None:
    """The ``link[relation=next].url`` of a Bundle, or None."""
    if resource.get("resourceType") != "Bundle":
        return None
    links = resource.get("link")
    for link in links if isinstance(links, list) else []:
        if (
            isinstance(link, dict)
            and link.get("relation") == "next"
            and isinstance(link.get("url"), str)
        ):
            return link["url"]
    return None


def missing_matches(bundle: dict[str, Any]) -> int:
    """How many matches a searchset says it has (``total``) beyond the entries it carries.

    Counts entries whose ``search.mode`` is ``match`` or absent (``include`` and ``outcome``
    entries are not matches). 0 when the Bundle has no usable ``total`` or is not a searchset:
    ``total`` is optional, so its absence proves nothing.
    """
    if bundle.get("resourceType") != "Bundle" or bundle.get("type") != "searchset":
        return 0
    total = bundle.get("total")
    if not isinstance(total, int) or isinstance(total, bool):
        return 0
    matches = 0
    for entry in _entries(bundle):
        search = entry.get("search") if isinstance(entry, dict) else None
        mode = search.get("mode") if isinstance(search, dict) else None
        if mode is None or mode == "match":
            matches += 1
    return max(0, total - matches)


def _entries(bundle: dict[str, Any]) -> list[Any]:
    """A Bundle's entries; a malformed ``entry`` member is an error, not a crash."""
    entries = bundle.get("entry")
    if entries is None:
        return []
    if not isinstance(entries, list):
        raise FhirServerError("Bundle.entry is not an array")
    return list(entries)


def _safe(url: str) -> str:
    """The URL without its query string: queries may carry patient identifiers."""
    return url.split("?", 1)[0]
