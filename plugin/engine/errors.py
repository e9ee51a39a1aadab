"""plugin.engine.errors: the one exception the rule engine raises."""

from __future__ import annotations

__all__ = ["RuleEngineError"]


class RuleEngineError(Exception):
    """The rules could not be loaded, or an evaluation failed; never swallowed."""
