"""CDS Hooks 2.0 response model: cards, suggestions, actions, links and the response itself.

Every response the service sends is built from these models, so the spec's rules are enforced
in one place (https://cds-hooks.hl7.org/2.0/#cds-service-response):

* ``summary`` is "<140-character" (we read it strictly: at most 139 characters);
* ``indicator`` is one of ``info``, ``warning``, ``critical``;
* every card has ``source.label``; every card and suggestion gets a ``uuid``;
* a card with suggestions needs ``selectionBehavior``;
* override reasons are Codings with a ``display``;
* links are ``absolute`` or ``smart`` (``appContext`` only on ``smart``);
* ``source.url``, ``source.icon`` and ``link.url`` are absolute URLs;
* labels, descriptions and codes are not blank; a delete action's ``resourceId`` is a relative
  reference (``Type/id``);
* several suggestions may be recommended only when ``selectionBehavior`` is ``any``;
* ``extension`` (on the response and on every object that allows it) is a JSON object;
* no member is ``null`` or an empty string/array ("Null and empty JSON elements").
"""

from __future__ import annotations

import re
import uuid as _uuid
from enum import StrEnum
from typing import Any, Literal, overload
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

SUMMARY_MAX = 139
_RELATIVE_REFERENCE = re.compile(r"^[A-Z][A-Za-z]+/[A-Za-z0-9\-.]{1,64}$")


def _not_blank(value: str, what: str) -> str:
    if not value.strip():
        raise ValueError(f"{what} must not be blank")
    return value


@overload
def _absolute_url(value: str, what: str) -> str: ...
@overload
def _absolute_url(value: str | None, what: str) -> str | None: ...
def _absolute_url(value: str | None, what: str) -> str | None:
    """Spec: URL fields (source.url, source.icon, link.url) are absolute URLs."""
    if value is None:
        return None
    try:
        parts = urlsplit(value)
    except ValueError:
        parts = None
    if parts is None or not parts.scheme or not parts.netloc or value != value.strip():
        raise ValueError(f"{what} must be an absolute URL, got {value!r}")
    return value


class Indicator(StrEnum):
    """Urgency of a card (spec: Card.indicator)."""

    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=False, use_enum_values=True)

    #: Spec "Extensions": a JSON object, names SHOULD be reverse-domain (``org.example.x``).
    extension: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        """Serialise with spec names, dropping every ``None`` and empty member."""
        return _prune(self.model_dump(by_alias=True, exclude_none=True))


def _prune(value: Any) -> Any:
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            item = _prune(item)
            if item is None or item == "" or item == [] or item == {}:
                # "extension" and resources may legitimately be small, but never empty
                continue
            out[key] = item
        return out
    if isinstance(value, list):
        return [_prune(v) for v in value]
    return value


def new_uuid() -> str:
    """A fresh random UUID string for a card or suggestion."""
    return str(_uuid.uuid4())


class Coding(_Model):
    """A CDS Hooks Coding, as used for override reasons and source topics.

    Spec 2.0 "Coding": ``system`` and ``code`` are required ("the system field is required").
    """

    system: str
    code: str
    display: str | None = None

    @field_validator("system", "code")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        return _not_blank(value, "coding system and code")


class OverrideReason(Coding):
    """Spec: overrideReasons are Codings and SHALL have a display."""

    display: str

    @field_validator("display")
    @classmethod
    def _display_not_blank(cls, value: str) -> str:
        return _not_blank(value, "override reason display")


class Source(_Model):
    """Spec: Card.source; ``label`` is required."""

    label: str
    url: str | None = None
    icon: str | None = None
    topic: Coding | None = None

    @field_validator("label")
    @classmethod
    def _label_not_blank(cls, value: str) -> str:
        return _not_blank(value, "source.label")

    @field_validator("url", "icon")
    @classmethod
    def _absolute(cls, value: str | None) -> str | None:
        return _absolute_url(value, "source.url and source.icon")


