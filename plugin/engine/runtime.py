"""plugin.engine.runtime: the one ``evaluate(facts)`` seam over durable_rules.

durable_rules (2.0.28, a Rete engine with a C core) crashes, swallows errors and drops
facts when used the way its README shows. Everything the project learned about that is
in ``RULE-ENGINE.md`` (``/work/shared``); this module is the hardened wrapper it
describes, and nothing else in rair-cds touches durable directly:

* rule files are YAML in durable's JSON vocabulary plus our keys ``id``, ``source``,
  ``note`` and ``do``; several files merge into ONE ruleset so chaining works (§3.9);
* one ``SyncHost`` without timer threads (§2, §3.11), one process-wide lock around
  each evaluation, one state (sid) per evaluation from a pool of pre-checked sids,
  ``delete_state`` in ``finally`` (§2.1);
* a sentinel fact and a no-op rule so an evaluation that fires nothing doesn't crash
  the process (§3.1);
* positional fact ids with distinct FNV-1a-32 hashes, so no fact is silently dropped
  and no two patients share a state (§3.2);
* facts only, never events (§3.4); action errors re-raised as :class:`RuleEngineError`
  (§3.3); derived facts with set semantics (§3.4);
* input checks for what durable gets silently wrong: non-JSON values, too many
  properties, over-long strings, integers beyond 64 bits (§3.7, §3.10); load checks for
  rule shapes durable accepts but never fires (negation first, unknown join alias).

A ``$alias.field`` copy of a field the matched fact lacks fails the evaluation: facts
that may lack a field need a rule that doesn't copy it.

Reading and checking the YAML rule files is :mod:`plugin.engine.loader`, the input-fact checks
are :mod:`plugin.engine.facts` and the id pools :mod:`plugin.engine.ids`; this module builds the
durable ruleset from what the loader returns and runs evaluations.

Build the engine once per worker process, after any fork (§1 item 7), and reuse it.
"""

from __future__ import annotations

import json
import queue
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import durable_rules_engine as _dre
from durable import engine as _durable

from plugin.engine.errors import RuleEngineError
from plugin.engine.facts import prepare_facts
from plugin.engine.ids import (
    DERIVED_IDS,
    MAX_DERIVED,
    SENTINEL_RULE,
    SENTINEL_TYPE,
    check_id_pools,
    sid_pool,
)
from plugin.engine.loader import CompiledRule, RuleInfo, Template, load_rules

__all__ = ["MAX_STATE_POOL", "EngineResult", "RuleEngine"]

#: durable keeps at most 1,024 live states per ruleset (§3.10).
MAX_STATE_POOL = 1_024

#: How long an evaluation waits for a free sid before giving up.
_SID_WAIT_SECONDS = 30.0

_SENTINEL_ACTION = "_sentinel"

# One lock for every durable call in the process, not one per engine: the C core keeps
# process-wide tables (ruleset handles), and the measured-safe design is one evaluation
# at a time per process (§1 item 7). It costs nothing measurable: the C extension holds
# the GIL throughout anyway.
_DURABLE_LOCK = threading.Lock()


@dataclass(frozen=True)
class EngineResult:
    """What one evaluation concluded.

    ``derived`` holds every fact the rules asserted, in assertion order, each with a
    ``rule`` field (the rule ID); ``fired`` holds the rule IDs that fired, in first-fire
    order, each once. Neither holds the sentinel nor engine-internal ids.
    """

    derived: list[dict]
    fired: list[str]


# --------------------------------------------------------------------------- engine


class _SyncHost(_durable.Host):
    """A durable Host that starts no Timer threads and resolves actions from a dict.

    The stock Host's dispatcher threads run any state's pending actions on another
    thread and segfault under concurrent requests (§2 item 2, §3.11).
    """

    def __init__(self, actions: Mapping[str, Any]) -> None:
        self._named_actions = dict(actions)
        super().__init__()

    def _run(self) -> None:
        pass

    def get_action(self, action_name: str) -> Any:
        return self._named_actions[action_name]


class _Run:
    """The bookkeeping of one evaluation, read and written only under _DURABLE_LOCK."""

    __slots__ = ("sid", "derived", "seen", "fired", "fired_set", "errors")

    def __init__(self, sid: str) -> None:
        self.sid = sid
        self.derived: list[dict] = []
        self.seen: set[str] = set()
        self.fired: list[str] = []
        self.fired_set: set[str] = set()
        self.errors: list[str] = []


