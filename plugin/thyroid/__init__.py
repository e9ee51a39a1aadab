"""The thyroid-cancer (RAI-refractory DTC) plugin.

``create_services(config)`` gives the ``patient-view`` service (:mod:`plugin.thyroid.patient_view`)
and the two order services (:mod:`plugin.thyroid.orders.service`); ``register_cli(subparsers)``
adds the
``rair-cds evaluate`` command (:mod:`plugin.thyroid.cli`) and ``rair-cds load-samples``
(:mod:`plugin.thyroid.sandbox`); ``create_blueprint(config)`` serves the
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

    The knowledge (code lists, thresholds, card text, rules and the built engine) is loaded here,
    once, from the ``THYROID_KNOWLEDGE_DIR`` folder (default ``rules/thyroid``), and passed to
    every service: a malformed rule, an unknown action or a conclusion without card text stops
    start-up, not the first patient. Imports happen here too, so a broken module fails loudly at
    start-up.
    """
    from plugin.thyroid.knowledge.loader import knowledge_from_config
    from plugin.thyroid.orders.service import create_order_services
    from plugin.thyroid.patient_view import PatientViewService

    knowledge = knowledge_from_config(config)
    return [PatientViewService(knowledge=knowledge),
            *create_order_services(config, knowledge=knowledge)]


def register_cli(subparsers: argparse._SubParsersAction) -> None:  # noqa: SLF001 - argparse's type
    """Add ``evaluate`` and ``load-samples`` to the ``rair-cds`` command."""
    from plugin.thyroid.cli import register
    from plugin.thyroid.sandbox import register_load_samples

    register(subparsers)
    register_load_samples(subparsers)


def create_blueprint(config: Mapping[str, Any]) -> Blueprint:
    """The demo EHR page at ``/demo`` (:mod:`plugin.thyroid.demo.blueprint`)."""
    from plugin.thyroid.demo.blueprint import create_blueprint as demo_blueprint

    return demo_blueprint(config)
