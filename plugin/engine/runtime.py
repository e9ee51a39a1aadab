"""plugin.engine.runtime: the one ``evaluate(facts)`` seam over durable_rules.

durable_rules (2.0.28, a Rete engine with a C core) crashes, swallows errors and drops
facts when used the way its README shows. ``docs/ENGINE.md`` says what it gets wrong and
how each guard works (sections cited below); this module is the runtime of that hardened
wrapper, and nothing else in rair-cds touches durable directly:

* rule files are YAML in durable's JSON vocabulary plus our keys ``id``, ``source``,
  ``note`` and ``do``; several files merge into ONE ruleset so chaining works (§E3.9);
* no durable ``Host`` at all: the C ruleset is created directly, so no timer threads
  exist (§E2.2, §E3.11), and the actions are dispatched by our own synchronous loop
  over durable's C calls (§E2.1), without the per-action JSON round trips of durable's
  Python layer (no ``update_state``: our actions never change the state), checking that
  every matched and derived fact belongs to this evaluation's state; one process-wide
  lock around each evaluation (§E1.2), one state (sid) per evaluation from a pool of
  pre-checked sids, ``delete_state`` in ``finally`` (§E2.1);
* a sentinel fact and a no-op rule so an evaluation that fires nothing doesn't crash
  the process (§E3.1);
* positional fact ids with distinct FNV-1a-32 hashes, so no fact is silently dropped
  and no two patients share a state (§E3.2);
* facts only, never events (§E3.4); action errors re-raised as :class:`RuleEngineError`
  (§E3.3); derived facts with set semantics (§E3.4);
* input checks for what durable gets silently wrong: non-JSON values, too many
  properties, over-long strings, integers beyond 64 bits (§E3.7, §E3.10); load checks for
  rule shapes durable accepts but never fires (negation first, unknown join alias).

A ``$alias.field`` copy of a field the matched fact lacks fails the evaluation: facts
that may lack a field need a rule that doesn't copy it.

Reading and checking the YAML rule files is :mod:`plugin.engine.loader`, the input-fact checks
are :mod:`plugin.engine.facts` and the id pools :mod:`plugin.engine.ids`; this module builds the
durable ruleset from what the loader returns and runs evaluations.

Build the engine once per worker process, after any fork (§E1.2), and reuse it.
"""

from __future__ import annotations

import json
import queue
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import durable_rules_engine as _dre
import orjson

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

#: durable keeps at most 1,024 live states per ruleset (§E3.10).
MAX_STATE_POOL = 1_024

#: How long an evaluation waits for a free sid before giving up.
_SID_WAIT_SECONDS = 30.0

# One lock for every durable call in the process, not one per engine: the C core keeps
# process-wide tables (ruleset handles), and the measured-safe design is one evaluation
# at a time per process (§E1.2). It costs nothing measurable: the C extension holds
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


_Action = Callable[["_Run", Any], None]


class _Run:
    """The bookkeeping of one evaluation, read and written only under _DURABLE_LOCK."""

    __slots__ = ("handle", "sid", "state_offset", "derived", "seen", "fired", "fired_set", "errors")

    def __init__(self, handle: int, sid: str) -> None:
        self.handle = handle
        self.sid = sid
        self.state_offset = -1
        self.derived: list[dict] = []
        self.seen: set[bytes] = set()
        self.fired: list[str] = []
        self.fired_set: set[str] = set()
        self.errors: list[str] = []


def _exc_text(exc: BaseException) -> str:
    # durable's Message*Exception set .message but not args, so str() is empty.
    return f"{type(exc).__name__}: {getattr(exc, 'message', None) or exc}"


