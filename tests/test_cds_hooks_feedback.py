"""Feedback: validation, durable SQLite storage, idempotence, card kinds, the report.

The PostgreSQL backend, migrations and marks: test_cds_hooks_feedback_store.py; the issued-card
queue: test_cds_hooks_feedback_writer.py.
"""

from __future__ import annotations

import copy
import sqlite3

import pytest
from conftest import assert_operation_outcome

from cds_hooks.feedback import FeedbackItem, parse_feedback
from cds_hooks.feedback_report import format_report
from cds_hooks.feedback_sql import SqliteFeedbackStore
from cds_hooks.feedback_store import IssuedCard
from cds_hooks.feedback_writer import unwrap

EXAMPLES = [
    "spec-2.0.1/feedback-accepted.json",
    "spec-2.0.1/feedback-overridden-no-reason.json",
    "spec-2.0.1/feedback-overridden-with-reason.json",
]
PATIENT_VIEW = {
    "hook": "patient-view",
    "hookInstance": "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea",
    "context": {"userId": "Practitioner/example", "patientId": "1288992"},
    "prefetch": {"patient": {"resourceType": "Patient", "id": "1288992"}, "conditions": None},
}


def rows(path, table="feedback"):
    with sqlite3.connect(path) as conn:
        conn.row_factory = sqlite3.Row
        result = [dict(r) for r in conn.execute(f"SELECT * FROM {table} ORDER BY rowid")]
    conn.close()
    return result


@pytest.mark.parametrize("example", EXAMPLES)
def test_spec_feedback_examples_are_stored(
    app, client, shared_example, assert_valid_response, example
):
    body = shared_example(example)
    assert_valid_response(body, "feedback-request")
    response = client.post("/cds-services/toy-greeter/feedback", json=body)
    assert response.status_code == 200
    stored = rows(app.config["FEEDBACK_DB"])
    assert [r["card"] for r in stored] == [body["feedback"][0]["card"]]
    assert stored[0]["outcome"] == body["feedback"][0]["outcome"]
    assert stored[0]["service_id"] == "toy-greeter"


def test_override_reason_and_suggestions_are_kept(app, client, shared_example):
    client.post(
        "/cds-services/toy-greeter/feedback",
        json=shared_example("spec-2.0.1/feedback-overridden-with-reason.json"),
    )
    client.post(
        "/cds-services/toy-greeter/feedback",
        json=shared_example("spec-2.0.1/feedback-accepted.json"),
    )
    overridden, accepted = rows(app.config["FEEDBACK_DB"])
    assert overridden["override_code"] == "d7ecf885"
    assert overridden["override_system"] == "https://example.com/cds-hooks/override-reason-system"
    assert overridden["user_comment"] == "A comment entered by the clinician."
    assert overridden["outcome_timestamp"] == "2020-12-11T00:00:00.000Z"
    assert accepted["accepted_suggestions"] == '["e56e1945-20b3-4393-8503-a1a20fd73152"]'


def test_feedback_is_idempotent_on_card_outcome_timestamp(app, client, shared_example):
    body = shared_example("spec-2.0.1/feedback-accepted.json")
    for _ in range(3):
        assert client.post("/cds-services/toy-greeter/feedback", json=body).status_code == 200
    # the same instant written with another offset is the same feedback
    same = copy.deepcopy(body)
    same["feedback"][0]["outcomeTimestamp"] = "2021-12-11T11:05:31+01:00"
    client.post("/cds-services/toy-greeter/feedback", json=same)
    assert len(rows(app.config["FEEDBACK_DB"])) == 1


