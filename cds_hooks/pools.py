"""Long-lived thread pools, one per process (hook-call deadline, prefetch fetches).

A pool is created on first use in each process (after a gunicorn fork, the parent's pool and its
threads do not exist in the child) and its threads are reused: no thread is started per call once
the pool is warm. ``max_workers`` bounds the threads, so work that overruns its deadline (it cannot
be killed; FHIR reads are clipped to the deadline, so it ends soon after) can only occupy a
bounded number of them.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor

_lock = threading.Lock()
_pools: dict[tuple[int, str], ThreadPoolExecutor] = {}


def shared_pool(name: str, max_workers: int) -> ThreadPoolExecutor:
    """The process's pool called ``name`` (created with ``max_workers`` on first use)."""
    key = (os.getpid(), name)
    with _lock:
        pool = _pools.get(key)
        if pool is None:
            pool = _pools[key] = ThreadPoolExecutor(
                max_workers=max_workers, thread_name_prefix=f"rair-cds-{name}"
            )
        return pool