class RuleEngine:
    """One durable ruleset built from YAML rule files, evaluated one state per call.

    Thread-safe: all durable calls in the process are serialised by one lock (the C
    extension holds the GIL throughout anyway, §E1.2). Scale with worker processes.

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
        self._sids: queue.SimpleQueue[str] = queue.SimpleQueue()
        for sid in sid_pool(state_pool_size):
            self._sids.put(sid)
        # sids whose delete_state failed: their state may still hold a patient's facts,
        # so they never go back to the pool.
        self._quarantined: set[str] = set()
        self._pool_size = state_pool_size

        definition: dict[str, dict] = {
            # Every evaluation asserts the sentinel first and this rule fires on it, so
            # each state has dispatched an action before delete_state (§E3.1).
            SENTINEL_RULE: {"all": [{"m": {"type": SENTINEL_TYPE}}]}
        }
        # durable's rule name -> what its action does; the loop in _run_actions calls it.
        self._actions: dict[str, _Action] = {SENTINEL_RULE: _noop_action}
        for rule in compiled:
            definition[rule.info.name] = dict(rule.definition)
            self._actions[rule.info.name] = self._make_action(rule)
        # The C ruleset is created directly: no durable Host, so no Timer threads at all
        # (§E2.2, §E3.11), and no Python Ruleset/Closure/Promise layer on the action path
        # (the loop below is the documented start_action_for_state -> action ->
        # complete_and_start_action protocol of §E2.1, without its per-action JSON round trips).
        with _DURABLE_LOCK:
            try:
                handle = _dre.create_ruleset(name, json.dumps(definition, ensure_ascii=False))
            except Exception as exc:
                raise RuleEngineError(
                    f"durable_rules rejected ruleset {name!r}: {exc}"
                    + _blame_rule(name, compiled)
                ) from exc
        self._handle: int | None = handle

    # ---------------------------------------------------------------- actions

    def _make_action(self, rule: CompiledRule) -> _Action:
        rule_id = rule.info.rule_id
        label = f"rule {rule.info.name!r} ({rule_id})"
        templates = rule.templates

        def action(run: _Run, matched: Any) -> None:  # noqa: ANN401 - durable's JSON
            if run.errors:
                return  # the evaluation already failed; don't cascade
            try:
                if not isinstance(matched, dict):
                    raise RuleEngineError(f"unexpected match {type(matched).__name__}")
                for bound in matched.values():
                    # Every matched fact belongs to this evaluation's state (§E3.2).
                    if not isinstance(bound, dict) or bound.get("sid") != run.sid:
                        raise RuleEngineError(f"matched a fact of another state, not {run.sid!r}")
                if rule_id not in run.fired_set:
                    run.fired_set.add(rule_id)
                    run.fired.append(rule_id)
                for template in templates:
                    self._assert_derived(run, matched, rule_id, template)
            except Exception as exc:  # durable would swallow it into the state (§E3.3)
                run.errors.append(f"{label}: {_exc_text(exc)}")

        return action

    @staticmethod
    def _assert_derived(run: _Run, matched: dict, rule_id: str, tmpl: Template) -> None:
        fact = dict(tmpl.constants)
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
        # Set semantics: identical content is asserted once (§E3.4); the rule still fired.
        identity = orjson.dumps(fact, option=orjson.OPT_SORT_KEYS)
        if identity in run.seen:
            return
        if len(run.derived) >= MAX_DERIVED:
            raise RuleEngineError(f"more than {MAX_DERIVED} derived facts")
        run.seen.add(identity)
        engine_fact = {**fact, "id": DERIVED_IDS[len(run.derived)], "sid": run.sid}
        run.derived.append(fact)
        code, offset = _dre.assert_fact(run.handle, orjson.dumps(engine_fact).decode())
        # 0: matched, 1: no rule consumes it (a final conclusion, kept in run.derived).
        # 2 means an id collision (§E3.2); 3 (deferred) needs a queue callback we never set.
        if code not in (0, 1):
            raise RuleEngineError(f"durable_rules returned code {code} on a derived fact")
        if offset != run.state_offset:
            raise RuleEngineError("a derived fact landed in another state")

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
            payload = orjson.dumps(payload_facts).decode()
            with _DURABLE_LOCK:
                return self._evaluate_locked(sid, payload)
        finally:
            if sid not in self._quarantined:
                self._sids.put(sid)

    def _evaluate_locked(self, sid: str, payload: str) -> EngineResult:
        handle = self._handle
        if handle is None:
            raise RuleEngineError(f"rule engine {self.name!r} is closed")
        run = _Run(handle, sid)
        try:
            # Low-level call: host.assert_facts raises MessageNotHandledException when
            # any fact matches no rule and never runs the others' actions (§E2.1).
            code, offset = _dre.assert_facts(handle, payload)
            if code not in (0, 1):  # 1 = some fact matched no rule: normal
                raise RuleEngineError(
                    f"durable_rules returned code {code} on assert (2 = an id was already"
                    " observed, a hash collision, §E3.2)"
                )
            run.state_offset = offset
            # Runs the whole chain synchronously in this thread.
            self._run_actions(handle, run)
        except RuleEngineError:
            raise
        except Exception as exc:
            raise RuleEngineError(f"durable_rules failed: {_exc_text(exc)}") from exc
        finally:
            try:
                _dre.delete_state(handle, sid)  # frees ~0.8 MiB per state (§E3.10)
            except Exception as exc:
                self._quarantined.add(sid)
                raise RuleEngineError(
                    f"delete_state({sid!r}) failed, state quarantined: {_exc_text(exc)}"
                    + ("; " + "; ".join(run.errors) if run.errors else "")
                ) from exc
        if run.errors:
            raise RuleEngineError("rule action failed: " + "; ".join(run.errors))
        return EngineResult(derived=run.derived, fired=run.fired)

    def _run_actions(self, handle: int, run: _Run) -> None:
        """Dispatch every pending action of the run's state, in this thread, until none is left.

        durable's protocol (§E2.1): ``start_action_for_state`` hands out the first pending
        action as (state JSON, {rule name: {alias: matched fact}}); after the action,
        ``complete_and_start_action`` retires it and hands out the next, or ``None``. Derived
        facts asserted by an action are matched at once, so the chain completes here. The
        stock loop (``Ruleset.do_actions``) also writes the state back (``update_state``) after
        every action; our actions never change the state, so that round trip is left out.
        """
        started = _dre.start_action_for_state(handle, run.state_offset)
        if started is None:
            return  # cannot happen while the sentinel rule fires; kept safe anyway
        state_json, message_json = started
        if orjson.loads(state_json).get("sid") != run.sid:
            _dre.abandon_action(handle, run.state_offset)
            raise RuleEngineError(f"durable handed out an action of another state, not {run.sid!r}")
        actions = self._actions
        try:
            while message_json is not None:
                message = orjson.loads(message_json)
                if not isinstance(message, dict) or len(message) != 1:
                    # its content is patient facts: never in an error message
                    raise RuleEngineError("unexpected action message shape from durable")
                ((rule_name, matched),) = message.items()
                action = actions.get(rule_name)
                if action is None:
                    raise RuleEngineError(f"durable ran an unknown rule {rule_name!r}")
                action(run, matched)
                message_json = _dre.complete_and_start_action(handle, run.state_offset)
        except Exception:
            try:
                _dre.abandon_action(handle, run.state_offset)  # as Ruleset._flush_actions does
            except Exception:  # noqa: S110 - the first error is the one to report
                pass
            raise

    # ---------------------------------------------------------------- lifecycle

    def close(self) -> None:
        """Delete the C ruleset (GC never frees it, §E3.8). Safe to call twice."""
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


def _noop_action(run: _Run, matched: Any) -> None:  # noqa: ANN401 - durable's JSON
    """The sentinel rule's action: nothing, it only makes the state dispatch (§E3.1)."""


def _blame_rule(name: str, rules: list[CompiledRule]) -> str:
    """Find the first rule durable rejects on its own, to name it in the error."""
    for rule in rules:
        try:
            handle = _dre.create_ruleset(name, json.dumps({rule.info.name: rule.definition}))
        except Exception as exc:
            return f"; rule {rule.info.name!r} ({rule.info.rule_id}) is rejected: {exc}"
        _dre.delete_ruleset(handle)
    return ""