BAD = [
    ("no feedback", {}, "feedback"),
    ("empty feedback", {"feedback": []}, "feedback"),
    ("item not an object", {"feedback": ["x"]}, "feedback[0]"),
    (
        "no card",
        {"feedback": [{"outcome": "overridden", "outcomeTimestamp": "2020-01-01T00:00:00Z"}]},
        "feedback[0].card",
    ),
    (
        "bad outcome",
        {
            "feedback": [
                {"card": "c", "outcome": "ignored", "outcomeTimestamp": "2020-01-01T00:00:00Z"}
            ]
        },
        "feedback[0].outcome",
    ),
    (
        "accepted without suggestions",
        {
            "feedback": [
                {"card": "c", "outcome": "accepted", "outcomeTimestamp": "2020-01-01T00:00:00Z"}
            ]
        },
        "feedback[0].acceptedSuggestions",
    ),
    (
        "suggestion without id",
        {
            "feedback": [
                {
                    "card": "c",
                    "outcome": "accepted",
                    "acceptedSuggestions": [{}],
                    "outcomeTimestamp": "2020-01-01T00:00:00Z",
                }
            ]
        },
        "feedback[0].acceptedSuggestions[0].id",
    ),
    (
        "reason not a Coding",
        {
            "feedback": [
                {
                    "card": "c",
                    "outcome": "overridden",
                    "overrideReason": {"reason": "no"},
                    "outcomeTimestamp": "2020-01-01T00:00:00Z",
                }
            ]
        },
        "feedback[0].overrideReason.reason",
    ),
    (
        "override reason on accepted",
        {
            "feedback": [
                {
                    "card": "c",
                    "outcome": "accepted",
                    "acceptedSuggestions": [{"id": "s"}],
                    "overrideReason": {"userComment": "x"},
                    "outcomeTimestamp": "2020-01-01T00:00:00Z",
                }
            ]
        },
        "feedback[0].overrideReason",
    ),
    (
        "no timestamp",
        {"feedback": [{"card": "c", "outcome": "overridden"}]},
        "feedback[0].outcomeTimestamp",
    ),
    (
        "date only",
        {"feedback": [{"card": "c", "outcome": "overridden", "outcomeTimestamp": "2020-01-01"}]},
        "feedback[0].outcomeTimestamp",
    ),
    (
        "no time zone",
        {
            "feedback": [
                {"card": "c", "outcome": "overridden", "outcomeTimestamp": "2020-01-01T10:00:00"}
            ]
        },
        "feedback[0].outcomeTimestamp",
    ),
    (
        "not a date",
        {"feedback": [{"card": "c", "outcome": "overridden", "outcomeTimestamp": "soon"}]},
        "feedback[0].outcomeTimestamp",
    ),
]


