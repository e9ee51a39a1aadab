"""CDS Hooks 2.0 conformance, cards: uuids, suggestions, actions and links (r80-r147), and the
card model refusing what the spec forbids (r83-r100, r115, r131, r141-r147, r216-r220). See
docs/CONFORMANCE.md."""

from __future__ import annotations

import pytest
from conformance_helpers import PATIENT, SOURCE, patient_view
from pydantic import ValidationError

from cds_hooks.cards import Action, Card, Link, Source, Suggestion
from cds_hooks.errors import PluginError
from cds_hooks.hook_call import build_response
from cds_hooks.service import HookResult

# -- r80-r147: cards, suggestions, actions, links --------------------------------------------


def test_r80_r119_every_card_and_suggestion_has_a_string_uuid(client):
    body = patient_view(prefetch={"patient": PATIENT, "conditions": None})
    cards = client.post("/cds-services/toy-greeter", json=body).get_json()["cards"]
    assert cards
    for card in cards:
        assert isinstance(card["uuid"], str) and card["uuid"]
        for suggestion in card.get("suggestions", []):
            assert isinstance(suggestion["uuid"], str) and suggestion["uuid"]


def test_r80_duplicate_suggestion_uuids_are_a_plugin_error():
    cards = [
        Card(
            summary="a",
            indicator="info",
            source=SOURCE,
            selectionBehavior="any",
            suggestions=[Suggestion(label="x", uuid="same")],
        ),
        Card(
            summary="b",
            indicator="info",
            source=SOURCE,
            selectionBehavior="any",
            suggestions=[Suggestion(label="y", uuid="same")],
        ),
    ]
    with pytest.raises(PluginError):
        build_response(HookResult(cards=cards), "svc")


@pytest.mark.parametrize("url", ["/relative/path", "example.org/x", "mailto", " https://x.org/"])
def test_r107_r111_r139_urls_must_be_absolute(url):
    with pytest.raises(ValidationError):
        Source(label="l", url=url)
    with pytest.raises(ValidationError):
        Source(label="l", icon=url)
    with pytest.raises(ValidationError):
        Link(label="l", url=url)


def test_r122_several_recommended_suggestions_need_selection_behavior_any():
    suggestions = [
        Suggestion(label="a", isRecommended=True),
        Suggestion(label="b", isRecommended=True),
    ]
    with pytest.raises(ValidationError, match="selectionBehavior 'any'"):
        Card(
            summary="s",
            indicator="info",
            source=SOURCE,
            suggestions=suggestions,
            selectionBehavior="at-most-one",
        )
    Card(
        summary="s",
        indicator="info",
        source=SOURCE,
        suggestions=suggestions,
        selectionBehavior="any",
    )


@pytest.mark.parametrize(
    "action",
    [
        {"type": "delete", "description": "d", "resourceId": ["ServiceRequest/1"]},
        {"type": "delete", "description": "d", "resourceId": "not a reference"},
        {"type": "create", "description": " ", "resource": PATIENT},
    ],
)
def test_r128_r135_action_description_and_resource_id(action):
    with pytest.raises(ValidationError):
        Action(**action)


def test_r133_r134_spec_delete_example_is_accepted(shared_example):
    action = Action(**shared_example("spec-2.0.1/action-delete.json"))
    assert action.to_json()["resourceId"] == "ServiceRequest/procedure-request-1"


@pytest.mark.parametrize("label", ["", "   "])
def test_r117_r138_labels_must_not_be_blank(label):
    with pytest.raises(ValidationError):
        Suggestion(label=label)
    with pytest.raises(ValidationError):
        Link(label=label, url="https://example.org")


# -- r83-r100, r115, r131, r141-r147, r216-r220: the card model refuses what the spec forbids ----

_OK = {"summary": "s", "indicator": "info", "source": {"label": "l"}}


@pytest.mark.parametrize(
    ("rows", "card"),
    [
        ("r83", {**_OK, "summary": "x" * 140}),
        ("r87", {k: v for k, v in _OK.items() if k != "indicator"}),
        ("r88", {**_OK, "indicator": "hard-stop"}),
        ("r90", {k: v for k, v in _OK.items() if k != "source"}),
        ("r105", {**_OK, "source": {"label": ""}}),
        ("r93 r96", {**_OK, "suggestions": [{"label": "a"}]}),
        ("r95", {**_OK, "suggestions": [{"label": "a"}], "selectionBehavior": "all"}),
        ("r100 r136 r219", {**_OK, "overrideReasons": [{"system": "s", "code": "c"}]}),
        ("r115 r217", {**_OK, "source": {"label": "l", "topic": {"code": "c"}}}),
        ("r216 r218", {**_OK, "source": {"label": "l", "topic": {"system": "s", "code": " "}}}),
        ("r141 r142", {**_OK, "links": [{"label": "l", "url": "https://x.org", "type": "web"}]}),
        (
            "r146 r147",
            {**_OK, "links": [{"label": "l", "url": "https://x.org", "appContext": "a"}]},
        ),
        (
            "r121",
            {
                **_OK,
                "selectionBehavior": "any",
                "suggestions": [{"label": "a", "isRecommended": "maybe"}],
            },
        ),
        (
            "r131",
            {
                **_OK,
                "selectionBehavior": "any",
                "suggestions": [
                    {"label": "a", "actions": [{"type": "create", "description": "d"}]}
                ],
            },
        ),
        (
            "r130",
            {
                **_OK,
                "selectionBehavior": "any",
                "suggestions": [
                    {
                        "label": "a",
                        "actions": [
                            {"type": "update", "description": "d", "resource": {"id": "1"}}
                        ],
                    }
                ],
            },
        ),
    ],
)
def test_card_model_refuses_what_the_spec_forbids(rows, card):
    with pytest.raises(ValidationError):
        Card.model_validate(card)


def test_r220_topic_display_is_optional_and_smart_links_take_app_context():
    card = Card.model_validate(
        {
            **_OK,
            "source": {"label": "l", "topic": {"system": "s", "code": "c"}},
            "links": [
                {"label": "l", "url": "https://x.org/launch", "type": "smart", "appContext": "ctx"}
            ],
        }
    )
    assert card.to_json()["links"][0]["appContext"] == "ctx"


@pytest.mark.parametrize("name", ["action-create.json", "action-update.json"])
def test_r127_r132_spec_action_examples_are_accepted(shared_example, name):
    example = shared_example(f"spec-2.0.1/{name}")
    assert Action(**example).to_json() == example
