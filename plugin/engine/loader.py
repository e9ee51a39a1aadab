"""plugin.engine.loader: read YAML rule files and compile them before durable_rules sees them.

The loading half of :mod:`plugin.engine` (``docs/ENGINE.md`` §E3.9). Rule files are
YAML in durable's JSON vocabulary plus our keys ``id``, ``source``, ``note`` and ``do``;
:func:`load_rules` reads several files (they merge into one ruleset, §E3.9), refuses duplicate
keys and rule names, and checks each rule's shape with :class:`~plugin.engine.checker.RuleChecker`.
``do`` is compiled into :class:`Template` objects, the derived facts an action asserts.

Nothing here touches durable; :class:`plugin.engine.runtime.RuleEngine` builds the ruleset.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml

from plugin.engine.checker import RuleChecker
from plugin.engine.errors import RuleEngineError
from plugin.engine.facts import MAX_PROPERTIES, check_json_value
from plugin.engine.ids import SENTINEL_RULE, SENTINEL_TYPE

__all__ = [
    "CompiledRule",
    "RuleInfo",
    "Template",
    "load_rules",
]

_OUR_RULE_KEYS = frozenset({"id", "source", "note", "do"})
# count/cap hand the action a list of matches and sum only what is pending (§E3.6),
# so they are left out on purpose; aggregation belongs in the mapper.
_DURABLE_RULE_KEYS = frozenset({"all", "any", "pri"})

_PLACEHOLDER_RE = re.compile(r"^\$([A-Za-z_][A-Za-z0-9_]*)\.([A-Za-z_][A-Za-z0-9_]*)$")


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
    """One rule ready for durable: its info, its durable JSON and its derived-fact templates."""

    info: RuleInfo
    definition: dict  # durable JSON, our keys stripped
    templates: tuple[Template, ...]  # empty for `record: true`


def _compile_template(raw: object, checker: RuleChecker) -> Template:
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
    checker = RuleChecker(name)
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
    """Read and compile ``rule_files`` in order; their rules merge into one list.

    :raises RuleEngineError: naming the file and rule of the first problem.
    """
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