class Action(_Model):
    """Spec: Action. ``create``/``update`` carry a resource; ``delete`` carries ``resourceId``."""

    type: Literal["create", "update", "delete"]
    description: str
    resource: dict[str, Any] | None = None
    resourceId: str | None = None

    @field_validator("description")
    @classmethod
    def _description_not_blank(cls, value: str) -> str:
        return _not_blank(value, "action description")

    @model_validator(mode="after")
    def _shape(self) -> Action:
        if self.type in ("create", "update") and not self.resource:
            raise ValueError(f"{self.type} action needs a resource")
        if self.type == "delete" and not self.resourceId:
            raise ValueError("delete action needs resourceId")
        if self.resourceId is not None and not _RELATIVE_REFERENCE.match(self.resourceId):
            raise ValueError("resourceId must be a relative reference like 'Type/id'")
        if self.resource is not None and "resourceType" not in self.resource:
            raise ValueError("action resource must have a resourceType")
        return self


class Suggestion(_Model):
    """Spec: Suggestion; the uuid is generated when not given."""

    label: str
    uuid: str = Field(default_factory=new_uuid)
    isRecommended: bool | None = None
    actions: list[Action] | None = None

    @field_validator("label", "uuid")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        return _not_blank(value, "suggestion label and uuid")


class Link(_Model):
    """Spec: Link; ``type`` is ``absolute`` or ``smart``."""

    label: str
    url: str
    type: Literal["absolute", "smart"] = "absolute"
    appContext: str | None = None

    @field_validator("label")
    @classmethod
    def _label_not_blank(cls, value: str) -> str:
        return _not_blank(value, "link label")

    @field_validator("url")
    @classmethod
    def _absolute(cls, value: str) -> str:
        return _absolute_url(value, "link.url")

    @model_validator(mode="after")
    def _app_context_only_for_smart(self) -> Link:
        if self.appContext is not None and self.type != "smart":
            raise ValueError("appContext is only allowed on smart links")
        return self


class Card(_Model):
    """Spec: Card. Built only through this model so the invariants hold."""

    summary: str
    indicator: Indicator
    source: Source
    uuid: str = Field(default_factory=new_uuid)
    detail: str | None = None
    suggestions: list[Suggestion] | None = None
    selectionBehavior: Literal["at-most-one", "any"] | None = None
    overrideReasons: list[OverrideReason] | None = None
    links: list[Link] | None = None

    @field_validator("summary")
    @classmethod
    def _summary_short(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("summary must not be blank")
        if len(value) > SUMMARY_MAX:
            raise ValueError(f"summary is {len(value)} characters; the spec allows under 140")
        return value

    @model_validator(mode="after")
    def _selection_behavior_with_suggestions(self) -> Card:
        if self.suggestions and not self.selectionBehavior:
            raise ValueError("a card with suggestions needs selectionBehavior")
        if not self.suggestions and self.selectionBehavior:
            # the spec only defines selectionBehavior for cards that have suggestions
            self.selectionBehavior = None
        recommended = sum(1 for s in self.suggestions or () if s.isRecommended)
        if recommended > 1 and self.selectionBehavior != "any":
            # spec: "multiple suggestions MAY be recommended, if card.selectionBehavior is any"
            raise ValueError("several recommended suggestions need selectionBehavior 'any'")
        return self

    @field_validator("uuid")
    @classmethod
    def _uuid_not_blank(cls, value: str) -> str:
        return _not_blank(value, "card uuid")


class CdsResponse(_Model):
    """Spec: the CDS Service response. ``extension`` carries the domain's assessment."""

    cards: list[Card] = Field(default_factory=list)
    systemActions: list[Action] | None = None

    def to_json(self) -> dict[str, Any]:
        body = _prune(self.model_dump(by_alias=True, exclude_none=True, exclude={"extension"}))
        # cards: [] is required, never pruned
        body["cards"] = [card.to_json() for card in self.cards]
        if self.extension:
            # the extension is the domain's own JSON (e.g. empty lists in the assessment): as is
            body["extension"] = self.extension
        return body
