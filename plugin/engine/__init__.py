"""plugin.engine: the one ``evaluate(facts)`` seam over durable_rules.

durable_rules (2.0.28, a Rete engine with a C core) crashes, swallows errors and drops
facts when used the way its README shows. Everything the project learned about that is
in ``RULE-ENGINE.md`` (``/work/shared``); this package is the hardened wrapper it
describes, and nothing else in rair-cds touches durable directly. Its modules, by concern:

* :mod:`~plugin.engine.runtime` builds ONE ruleset from several rule files (chaining,
  §3.9) and runs evaluations: a ``SyncHost`` without timer threads (§2, §3.11), one
  process-wide lock around each evaluation, one state (sid) per evaluation from a pool of
  pre-checked sids, ``delete_state`` in ``finally`` (§2.1); facts only, never events
  (§3.4); action errors re-raised as :class:`RuleEngineError` (§3.3); derived facts with
  set semantics (§3.4);
* :mod:`~plugin.engine.ids`: the sentinel fact and no-op rule so an evaluation that fires
  nothing doesn't crash the process (§3.1); positional fact ids and sids with distinct
  FNV-1a-32 hashes, so no fact is silently dropped and no two patients share a state (§3.2);
* :mod:`~plugin.engine.facts`: input checks for what durable gets silently wrong: non-JSON
  values, too many properties, over-long strings, integers beyond 64 bits (§3.7, §3.10);
* :mod:`~plugin.engine.loader` and :mod:`~plugin.engine.checker`: rule files are YAML in
  durable's JSON vocabulary plus our keys ``id``, ``source``, ``note`` and ``do``, checked
  for rule shapes durable accepts but never fires (negation first, unknown join alias);
* :mod:`~plugin.engine.errors`: :class:`RuleEngineError`, the one exception.

A ``$alias.field`` copy of a field the matched fact lacks fails the evaluation: facts
that may lack a field need a rule that doesn't copy it.

Build the engine once per worker process, after any fork (§1 item 7), and reuse it.
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
