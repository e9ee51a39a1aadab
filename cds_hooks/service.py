"""The plugin contract: what a clinical domain gives the protocol layer, and what it gets back.

A domain is a Python module named in the ``PLUGINS`` setting. It exposes one function::

    def create_services(config: Mapping[str, Any]) -> list[CdsService]

Each :class:`CdsService` has a :class:`ServiceDefinition` (served by discovery) and an
``evaluate(call)`` method. The protocol layer validates the request, resolves the prefetch
(supplied, ``null``, or fetched from the EHR's FHIR server) and hands the plugin a
:class:`HookCall`; the plugin returns a :class:`HookResult` built from :mod:`cds_hooks.cards`.
``cds_hooks`` never imports a plugin module by name in code: a second domain needs no edit here.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from cds_hooks.cards import Action, Card


@dataclass(frozen=True)
class ServiceDefinition:
    """One entry of ``GET /cds-services`` (spec: CDS Service discovery).

    ``prefetch`` maps a key to a FHIR query template using only the spec's tokens
    (``{{context.patientId}}``, ``{{context.userId}}``, ``{{context.encounterId}}``, ...).
    ``needs_data`` names the prefetch keys without which the service cannot decide: when such a
    key is missing and cannot be fetched, the call fails with 412. ``extension`` (a JSON object,
    reverse-domain names) is sent in the discovery entry.
    """

    id: str
    hook: str
    title: str
    description: str
    prefetch: Mapping[str, str] = field(default_factory=dict)
    usage_requirements: str | None = None
    version: str | None = None
    hook_version: str | None = None
    needs_data: tuple[str, ...] = ()
    extension: Mapping[str, Any] | None = None

    def to_discovery_json(self) -> dict[str, Any]:
        """The discovery entry, with spec member names and no empty members."""
        entry: dict[str, Any] = {"hook": self.hook, "id": self.id}
        if self.title and self.title.strip():  # RECOMMENDED; never sent empty
            entry["title"] = self.title
        entry["description"] = self.description
        if self.prefetch:
            entry["prefetch"] = dict(self.prefetch)
        if self.usage_requirements:
            entry["usageRequirements"] = self.usage_requirements
        if self.version:
            entry["version"] = self.version
        if self.hook_version:
            entry["hookVersion"] = self.hook_version
        if self.extension:
            entry["extension"] = dict(self.extension)
        return entry


@dataclass(frozen=True)
class HookCall:
    """A validated hook request with its prefetch resolved.

    ``prefetch[key]`` is the FHIR resource (a dict; a searchset Bundle with every page merged) or
    ``None`` when the EHR said it has no data (``null``) or the key could not be had and is not
    required. ``missing_prefetch`` lists keys that were wanted but could not be had.
    ``evaluation_date`` is the UTC date the service evaluates "as of".
    """

    service_id: str
    hook: str
    hook_instance: str
    context: Mapping[str, Any]
    prefetch: Mapping[str, Any]
    evaluation_date: dt.date
    fhir_server: str | None = None
    missing_prefetch: tuple[str, ...] = ()
    extension: Mapping[str, Any] | None = None


@dataclass
class HookResult:
    """What a service returns: cards, optional system actions, optional response extension.

    ``card_kinds`` optionally maps a card's ``uuid`` to the plugin's name for that kind of card
    (e.g. ``"rai-refractory"``). It is never sent to the client: the protocol layer records it
    with each issued card so feedback can be reported per kind (``rair-cds feedback-report``).
    ``card_rules`` optionally maps a card's ``uuid`` to the knowledge rules behind it (rule ids);
    also never sent, recorded with the card so the report gives accept/override rates per rule.
    """

    cards: list[Card] = field(default_factory=list)
    system_actions: list[Action] = field(default_factory=list)
    extension: dict[str, Any] | None = None
    card_kinds: dict[str, str] = field(default_factory=dict)
    card_rules: dict[str, list[str]] = field(default_factory=dict)


@runtime_checkable
class CdsService(Protocol):
    """A CDS service provided by a plugin."""

    definition: ServiceDefinition

    def evaluate(self, call: HookCall) -> HookResult:
        """Decide, for one hook call, which cards to show."""
        ...


class PluginFactory(Protocol):
    """The one function a plugin module exposes."""

    def __call__(self, config: Mapping[str, Any]) -> list[CdsService]: ...
