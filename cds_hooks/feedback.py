"""Validation of a CDS Hooks 2.0 feedback request (``POST /cds-services/{id}/feedback``).

:func:`parse_feedback` returns every item or raises :class:`~cds_hooks.errors.InvalidFeedback`
for the first bad one, so a request is stored whole or not at all.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from cds_hooks.errors import InvalidFeedback

ACCEPTED, OVERRIDDEN = "accepted", "overridden"


@dataclass(frozen=True)
class FeedbackItem:
    """One validated feedback entry; ``outcome_timestamp`` is normalised to UTC ISO 8601."""

    card: str
    outcome: str
    outcome_timestamp: str
    accepted_suggestions: tuple[str, ...] = ()
    override_system: str | None = None
    override_code: str | None = None
    override_display: str | None = None
    user_comment: str | None = None


def parse_feedback(body: Any) -> list[FeedbackItem]:
    """Validate a feedback body.

    :raises InvalidFeedback: naming the member at fault (``feedback[i].member``).
    """
    if not isinstance(body, dict):
        raise InvalidFeedback("the feedback body must be a JSON object")
    entries = body.get("feedback")
    if not isinstance(entries, list) or not entries:
        raise InvalidFeedback("feedback must be a non-empty array", expression=["feedback"])
    return [_item(entry, f"feedback[{i}].") for i, entry in enumerate(entries)]


def _item(entry: Any, where: str) -> FeedbackItem:
    if not isinstance(entry, dict):
        raise InvalidFeedback(f"{where[:-1]} must be an object", expression=[where[:-1]])
    card = entry.get("card")
    if not isinstance(card, str) or not card.strip():
        raise InvalidFeedback(f"{where}card must be the card's uuid", expression=[where + "card"])
    outcome = entry.get("outcome")
    if outcome not in (ACCEPTED, OVERRIDDEN):
        raise InvalidFeedback(
            f"{where}outcome must be 'accepted' or 'overridden'", expression=[where + "outcome"]
        )
    timestamp = _timestamp(entry.get("outcomeTimestamp"), where + "outcomeTimestamp")
    suggestions: tuple[str, ...] = ()
    reason: dict[str, Any] = {}
    if outcome == ACCEPTED:
        if "overrideReason" in entry:
            raise InvalidFeedback(
                f"{where}overrideReason is only for overridden cards",
                expression=[where + "overrideReason"],
            )
        suggestions = _suggestions(entry.get("acceptedSuggestions"), where + "acceptedSuggestions")
    else:
        if "acceptedSuggestions" in entry:
            raise InvalidFeedback(
                f"{where}acceptedSuggestions is only for accepted cards",
                expression=[where + "acceptedSuggestions"],
            )
        if entry.get("overrideReason") is not None:
            reason = _override_reason(entry["overrideReason"], where + "overrideReason")
    return FeedbackItem(
        card=card,
        outcome=outcome,
        outcome_timestamp=timestamp,
        accepted_suggestions=suggestions,
        **reason,
    )


def _timestamp(value: Any, where: str) -> str:
    try:
        if not isinstance(value, str) or "T" not in value:
            raise ValueError
        parsed = dt.datetime.fromisoformat(value)
        if parsed.tzinfo is None:
            raise ValueError
        utc = parsed.astimezone(dt.UTC)
    except (ValueError, OverflowError):  # OverflowError: e.g. year 1 with a positive offset
        raise InvalidFeedback(
            f"{where} must be an ISO 8601 date-time with a time zone", expression=[where]
        ) from None
    return utc.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _suggestions(value: Any, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not value:
        raise InvalidFeedback(
            f'{where} is required for accepted cards: [{{"id": ...}}]', expression=[where]
        )
    ids = []
    for i, item in enumerate(value):
        ident = item.get("id") if isinstance(item, dict) else None
        if not isinstance(ident, str) or not ident.strip():
            raise InvalidFeedback(
                f"{where}[{i}].id must be a suggestion uuid", expression=[f"{where}[{i}].id"]
            )
        ids.append(ident)
    return tuple(ids)


def _override_reason(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict) or not ("reason" in value or "userComment" in value):
        raise InvalidFeedback(
            f"{where} must be an object with reason and/or userComment", expression=[where]
        )
    out: dict[str, Any] = {}
    reason = value.get("reason")
    if reason is not None:
        if (
            not isinstance(reason, dict)
            or not isinstance(reason.get("code"), str)
            or not reason["code"]
        ):
            raise InvalidFeedback(
                f"{where}.reason must be a Coding with a code", expression=[where + ".reason"]
            )
        for member in ("system", "display"):
            if reason.get(member) is not None and not isinstance(reason[member], str):
                raise InvalidFeedback(
                    f"{where}.reason.{member} must be a string",
                    expression=[f"{where}.reason.{member}"],
                )
        out.update(
            override_system=reason.get("system"),
            override_code=reason["code"],
            override_display=reason.get("display"),
        )
    comment = value.get("userComment")
    if comment is not None:
        if not isinstance(comment, str):
            raise InvalidFeedback(
                f"{where}.userComment must be a string", expression=[where + ".userComment"]
            )
        out["user_comment"] = comment
    return out
