"""plugin.engine: the one ``evaluate(facts)`` seam over durable_rules.

durable_rules (2.0.28, a Rete engine with a C core) crashes, swallows errors and drops
facts when used the way its README shows. What it gets wrong and how each guard here
works is in ``docs/ENGINE.md`` (cited below by section); this package is that hardened
wrapper, and nothing else in rair-cds touches durable directly. Its modules, by concern:

* :mod:`~plugin.engine.runtime` builds ONE C ruleset from several rule files (chaining,
  §E3.9) with ``create_ruleset``: no durable ``Host``, so no timer threads (§E2.2,
  §E3.11). It runs each evaluation under one process-wide lock (§E1.2), in one state
  (sid) from a pool of pre-checked sids: the low-level ``assert_facts``, then its own
  loop over durable's C calls (``start_action_for_state`` -> action ->
  ``complete_and_start_action``) until no action is pending, without ``update_state``
  (our actions never change the state), checking that every matched fact and every
  derived fact belongs to this evaluation's state; ``delete_state`` in ``finally``
  (§E2.1). Facts only, never events, and derived facts with set semantics (§E3.4);
  action errors re-raised as :class:`RuleEngineError` (§E3.3);
* :mod:`~plugin.engine.ids`: the sentinel fact and no-op rule so an evaluation that fires
  nothing doesn't crash the process (§E3.1); positional fact ids and sids with distinct
  FNV-1a-32 hashes, so no fact is silently dropped and no two patients share a state (§E3.2);
* :mod:`~plugin.engine.facts`: input checks for what durable gets silently wrong: non-JSON
  values, too many properties, over-long strings, integers beyond 64 bits (§E3.7, §E3.10);
* :mod:`~plugin.engine.loader` and :mod:`~plugin.engine.checker`: rule files are YAML in
  durable's JSON vocabulary plus our keys ``id``, ``source``, ``note`` and ``do``, checked
  for rule shapes durable accepts but never fires (negation first, unknown join alias;
  §E3.5, §E3.9); ``count``/``cap`` are refused (§E3.6);
* :mod:`~plugin.engine.errors`: :class:`RuleEngineError`, the one exception.

A ``$alias.field`` copy of a field the matched fact lacks fails the evaluation: facts
that may lack a field need a rule that doesn't copy it.

Build the engine once per worker process, after any fork (§E1.2), and reuse it.
"""

from __future__ import annotations

from plugin.engine.errors import RuleEngineError
from plugin.engine.facts import MAX_STRING_BYTES
from plugin.engine.ids import MAX_DERIVED, MAX_FACTS, check_distinct_hashes, fnv1a_32
from plugin.engine.loader import RuleInfo
from plugin.engine.runtime import MAX_STATE_POOL, EngineResult, RuleEngine

__all__ = [
    "MAX_DERIVED",
    "MAX_FACTS",
    "MAX_STATE_POOL",
    "MAX_STRING_BYTES",
    "EngineResult",
    "RuleEngine",
    "RuleEngineError",
    "RuleInfo",
    "check_distinct_hashes",
    "fnv1a_32",
]
