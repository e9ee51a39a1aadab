"""Feedback hygiene (issue 12 item 5) through the HTTP API and ``rair-cds feedback-report``.

Feedback for a card this service never issued, naming a suggestion the card never had, or
giving an override reason the card never offered is accepted (200) and stored, but marked and
counted apart; the rates per card kind and per rule count only matching feedback. The rules
recorded with each thyroid card are the rules its detail cites.
"""

from __future__ import annotations

import json
import logging
import re
import sqlite3

import pytest
from conftest import REPO_DIR, assert_operation_outcome

from cds_hooks.cli import main
from tests.test_cds_hooks_feedback import PATIENT_VIEW

FEEDBACK = "/cds-services/toy-greeter/feedback"
TOY_REASONS = "https://example.org/toy/reasons"


def _issue_card(client) -> dict:
    return client.post("/cds-services/toy-greeter", json=PATIENT_VIEW).get_json()["cards"][0]


def _item(card: str, outcome: str, minute: int, **extra) -> dict:
    return {"card": card, "outcome": outcome,
            "outcomeTimestamp": f"2024-01-15T10:{minute:02}:00Z", **extra}


def _rows(app) -> list[dict]:
    app.extensions["rair_cds"].feedback_store.ensure_schema()
    with sqlite3.connect(app.config["FEEDBACK_DB"]) as conn:
        conn.row_factory = sqlite3.Row
        out = [dict(r) for r in conn.execute("SELECT * FROM feedback ORDER BY id")]
    conn.close()
    return out


def test_mismatched_feedback_is_stored_marked_and_reported_apart(app, client, capsys):
    card = _issue_card(client)
    suggestion = card["suggestions"][0]["uuid"]
    items = [
        _item(card["uuid"], "accepted", 1, acceptedSuggestions=[{"id": suggestion}]),
        _item(card["uuid"], "overridden", 2,
              overrideReason={"reason": {"system": TOY_REASONS, "code": "not-now"}}),
        _item(card["uuid"], "accepted", 3, acceptedSuggestions=[{"id": "never-offered"}]),
        _item(card["uuid"], "overridden", 4,
              overrideReason={"reason": {"system": TOY_REASONS, "code": "made-up"}}),
        _item("a-card-we-never-issued", "overridden", 5),
    ]
    response = client.post(FEEDBACK, json={"feedback": items})
    assert response.status_code == 200
    marks = [(r["unknown_card"], r["unknown_suggestion"], r["unknown_reason"]) for r in _rows(app)]
    assert marks == [(0, 0, 0), (0, 0, 0), (0, 1, 0), (0, 0, 1), (1, 0, 0)]

    assert main(["feedback-report", "--db", app.config["FEEDBACK_DB"]]) == 0
    lines = [line.split() for line in capsys.readouterr().out.splitlines()]
    # the rates count the two matching items only; the three others are counted apart
    assert ["toy-greeter", "greeting", "2", "1", "1", "50.0", "50.0"] in lines
    assert ["toy-greeter", "TOY-GREET", "2", "1", "1", "50.0", "50.0"] in lines
    assert ["toy-greeter", "TOY-POLITE", "2", "1", "1", "50.0", "50.0"] in lines
    assert ["toy-greeter", "1", "1", "1"] in lines


def test_a_card_issued_by_another_service_is_unknown_here(make_app):
    app = make_app()
    client = app.test_client()
    card = _issue_card(client)  # issued by toy-greeter
    body = {"feedback": [_item(card["uuid"], "overridden", 1)]}
    assert client.post("/cds-services/toy-orders/feedback", json=body).status_code == 200
    assert [(r["service_id"], r["unknown_card"]) for r in _rows(app)] == [("toy-orders", 1)]


def test_a_feedback_database_that_is_down_is_503_and_the_cards_still_go_out(make_app, caplog):
    url = "postgresql://rair:pw-not-for-logs@127.0.0.1:1/nowhere"  # nothing listens on port 1
    app = make_app(FEEDBACK_DB=url, FEEDBACK_QUEUE_SIZE=0)
    client = app.test_client()
    caplog.set_level(logging.INFO)
    response = client.post("/cds-services/toy-greeter", json=PATIENT_VIEW)
    assert response.status_code == 200 and response.get_json()["cards"]
    response = client.post(FEEDBACK, json={"feedback": [_item("c", "overridden", 1)]})
    assert response.status_code == 503
    assert_operation_outcome(response.get_json(), code="transient")
    assert "pw-not-for-logs" not in caplog.text


@pytest.mark.parametrize(
    "body",
    [
        {"feedback": [{"card": "c", "outcome": "overridden",
                       "outcomeTimestamp": "2024-01-01T00:00:00Z",
                       "overrideReason": {"reason": {"code": 7}}}]},
        {"feedback": [{"card": ["c"], "outcome": "accepted", "outcomeTimestamp": "x"}]},
        {"feedback": {"card": "c"}},
        [],
    ],
    ids=["reason-code-not-a-string", "card-not-a-string", "feedback-not-a-list", "not-an-object"],
)
def test_malformed_feedback_is_400_and_stores_nothing(app, client, body):
    response = client.post(FEEDBACK, json=body)
    assert response.status_code == 400
    assert_operation_outcome(response.get_json(), code="invalid")
    assert _rows(app) == []


SAMPLES = REPO_DIR / "fhir_samples" / "thyroid"
CITED = re.compile(r"^- Rule \*\*([^*]+)\*\*", re.MULTILINE)


@pytest.mark.parametrize(
    ("service", "request_file"),
    [
        ("rair-patient-view", "patient-view.js-ii-post-therapy-no-uptake.json"),
        ("rair-order-sign", "orders/order-sign.i131-refractory.json"),
    ],
)
def test_each_thyroid_card_is_recorded_with_the_rules_its_detail_cites(
    make_app, service, request_file
):
    index = json.loads((SAMPLES / "index.json").read_text(encoding="utf-8"))
    app = make_app(PLUGINS=["plugin.thyroid"], EVALUATION_DATE=index["evaluationDate"],
                   FEEDBACK_QUEUE_SIZE=0)
    body = json.loads((SAMPLES / request_file).read_text(encoding="utf-8"))
    cards = app.test_client().post(f"/cds-services/{service}", json=body).get_json()["cards"]
    assert cards
    with sqlite3.connect(app.config["FEEDBACK_DB"]) as conn:
        recorded = {
            uuid: set(rules.split(","))
            for uuid, rules in conn.execute(
                "SELECT card, GROUP_CONCAT(rule) FROM issued_card_rules GROUP BY card")
        }
    conn.close()
    cited = {card["uuid"]: set(CITED.findall(card.get("detail", ""))) for card in cards}
    assert {u: r for u, r in cited.items() if r} == recorded
    assert any(recorded.values())
