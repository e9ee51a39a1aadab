"""Load the services of every plugin named in ``PLUGINS``; fail loudly at start-up.

A plugin is a module found by import name (``importlib``), never imported by name in this
package, so a second clinical domain needs no edit to ``cds_hooks``. It exposes
``create_services(config) -> list[CdsService]`` and, optionally, ``register_cli(subparsers)``
and ``create_blueprint(config) -> flask.Blueprint`` (web pages such as a demo).
"""

from __future__ import annotations

import importlib
import logging
import re
from collections.abc import Iterable, Mapping
from types import ModuleType
from typing import Any

from flask import Blueprint

from cds_hooks.errors import ConfigurationError, UnknownService
from cds_hooks.prefetch import check_template, query_advice
from cds_hooks.service import CdsService, ServiceDefinition

log = logging.getLogger("rair_cds.registry")

_SERVICE_ID = re.compile(r"^[^/\s?#]+$")


def import_plugins(import_names: Iterable[str]) -> list[ModuleType]:
    """Import each plugin module.

    :raises ConfigurationError: when a module cannot be imported.
    """
    if isinstance(import_names, str):
        raise ConfigurationError("PLUGINS must be a list of module names, not a string")
    modules = []
    for name in import_names:
        try:
            modules.append(importlib.import_module(name))
        except ImportError as exc:
            raise ConfigurationError(f"cannot import plugin module '{name}': {exc}") from exc
    return modules


def load_blueprints(import_names: Iterable[str], config: Mapping[str, Any]) -> list[Blueprint]:
    """Optional web pages of each plugin: a module may expose ``create_blueprint(config)``.

    :raises ConfigurationError: when ``create_blueprint`` does not return a Flask Blueprint.
    """
    blueprints = []
    for module in import_plugins(import_names):
        factory = getattr(module, "create_blueprint", None)
        if factory is None:
            continue
        blueprint = factory(config)
        if not isinstance(blueprint, Blueprint):
            raise ConfigurationError(
                f"plugin '{module.__name__}': create_blueprint must return a flask.Blueprint"
            )
        blueprints.append(blueprint)
    return blueprints


def load_services(import_names: Iterable[str], config: Mapping[str, Any]) -> dict[str, CdsService]:
    """``{service id: service}`` from every plugin, in plugin then service order.

    :raises ConfigurationError: for a plugin without ``create_services``, a service that breaks
        the contract, or a duplicate service id.
    """
    services: dict[str, CdsService] = {}
    for module in import_plugins(import_names):
        factory = getattr(module, "create_services", None)
        if not callable(factory):
            raise ConfigurationError(f"plugin '{module.__name__}' has no create_services(config)")
        try:
            created = factory(config)
        except ConfigurationError:
            raise
        except Exception as exc:
            # a plugin that cannot start (e.g. its knowledge files disagree) is a configuration
            # problem: the operator gets one clear line, not a traceback
            raise ConfigurationError(
                f"plugin '{module.__name__}' failed to start: {type(exc).__name__}: {exc}"
            ) from exc
        if not isinstance(created, list | tuple):
            raise ConfigurationError(
                f"plugin '{module.__name__}': create_services must return a list"
            )
        for service in created:
            check_service(service, module.__name__)
            service_id = service.definition.id
            if service_id in services:
                raise ConfigurationError(
                    f"duplicate service id '{service_id}' (plugin '{module.__name__}')"
                )
            services[service_id] = service
    return services


def check_service(service: Any, plugin: str) -> None:
    """Check one service against the contract in :mod:`cds_hooks.service`.

    :raises ConfigurationError: naming the plugin and what is wrong.
    """
    if not isinstance(service, CdsService) or not isinstance(
        getattr(service, "definition", None), ServiceDefinition
    ):
        raise ConfigurationError(
            f"plugin '{plugin}' returned {service!r}, which is not a CdsService"
        )
    definition = service.definition
    if not _SERVICE_ID.match(definition.id):
        raise ConfigurationError(f"plugin '{plugin}': service id {definition.id!r} is not URL-safe")
    for member in ("hook", "description"):
        if not getattr(definition, member).strip():
            raise ConfigurationError(
                f"plugin '{plugin}': service '{definition.id}' has no {member}"
            )
    if not (definition.title or "").strip():  # RECOMMENDED: discovery then leaves it out
        log.warning("service '%s' has no title (RECOMMENDED in discovery)", definition.id)
    if definition.extension is not None and (
        not isinstance(definition.extension, Mapping) or not definition.extension
    ):
        raise ConfigurationError(
            f"service '{definition.id}': extension must be a non-empty JSON object"
        )
    unknown = set(definition.needs_data) - set(definition.prefetch)
    if unknown:
        raise ConfigurationError(
            f"service '{definition.id}': needs_data names keys without a prefetch template: "
            f"{sorted(unknown)}"
        )
    for key, template in definition.prefetch.items():
        if not isinstance(key, str) or not key.strip():
            raise ConfigurationError(
                f"service '{definition.id}': prefetch keys must be non-empty strings"
            )
        try:
            check_template(template, definition.hook)
        except ConfigurationError as exc:
            raise ConfigurationError(
                f"service '{definition.id}', prefetch '{key}': {exc.message}"
            ) from exc
        for advice in query_advice(template):
            log.warning(
                "service '%s', prefetch '%s': %s (spec: prefetch query restrictions)",
                definition.id,
                key,
                advice,
            )


class ServiceRegistry:
    """The loaded services of one app (``app.extensions["rair_cds"].registry``)."""

    def __init__(self, services: Mapping[str, CdsService]) -> None:
        self._services = dict(services)

    def __contains__(self, service_id: object) -> bool:
        return service_id in self._services

    def __len__(self) -> int:
        return len(self._services)

    def get(self, service_id: str) -> CdsService:
        """The service with this id.

        :raises UnknownService: (404) when there is none.
        """
        try:
            return self._services[service_id]
        except KeyError:
            raise UnknownService(f"no CDS service with id '{service_id}'") from None

    def definitions(self) -> list[ServiceDefinition]:
        """Every service definition, in load order."""
        return [service.definition for service in self._services.values()]
