"""plugin.engine_loader: read YAML rule files and check them before durable_rules sees them.

The loading half of :mod:`plugin.engine` (``RULE-ENGINE.md`` in ``/work/shared``). Rule files are
YAML in durable's JSON vocabulary plus our keys ``id``, ``source``, ``note`` and ``do``;
:func:`load_rules` reads several files (they merge into one ruleset, §3.9), refuses duplicate
keys and rule names, and checks each rule's shape: durable accepts many malformed rules and then
silently never fires them (negation first, unknown join alias, §3.7). ``do`` is compiled into
:class:`Template` objects, the derived facts an action asserts.

:func:`check_json_value` is the value check shared with the engine's input facts: what durable
stores correctly (JSON scalars or lists of them, strings under 64 KiB, 64-bit integers, §3.10).

Nothing here touches durable; :class:`plugin.engine.RuleEngine` builds the ruleset.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml

__all__ = [
    "MAX_PROPERTIES",
    "MAX_STRING_BYTES",
    "SENTINEL_RULE",
    "SENTINEL_TYPE",
    "CompiledRule",
    "RuleEngineError",
    "RuleInfo",
    "Template",
    "check_json_value",
    "is_json_scalar",
    "load_rules",
]

#: A fact with more properties than this silently stops matching (measured on 2.0.28:
#: 254 properties match, 257 don't). ``id``, ``sid`` and ``fhir_id`` count too.
MAX_PROPERTIES = 250
#: durable stores a string's length in 16 bits: "BRAF" + 65,536 more characters then
#: equals "BRAF" in a rule (measured on 2.0.28). Limit of the JSON-escaped UTF-8 bytes.
MAX_STRING_BYTES = 60_000
#: durable parses integers into a C ``long``; larger ones would not compare correctly.
_INT_MIN, _INT_MAX = -(2**63), 2**63 - 1

SENTINEL_TYPE = "_eval_begin"
SENTINEL_RULE = "_eval_begin"

_OUR_RULE_KEYS = frozenset({"id", "source", "note", "do"})
# count/cap hand the action a list of matches and sum only what is pending (§3.6),
# so they are left out on purpose; aggregation belongs in the mapper.
_DURABLE_RULE_KEYS = frozenset({"all", "any", "pri"})

_ALIAS_RE = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)(\$not|\$any|\$all)?$")
_PLACEHOLDER_RE = re.compile(r"^\$([A-Za-z_][A-Za-z0-9_]*)\.([A-Za-z_][A-Za-z0-9_]*)$")
_BOOL_OPS = frozenset({"$and", "$or"})
_EXISTS_OPS = frozenset({"$ex", "$nex"})
_COMPARE_OPS = frozenset({"$eq", "$neq", "$lt", "$lte", "$gt", "$gte", "$mt", "$imt"})
_ARRAY_OPS = frozenset({"$iall", "$iany"})
_ARITH_OPS = frozenset({"$add", "$sub", "$mul", "$div"})


class RuleEngineError(Exception):
    """The rules could not be loaded, or an evaluation failed; never swallowed."""


@dataclass(frozen=True)
class RuleInfo:
    """One loaded rule: its durable name, its rule ID and its citation."""

    name: str
    rule_id: str
    source: str | None


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that rejects duplicate mapping keys (PyYAML keeps the last one)."""


def _construct_unique_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode) -> dict:
    loader.flatten_mapping(node)
    result: dict = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if key in result:
            raise RuleEngineError(
                f"duplicate key {key!r} at line {key_node.start_mark.line + 1}"
                " (a duplicate rule name, or a key written twice in one rule)"
            )
        result[key] = loader.construct_object(value_node, deep=True)
    return result


_UniqueKeyLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_unique_mapping
)


@dataclass(frozen=True)
class Template:
    """One derived-fact template: constants plus ``(key, alias, field)`` copies."""

    constants: dict
    copies: tuple[tuple[str, str, str], ...]


@dataclass(frozen=True)
class CompiledRule:
    info: RuleInfo
    definition: dict  # durable JSON, our keys stripped
    templates: tuple[Template, ...]  # empty for `record: true`


