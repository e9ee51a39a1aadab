"""plugin.engine.ids: the engine-internal identities and their hash check (docs/ENGINE.md §E3.2).

durable_rules tells states and facts apart only by a 32-bit FNV-1a hash of their id, never by
the string. So input facts get positional ids (``f0``, ``f1``, …), derived facts ``d0``, ``d1``,
…, states come from a pool of sids ``s0``, ``s1``, …, and all of these, the sentinel's id and
the state facts' ids included, are checked once for distinct hashes.

The sentinel (§E3.1): every evaluation asserts one fact of :data:`SENTINEL_TYPE` first, and a
no-op rule named :data:`SENTINEL_RULE` fires on it, so each state has dispatched an action
before ``delete_state``.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable

from plugin.engine.errors import RuleEngineError

__all__ = [
    "DERIVED_IDS",
    "FACT_IDS",
    "MAX_DERIVED",
    "MAX_FACTS",
    "SENTINEL_ID",
    "SENTINEL_RULE",
    "SENTINEL_TYPE",
    "check_distinct_hashes",
    "check_id_pools",
    "fnv1a_32",
    "sid_pool",
]

#: Most input facts one evaluation may carry; also the size of the fact-id pool.
MAX_FACTS = 20_000
#: Most derived facts one evaluation may assert.
MAX_DERIVED = 20_000

SENTINEL_TYPE = "_eval_begin"
SENTINEL_RULE = "_eval_begin"
SENTINEL_ID = "b0"

FACT_IDS = tuple(f"f{i}" for i in range(MAX_FACTS))
DERIVED_IDS = tuple(f"d{i}" for i in range(MAX_DERIVED))


def fnv1a_32(text: str) -> int:
    """Return the FNV-1a-32 hash durable uses to identify states and facts (§E3.2)."""
    h = 0x811C9DC5
    for byte in text.encode("utf-8"):
        h = ((h ^ byte) * 0x01000193) & 0xFFFFFFFF
    return h


def check_distinct_hashes(ids: Iterable[str]) -> None:
    """Check that no two of ``ids`` share an FNV-1a-32 hash.

    durable compares only the hash, never the string, so two colliding ids silently
    drop a fact or join two states (§E3.2).

    :raises RuleEngineError: naming the first colliding pair.
    """
    seen: dict[int, str] = {}
    for text in ids:
        h = fnv1a_32(text)
        other = seen.setdefault(h, text)
        if other != text:
            raise RuleEngineError(
                f"ids {other!r} and {text!r} share FNV-1a-32 hash {h:#010x}; "
                "durable_rules would treat them as one (docs/ENGINE.md §E3.2)"
            )


def sid_pool(pool_size: int) -> list[str]:
    """The state ids ``s0`` … of a pool of ``pool_size`` states."""
    return [f"s{i}" for i in range(pool_size)]


@functools.cache
def check_id_pools(pool_size: int) -> None:
    """Check every id an engine with ``pool_size`` states can use for distinct hashes.

    :raises RuleEngineError: naming the first colliding pair.
    """
    # The state itself is stored as a fact with id "sid-<sid>" (seen in do_actions'
    # state dict), so those ids join the check too. Cached: ~40k hashes, done once.
    sids = sid_pool(pool_size)
    check_distinct_hashes(
        [*FACT_IDS, *DERIVED_IDS, SENTINEL_ID, *sids, *(f"sid-{s}" for s in sids)]
    )
