"""A toy clinical domain for the protocol tests: proves a second domain plugs in by config alone.

Services (all read ``TOY_*`` settings from the app config):

* ``toy-greeter`` (patient-view): needs ``patient``; ``conditions`` optional. Its response
  extension echoes what the plugin received so tests can assert on the resolved prefetch.
* ``toy-orders`` (order-sign) and ``toy-select`` (order-select): count draft and active orders.
* ``toy-sleeper`` (patient-view): sleeps ``TOY_SLEEP_SECONDS`` (deadline tests).
* ``toy-broken`` (patient-view): returns a card made invalid after construction.
* ``toy-raiser`` (patient-view): raises an exception holding a fake secret.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from cds_hooks.cards import Card, Link, Source, Suggestion
from cds_hooks.service import HookCall, HookResult, ServiceDefinition

SECRET_IN_EXCEPTION = "toy-secret-in-exception"
SOURCE = Source(label="Toy domain", url="https://example.org/toy")


def _summary(call: HookCall) -> dict[str, Any]:
    """What the plugin saw, for tests (never sent by a real plugin)."""
    seen: dict[str, Any] = {}
    for key, value in call.prefetch.items():
        if value is None:
            seen[key] = None
        elif value.get("resourceType") == "Bundle":
            seen[key] = {"entries": len(value.get("entry") or []), "links": value.get("link", [])}
        else:
            seen[key] = {"resourceType": value["resourceType"], "id": value.get("id")}
    return {
        "prefetch": seen,
        "missing": list(call.missing_prefetch),
        "evaluationDate": call.evaluation_date.isoformat(),
        "hookInstance": call.hook_instance,
        "requestExtension": dict(call.extension or {}),
    }


class Greeter:
    """Greets the patient; needs the Patient resource."""

    definition = ServiceDefinition(
        id="toy-greeter",
        hook="patient-view",
        title="Toy greeter",
        description="Greets the patient (test domain).",
        prefetch={
            "patient": "Patient/{{context.patientId}}",
            "conditions": "Condition?patient={{context.patientId}}&category=problem-list-item",
        },
        usage_requirements="None: a test service.",
        version="2.0",
        hook_version="1.0",
        needs_data=("patient",),
    )

    def __init__(self, config: Mapping[str, Any]) -> None:
        self.config = config

    def evaluate(self, call: HookCall) -> HookResult:
        patient = call.prefetch.get("patient")
        name = patient.get("id") if patient else "nobody"
        card = Card(
            summary=f"Hello {name}",
            indicator="info",
            source=SOURCE,
            detail="A toy card.",
            suggestions=[Suggestion(label="Wave back")],
            selectionBehavior="at-most-one",
            overrideReasons=[
                {
                    "system": "https://example.org/toy/reasons",
                    "code": "not-now",
                    "display": "Not now",
                }
            ],
            links=[Link(label="Toy docs", url="https://example.org/toy/docs")],
        )
        return HookResult(
            cards=[card],
            extension={"org.example.toy": _summary(call)},
            card_kinds={card.uuid: "greeting"},
            card_rules={card.uuid: ["TOY-GREET", "TOY-POLITE"]},
        )


class OrderCounter:
    """Counts draft orders and the active orders prefetched (order-sign / order-select)."""

    def __init__(self, service_id: str, hook: str) -> None:
        self.definition = ServiceDefinition(
            id=service_id,
            hook=hook,
            title="Toy order counter",
            description="Counts orders (test domain).",
            prefetch={"orders": "MedicationRequest?patient={{context.patientId}}&status=active"},
        )

    def evaluate(self, call: HookCall) -> HookResult:
        drafts = len(call.context["draftOrders"].get("entry") or [])
        cards = [Card(summary=f"{drafts} draft order(s)", indicator="info", source=SOURCE)]
        warning = Card(summary="Check interactions", indicator="warning", source=SOURCE)
        cards.append(warning)
        return HookResult(
            cards=cards,
            extension={"org.example.toy": _summary(call)},
            card_kinds={cards[0].uuid: "order-count", warning.uuid: "interaction"},
        )


class Sleeper:
    """Sleeps longer than the deadline."""

    definition = ServiceDefinition(
        id="toy-sleeper", hook="patient-view", title="Toy sleeper", description="Sleeps."
    )

    def __init__(self, config: Mapping[str, Any]) -> None:
        self.seconds = float(config.get("TOY_SLEEP_SECONDS", 0.0))

    def evaluate(self, call: HookCall) -> HookResult:
        time.sleep(self.seconds)
        return HookResult(cards=[Card(summary="Woke up", indicator="info", source=SOURCE)])


class Broken:
    """Returns a card that breaks the model after it was built (summary too long)."""

    definition = ServiceDefinition(
        id="toy-broken", hook="patient-view", title="Toy broken", description="Bad output."
    )

    def evaluate(self, call: HookCall) -> HookResult:
        card = Card(summary="fine", indicator="info", source=SOURCE)
        card.summary = "x" * 200  # pydantic does not re-validate on assignment
        return HookResult(cards=[card])


class Raiser:
    """Raises an exception whose message must not reach the client."""

    definition = ServiceDefinition(
        id="toy-raiser", hook="patient-view", title="Toy raiser", description="Raises."
    )

    def evaluate(self, call: HookCall) -> HookResult:
        raise RuntimeError(SECRET_IN_EXCEPTION)


def create_services(config: Mapping[str, Any]) -> list[Any]:
    """The plugin entry point the protocol layer looks up by name."""
    return [
        Greeter(config),
        OrderCounter("toy-orders", "order-sign"),
        OrderCounter("toy-select", "order-select"),
        Sleeper(config),
        Broken(),
        Raiser(),
    ]


def register_cli(subparsers: Any) -> None:
    """A plugin subcommand, to prove the CLI discovers them."""
    parser = subparsers.add_parser("toy-hello", help="print a greeting (toy plugin)")
    parser.add_argument("--name", default="world")
    parser.set_defaults(func=lambda args: print(f"hello {args.name}") or 0)