def is_json_scalar(value: object) -> bool:
    if value is None or isinstance(value, (str, bool)):
        return True
    if isinstance(value, int):
        return _INT_MIN <= value <= _INT_MAX
    if isinstance(value, float):
        return math.isfinite(value)
    return False


def check_json_value(value: object, where: str) -> None:
    """Raise unless ``value`` is a JSON scalar or a list of them (what durable stores)."""
    if is_json_scalar(value):
        if isinstance(value, str):
            if "\x00" in value:
                # The C core works on NUL-terminated strings.
                raise RuleEngineError(f"{where}: strings must not contain NUL characters")
            if not value.isascii():
                try:
                    value.encode("utf-8")
                except UnicodeEncodeError:
                    # A lone surrogate: durable could not even read the payload, and the
                    # failed call left a state it could not delete.
                    raise RuleEngineError(
                        f"{where}: strings must be valid Unicode (no lone surrogates)"
                    ) from None
            # Escaping at most sextuples a character's UTF-8 bytes, so short strings
            # skip the exact (slower) measurement.
            if len(value) * 6 > MAX_STRING_BYTES and (
                len(json.dumps(value, ensure_ascii=False).encode("utf-8")) > MAX_STRING_BYTES
            ):
                raise RuleEngineError(
                    f"{where}: string longer than {MAX_STRING_BYTES} bytes; durable_rules"
                    " would compare it wrongly"
                )
        return
    if isinstance(value, list):
        for item in value:
            if not is_json_scalar(item) or isinstance(item, list):
                raise RuleEngineError(
                    f"{where}: list items must be JSON scalars, got {type(item).__name__}"
                    f" {item!r}"
                )
            check_json_value(item, where)
        return
    if isinstance(value, float):
        raise RuleEngineError(f"{where}: {value!r} is not a finite number")
    if isinstance(value, int):
        raise RuleEngineError(f"{where}: integer {value} does not fit in 64 bits")
    raise RuleEngineError(
        f"{where}: {type(value).__name__} {value!r} is not a JSON scalar or list of scalars"
        " (convert Decimal, dates and nested objects in the fact mapper)"
    )


class _RuleChecker:
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


def _compile_template(raw: object, checker: _RuleChecker) -> Template:
    if not isinstance(raw, Mapping) or not raw:
        raise checker.fail(f"do.assert needs a mapping (or a list of them), got {raw!r}")
    constants: dict = {}
    copies: list[tuple[str, str, str]] = []
    for key, value in raw.items():
        if not isinstance(key, str) or key.startswith("$"):
            raise checker.fail(f"derived-fact key {key!r} must be a string not starting with $")
        if key in ("id", "sid"):
            raise checker.fail(f"derived facts may not set {key!r}; the engine assigns it")
        if isinstance(value, str) and value.startswith("$"):
            match = _PLACEHOLDER_RE.match(value)
            if match is None:
                raise checker.fail(f"{key}: {value!r} is not of the form $alias.field")
            alias, field = match.groups()
            if alias not in checker.bound:
                raise checker.fail(
                    f"{key}: {value!r} names alias {alias!r}, which the rule does not bind"
                    f" (bound: {', '.join(checker.bound) or 'none'})"
                )
            if field in ("id", "sid"):
                raise checker.fail(
                    f"{key}: {value!r} copies an engine-internal id; use {alias}.fhir_id"
                )
            copies.append((key, alias, field))
        else:
            check_json_value(value, f"rule {checker.rule_name!r}, do.assert.{key}")
            constants[key] = value
    fact_type = constants.get("type")
    if not any(k == "type" for k, _, _ in copies) and not (
        isinstance(fact_type, str) and fact_type
    ):
        raise checker.fail("a derived fact needs a string 'type'")
    if fact_type == SENTINEL_TYPE:
        raise checker.fail(f"type {SENTINEL_TYPE!r} is reserved for the engine")
    if len(raw) + 3 > MAX_PROPERTIES:
        raise checker.fail(f"a derived fact may have at most {MAX_PROPERTIES - 3} fields")
    return Template(constants, tuple(copies))


