"""plugin.engine.checker: structural checks on one rule's patterns (docs/ENGINE.md §E3.5-§E3.9).

durable_rules accepts many malformed rules and then silently never fires them (a negation
first, a join on an alias that is not bound earlier, an unknown operator). :class:`RuleChecker`
refuses them at load time, naming the rule, and records the aliases a ``do`` template may copy
from.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from plugin.engine.errors import RuleEngineError
from plugin.engine.facts import check_json_value

__all__ = ["RuleChecker"]

_ALIAS_RE = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)(\$not|\$any|\$all)?$")
_BOOL_OPS = frozenset({"$and", "$or"})
_EXISTS_OPS = frozenset({"$ex", "$nex"})
_COMPARE_OPS = frozenset({"$eq", "$neq", "$lt", "$lte", "$gt", "$gte", "$mt", "$imt"})
_ARRAY_OPS = frozenset({"$iall", "$iany"})
_ARITH_OPS = frozenset({"$add", "$sub", "$mul", "$div"})


class RuleChecker:
    """Structural checks on one rule body; durable accepts many malformed ones silently."""

    def __init__(self, rule_name: str) -> None:
        self.rule_name = rule_name
        self.bound: list[str] = []  # aliases a template may copy from, in order
        self.all_aliases: set[str] = set()

    def fail(self, message: str) -> RuleEngineError:
        return RuleEngineError(f"rule {self.rule_name!r}: {message}")

    def check_patterns(self, patterns: object, where: str, negated: bool) -> None:
        if not isinstance(patterns, list) or not patterns:
            raise self.fail(f"{where} must be a non-empty list of {{alias: pattern}}")
        alternatives = where == "any" or where.endswith("$any")
        for position, item in enumerate(patterns):
            if not isinstance(item, Mapping) or len(item) != 1:
                raise self.fail(
                    f"each entry of {where} must be one {{alias: pattern}}, got {item!r}"
                )
            (key, body), = item.items()
            match = _ALIAS_RE.match(key) if isinstance(key, str) else None
            if match is None:
                raise self.fail(
                    f"bad alias {key!r} in {where} (expected name, name$not, name$any "
                    "or name$all)"
                )
            alias, suffix = match.groups()
            # durable accepts both of these and the rule then silently never fires
            # (measured on 2.0.28): a negation needs a positive pattern before it.
            if suffix == "$not" and alternatives:
                raise self.fail(f"{key!r}: a negation cannot be an alternative in {where}")
            if suffix == "$not" and position == 0:
                raise self.fail(
                    f"{key!r}: the first pattern in {where} must not be a negation"
                )
            if alias in self.all_aliases:
                raise self.fail(f"alias {alias!r} is used twice")
            self.all_aliases.add(alias)
            if suffix in ("$any", "$all"):
                self.check_patterns(body, f"{key}", negated)
            else:
                self.check_expression(body, alias)
                if suffix is None and not negated:
                    self.bound.append(alias)

    def check_expression(self, expr: object, alias: str) -> None:
        if not isinstance(expr, Mapping) or len(expr) != 1:
            raise self.fail(
                f"pattern of {alias!r} must be a mapping with exactly one key "
                f"(combine tests with $and), got {expr!r}"
            )
        (key, value), = expr.items()
        if not isinstance(key, str):
            raise self.fail(f"pattern key {key!r} of {alias!r} must be a string")
        if key in _BOOL_OPS:
            if not isinstance(value, list) or not value:
                raise self.fail(f"{key} in {alias!r} needs a non-empty list")
            for sub in value:
                self.check_expression(sub, alias)
        elif key in _EXISTS_OPS or key in _COMPARE_OPS or key in _ARRAY_OPS:
            if not isinstance(value, Mapping) or len(value) != 1:
                raise self.fail(f"{key} in {alias!r} needs one {{field: value}}, got {value!r}")
            (field, operand), = value.items()
            if not isinstance(field, str):
                raise self.fail(f"{key} in {alias!r}: field {field!r} must be a string")
            if key in _ARRAY_OPS:
                if isinstance(operand, Mapping):
                    self.check_expression(operand, alias)
            elif key not in _EXISTS_OPS:
                self.check_operand(operand, alias)
        elif key.startswith("$"):
            raise self.fail(f"unknown operator {key!r} in pattern of {alias!r}")
        else:
            self.check_operand(value, alias)

    def check_operand(self, operand: object, alias: str) -> None:
        if isinstance(operand, Mapping):
            if len(operand) != 1:
                raise self.fail(f"operand {operand!r} in {alias!r} must have exactly one key")
            (key, value), = operand.items()
            if key in _ARITH_OPS:
                if not isinstance(value, Mapping) or set(value) != {"$l", "$r"}:
                    raise self.fail(f"{key} in {alias!r} needs exactly $l and $r")
                self.check_operand(value["$l"], alias)
                self.check_operand(value["$r"], alias)
            elif key == "$i":
                pass  # item reference inside $iall/$iany
            elif isinstance(key, str) and key in self.bound:
                # A join: {other_alias: field}. durable accepts an unknown alias here
                # and the rule then never matches, so it must name an earlier alias.
                if not isinstance(value, str):
                    raise self.fail(f"join {operand!r} in {alias!r} must name a field")
            else:
                raise self.fail(
                    f"{operand!r} in {alias!r} refers to {key!r}, which is not an alias "
                    "bound earlier in this rule"
                )
        elif isinstance(operand, list):
            raise self.fail(f"operand {operand!r} in {alias!r}: lists are not comparable")
        else:
            check_json_value(operand, f"rule {self.rule_name!r}, pattern of {alias!r}")