@pytest.mark.parametrize(("body", "named"), [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_bad_feedback_is_400_and_nothing_is_stored(app, client, body, named):
    good = {
        "card": "good-card",
        "outcome": "overridden",
        "outcomeTimestamp": "2020-01-01T00:00:00Z",
    }
    if body.get("feedback"):
        body = {"feedback": [good, *body["feedback"]]}  # a valid item first: stored all or nothing
        named = named.replace("feedback[0]", "feedback[1]")
    response = client.post("/cds-services/toy-greeter/feedback", json=body)
    assert response.status_code == 400
    assert_operation_outcome(response.get_json(), code="invalid", mentions=named)
    assert SqliteFeedbackStore(app.config["FEEDBACK_DB"]).report() == []


def test_feedback_bad_json_and_unknown_service(client):
    response = client.post(
        "/cds-services/toy-greeter/feedback",
        data=b"{",
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert_operation_outcome(response.get_json(), code="invalid")
    response = client.post("/cds-services/nope/feedback", json={"feedback": []})
    assert response.status_code == 404
    assert_operation_outcome(response.get_json(), code="not-found", mentions="nope")


def test_issued_cards_give_feedback_its_kind(app, client):
    response = client.post("/cds-services/toy-greeter", json=PATIENT_VIEW)
    card = response.get_json()["cards"][0]
    assert app.extensions["rair_cds"].feedback_store.flush()  # written off the request path
    issued = rows(app.config["FEEDBACK_DB"], "issued_cards")
    assert [(r["uuid"], r["service_id"], r["kind"]) for r in issued] == [
        (card["uuid"], "toy-greeter", "greeting")
    ]
    feedback = {
        "feedback": [
            {
                "card": card["uuid"],
                "outcome": "accepted",
                "acceptedSuggestions": [{"id": card["suggestions"][0]["uuid"]}],
                "outcomeTimestamp": "2024-01-15T10:00:00Z",
            }
        ]
    }
    assert client.post("/cds-services/toy-greeter/feedback", json=feedback).status_code == 200
    assert rows(app.config["FEEDBACK_DB"])[0]["kind"] == "greeting"


def test_report_rates_per_service_and_kind(tmp_path):
    store = SqliteFeedbackStore(tmp_path / "sub" / "dir" / "fb.sqlite3")  # directories created
    store.record_issued(
        "svc-a",
        [IssuedCard("c1", "alpha", suggestions=("s1",)), IssuedCard("c2", "alpha"),
         IssuedCard("c3", "beta")],
    )
    ts = "2024-01-01T00:00:00.000Z"
    assert (
        store.add(
            "svc-a",
            [
                FeedbackItem("c1", "accepted", ts, ("s1",)),
                FeedbackItem("c2", "overridden", ts),
                FeedbackItem("c3", "overridden", ts),
                FeedbackItem("c9", "accepted", ts, ("s9",)),
            ],
        )
        == 4
    )
    assert store.add("svc-a", [FeedbackItem("c1", "accepted", ts, ("s1",))]) == 0
    report = {(r.service_id, r.kind): r for r in store.report()}
    # c9 was never issued: stored, marked, and not counted in the rates
    assert set(report) == {("svc-a", "alpha"), ("svc-a", "beta")}
    assert [(m.service_id, m.unknown_card) for m in store.full_report().marked] == [("svc-a", 1)]
    alpha = report[("svc-a", "alpha")]
    assert (alpha.accepted, alpha.overridden, alpha.accept_rate, alpha.override_rate) == (
        1,
        1,
        0.5,
        0.5,
    )
    assert report[("svc-a", "beta")].override_rate == 1.0
    text = format_report(store.report())
    assert text.splitlines()[0].split() == [
        "service",
        "kind",
        "total",
        "accepted",
        "overridden",
        "accept%",
        "override%",
    ]
    assert "svc-a    alpha  2      1         1           50.0     50.0" in text


def test_store_survives_a_new_instance(tmp_path):
    path = tmp_path / "fb.sqlite3"
    SqliteFeedbackStore(path).record_issued("s", [IssuedCard("c")])
    SqliteFeedbackStore(path).add(
        "s",
        parse_feedback(
            {
                "feedback": [
                    {
                        "card": "c",
                        "outcome": "overridden",
                        "outcomeTimestamp": "2024-01-01T00:00:00Z",
                    }
                ]
            }
        ),
    )
    assert SqliteFeedbackStore(path).report()[0].overridden == 1


def test_default_database_path_is_under_the_working_directory(make_app, monkeypatch, tmp_path):
    from cds_hooks.settings import DEFAULTS

    monkeypatch.chdir(tmp_path)
    app = make_app(FEEDBACK_DB=DEFAULTS["FEEDBACK_DB"])
    store = app.extensions["rair_cds"].feedback_store
    assert unwrap(store).path == tmp_path / "var" / "feedback.sqlite3"
    app.test_client().post("/cds-services/toy-greeter", json=PATIENT_VIEW)
    assert store.flush()
    assert (tmp_path / "var" / "feedback.sqlite3").is_file()


def test_out_of_range_timestamp_is_400_not_500(client):
    item = {"card": "c", "outcome": "overridden", "outcomeTimestamp": "0001-01-01T00:00:00+05:00"}
    response = client.post("/cds-services/toy-greeter/feedback", json={"feedback": [item]})
    assert response.status_code == 400