def _compile_rule(name: object, raw: object, path: str) -> CompiledRule:
    if not isinstance(name, str) or not name:
        raise RuleEngineError(f"{path}: rule name {name!r} must be a non-empty string")
    if not isinstance(raw, Mapping):
        raise RuleEngineError(f"{path}: rule {name!r} must be a mapping, got {raw!r}")
    checker = _RuleChecker(name)
    unknown = set(raw) - _OUR_RULE_KEYS - _DURABLE_RULE_KEYS
    if unknown:
        raise checker.fail(
            f"unknown keys {sorted(map(str, unknown))} (allowed: "
            f"{sorted(_OUR_RULE_KEYS | _DURABLE_RULE_KEYS)}); durable would reject them"
            " with error code 105"
        )
    rule_id = raw.get("id")
    if not isinstance(rule_id, str) or not rule_id:
        raise checker.fail("needs an 'id' (a non-empty string, quoted if it looks numeric)")
    source = raw.get("source")
    if source is not None and not isinstance(source, str):
        raise checker.fail("'source' must be a string")
    if "note" in raw and not isinstance(raw["note"], str):
        raise checker.fail("'note' must be a string")
    if ("all" in raw) == ("any" in raw):
        raise checker.fail("needs exactly one of 'all' or 'any'")
    op = "all" if "all" in raw else "any"
    checker.check_patterns(raw[op], op, negated=False)
    definition: dict = {op: json.loads(json.dumps(raw[op]))}
    if "pri" in raw:
        if not isinstance(raw["pri"], int) or isinstance(raw["pri"], bool):
            raise checker.fail("'pri' must be an integer")
        definition["pri"] = raw["pri"]

    do = raw.get("do")
    if not isinstance(do, Mapping) or len(do) != 1:
        raise checker.fail(
            "needs 'do' with exactly one of {assert: {...}} or {record: true}"
        )
    (verb, arg), = do.items()
    if verb == "record":
        if arg is not True:
            raise checker.fail("do.record must be true")
        templates: tuple[Template, ...] = ()
    elif verb == "assert":
        items = arg if isinstance(arg, list) else [arg]
        if not items:
            raise checker.fail("do.assert must not be an empty list")
        templates = tuple(_compile_template(item, checker) for item in items)
    else:
        raise checker.fail(f"unknown do-verb {verb!r} (expected assert or record)")
    return CompiledRule(RuleInfo(name, rule_id, source), definition, templates)


def load_rules(rule_files: Sequence[Path | str]) -> list[CompiledRule]:
    if isinstance(rule_files, (str, Path)):
        raise RuleEngineError("rule_files must be a sequence of paths, not one path")
    rules: list[CompiledRule] = []
    where: dict[str, str] = {}
    for rule_file in rule_files:
        path = Path(rule_file)
        try:
            text = path.read_text(encoding="utf-8")
            data = yaml.load(text, Loader=_UniqueKeyLoader)  # a SafeLoader subclass
        except RuleEngineError as exc:
            raise RuleEngineError(f"{path}: {exc}") from exc
        except (OSError, yaml.YAMLError) as exc:
            raise RuleEngineError(f"cannot read rule file {path}: {exc}") from exc
        if data is None:
            continue
        if not isinstance(data, Mapping):
            raise RuleEngineError(f"{path}: top level must map rule names to rules")
        for name, raw in data.items():
            if name in where:
                raise RuleEngineError(
                    f"duplicate rule name {name!r} in {path} (first defined in {where[name]})"
                )
            if name == SENTINEL_RULE:
                raise RuleEngineError(f"{path}: rule name {name!r} is reserved for the engine")
            try:
                rule = _compile_rule(name, raw, str(path))
            except RuleEngineError as exc:
                raise RuleEngineError(f"{path}: {exc}") from exc
            # Several rules may implement one DOMAIN.md rule ID (e.g. F2 for each RET
            # inhibitor); `fired` then names the ID once.
            where[name] = str(path)
            rules.append(rule)
    return rules
