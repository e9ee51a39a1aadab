"""The thyroid-cancer (RAI-refractory DTC) plugin.

``create_services(config)`` gives the ``patient-view`` service (:mod:`plugin.thyroid.service`)
and the two order services (:mod:`plugin.thyroid.orders`); ``register_cli(subparsers)`` adds the
``rair-cds evaluate`` command (:mod:`plugin.thyroid.cli`) and ``rair-cds load-samples``
(:mod:`plugin.thyroid.sandbox_cli`); ``create_blueprint(config)`` serves the
demo page. All are found by ``cds_hooks`` through
the ``PLUGINS`` setting, never imported by name there.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from typing import Any

from flask import Blueprint

from cds_hooks.service import CdsService


def create_services(config: Mapping[str, Any]) -> list[CdsService]:
    """The thyroid services: patient-view first, then order-select and order-sign.

    Imports happen here, at app start-up, so a broken module fails loudly there and not on the
    first request.
    """
    from plugin.thyroid import knowledge_check
    from plugin.thyroid.assess import default_engine
    from plugin.thyroid.orders import create_order_services
    from plugin.thyroid.service import PatientViewService

    # every conclusion the rules can reach must have card text and a citation (issue 3)
    knowledge_check.check_knowledge(knowledge_check.RULES_DIR)
    # load the rulesets now: a malformed rule or an unknown action stops start-up, not the first
    # patient (the engine is per process, built after any fork; RULE-ENGINE.md §1 item 7)
    default_engine()
    return [PatientViewService(), *create_order_services(config)]


def register_cli(subparsers: argparse._SubParsersAction) -> None:  # noqa: SLF001 - argparse's type
    """Add ``evaluate`` and ``load-samples`` to the ``rair-cds`` command."""
    from plugin.thyroid.cli import register
    from plugin.thyroid.sandbox_cli import register_load_samples

    register(subparsers)
    register_load_samples(subparsers)


def create_blueprint(config: Mapping[str, Any]) -> Blueprint:
    """The demo EHR page at ``/demo`` (:mod:`plugin.thyroid.demo`)."""
    from plugin.thyroid.demo import create_blueprint as demo_blueprint

    return demo_blueprint(config)