def _exc_text(exc: BaseException) -> str:
    # durable's Message*Exception set .message but not args, so str() is empty.
    return f"{type(exc).__name__}: {getattr(exc, 'message', None) or exc}"


class RuleEngine:
    """One durable ruleset built from YAML rule files, evaluated one state per call.

    Thread-safe: all durable calls in the process are serialised by one lock (the C
    extension holds the GIL throughout anyway, §1 item 7). Scale with worker processes.

    :param rule_files: YAML rule files, merged into one ruleset so rules chain.
    :param name: the ruleset name (no ``$``).
    :param state_pool_size: how many pre-checked sids to rotate through.
    :raises RuleEngineError: if a file can't be read or a rule is malformed.
    """

    def __init__(
        self, rule_files: Sequence[Path | str], name: str, *, state_pool_size: int = 64
    ) -> None:
        if not isinstance(name, str) or not name or "$" in name:
            # durable turns names containing $state / $flow into state charts.
            raise RuleEngineError(f"ruleset name {name!r} must be a non-empty string without $")
        if not 1 <= state_pool_size <= MAX_STATE_POOL:
            raise RuleEngineError(f"state_pool_size must be 1..{MAX_STATE_POOL}")
        check_id_pools(state_pool_size)
        compiled = load_rules(rule_files)
        self.name = name
        self.rules: list[RuleInfo] = [r.info for r in compiled]
        self._run: _Run | None = None
        self._sids: queue.SimpleQueue[str] = queue.SimpleQueue()
        for sid in sid_pool(state_pool_size):
            self._sids.put(sid)
        # sids whose delete_state failed: their state may still hold a patient's facts,
        # so they never go back to the pool.
        self._quarantined: set[str] = set()
        self._pool_size = state_pool_size

        definition: dict[str, dict] = {
            # Every evaluation asserts the sentinel first and this rule fires on it, so
            # each state has dispatched an action before delete_state (§3.1).
            SENTINEL_RULE: {"all": [{"m": {"type": SENTINEL_TYPE}}], "run": _SENTINEL_ACTION}
        }
        actions: dict[str, Any] = {_SENTINEL_ACTION: _noop_action}
        for rule in compiled:
            definition[rule.info.name] = {**rule.definition, "run": rule.info.name}
            actions[rule.info.name] = self._make_action(rule)
        with _DURABLE_LOCK:
            try:
                host = _SyncHost(actions)
                host.register_rulesets({name: definition})
            except Exception as exc:
                raise RuleEngineError(
                    f"durable_rules rejected ruleset {name!r}: {exc}"
                    + _blame_rule(name, compiled)
                ) from exc
        self._ruleset = host.get_ruleset(name)
        self._handle: int | None = self._ruleset._handle

    # ---------------------------------------------------------------- actions

    def _make_action(self, rule: CompiledRule) -> Any:
        rule_id = rule.info.rule_id
        label = f"rule {rule.info.name!r} ({rule_id})"
        templates = rule.templates

        def action(c: _durable.Closure) -> None:
            run = self._run
            if run is None or run.errors:
                return  # the evaluation already failed; don't cascade
            try:
                if run.sid != c.s.sid:
                    raise RuleEngineError(f"action ran for state {c.s.sid!r}, not {run.sid!r}")
                if rule_id not in run.fired_set:
                    run.fired_set.add(rule_id)
                    run.fired.append(rule_id)
                for template in templates:
                    self._assert_derived(c, run, rule_id, template)
            except Exception as exc:  # durable would swallow it into the state (§3.3)
                run.errors.append(f"{label}: {_exc_text(exc)}")

        return action

    @staticmethod
    def _assert_derived(c: _durable.Closure, run: _Run, rule_id: str, tmpl: Template) -> None:
        fact = dict(tmpl.constants)
        # c._m maps alias -> matched fact; c.m / c.<alias> would hit Closure.s for "s".
        matched = c._m or {}
        for key, alias, field in tmpl.copies:
            bound = matched.get(alias)
            if bound is None:
                raise RuleEngineError(f"alias {alias!r} is not bound in this match")
            if field not in bound:
                raise RuleEngineError(
                    f"${alias}.{field}: the matched fact has no field {field!r}"
                )
            fact[key] = bound[field]
        fact.setdefault("rule", rule_id)
        # Set semantics: identical content is asserted once (§3.4); the rule still fired.
        key = json.dumps(fact, sort_keys=True, ensure_ascii=False)
        if key in run.seen:
            return
        if len(run.derived) >= MAX_DERIVED:
            raise RuleEngineError(f"more than {MAX_DERIVED} derived facts")
        run.seen.add(key)
        engine_fact = {**fact, "id": DERIVED_IDS[len(run.derived)], "sid": run.sid}
        run.derived.append(fact)
        try:
            c.assert_fact(engine_fact)
        except _durable.MessageNotHandledException:
            pass  # no rule consumes it: a final conclusion, kept in run.derived
        # MessageObservedException means an id collision (§3.2) and propagates.

    # ---------------------------------------------------------------- evaluate

    def evaluate(self, facts: Sequence[Mapping[str, Any]]) -> EngineResult:
        """Run the rules over one patient's ``facts`` and return what they concluded.

        Each fact is a mapping with a string ``type`` and JSON scalars (or lists of
        them) as values. Its ``id``, if any, comes back as ``fhir_id`` in matched facts.

        :raises RuleEngineError: on invalid facts, an action error or an engine error.
        """
        payload_facts = prepare_facts(facts)
        if len(self._quarantined) >= self._pool_size:
            raise RuleEngineError("no usable state left: every sid failed delete_state")
        try:
            sid = self._sids.get(timeout=_SID_WAIT_SECONDS)
        except queue.Empty:
            raise RuleEngineError(
                f"no free state after {_SID_WAIT_SECONDS} s; raise state_pool_size"
            ) from None
        try:
            for fact in payload_facts:
                fact["sid"] = sid
            payload = json.dumps(payload_facts, ensure_ascii=False)
            with _DURABLE_LOCK:
                return self._evaluate_locked(sid, payload)
        finally:
            if sid not in self._quarantined:
                self._sids.put(sid)

    def _evaluate_locked(self, sid: str, payload: str) -> EngineResult:
        if self._handle is None:
            raise RuleEngineError(f"rule engine {self.name!r} is closed")
        run = self._run = _Run(sid)
        outcome: list[tuple[object, object]] = []
        try:
            # Low-level call: host.assert_facts raises MessageNotHandledException when
            # any fact matches no rule and never runs the others' actions (§2.1).
            code, offset = _dre.assert_facts(self._handle, payload)
            if code not in (0, 1):  # 1 = some fact matched no rule: normal
                raise RuleEngineError(
                    f"durable_rules returned code {code} on assert (2 = an id was already"
                    " observed, a hash collision, §3.2)"
                )
            # Runs the whole chain synchronously in this thread.
            self._ruleset.do_actions(offset, lambda e, s: outcome.append((e, s)))
        except RuleEngineError:
            raise
        except Exception as exc:
            raise RuleEngineError(f"durable_rules failed: {_exc_text(exc)}") from exc
        finally:
            self._run = None
            try:
                _dre.delete_state(self._handle, sid)  # frees ~0.8 MiB per state (§3.10)
            except Exception as exc:
                self._quarantined.add(sid)
                raise RuleEngineError(
                    f"delete_state({sid!r}) failed, state quarantined: {_exc_text(exc)}"
                    + ("; " + "; ".join(run.errors) if run.errors else "")
                ) from exc
        if run.errors:
            raise RuleEngineError("rule action failed: " + "; ".join(run.errors))
        if not outcome:
            # _flush_actions stops silently when an action ran longer than 10 s.
            raise RuleEngineError("durable_rules stopped before the action chain completed")
        error = outcome[-1][0]
        if error:
            raise RuleEngineError(f"durable_rules action loop failed: {error!r}")
        return EngineResult(derived=run.derived, fired=run.fired)

    # ---------------------------------------------------------------- lifecycle

    def close(self) -> None:
        """Delete the C ruleset (GC never frees it, §3.8). Safe to call twice."""
        with _DURABLE_LOCK:
            if self._handle is not None:
                handle, self._handle = self._handle, None
                try:
                    _dre.delete_ruleset(handle)
                except Exception as exc:
                    raise RuleEngineError(f"delete_ruleset failed: {_exc_text(exc)}") from exc

    def __enter__(self) -> RuleEngine:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _noop_action(c: _durable.Closure) -> None:
    """The sentinel rule's action: nothing, it only makes the state dispatch (§3.1)."""


def _blame_rule(name: str, rules: list[CompiledRule]) -> str:
    """Find the first rule durable rejects on its own, to name it in the error."""
    for rule in rules:
        try:
            handle = _dre.create_ruleset(name, json.dumps({rule.info.name: rule.definition}))
        except Exception as exc:
            return f"; rule {rule.info.name!r} ({rule.info.rule_id}) is rejected: {exc}"
        _dre.delete_ruleset(handle)
    return ""
