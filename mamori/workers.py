"""Worker threads kept for the container's life, as its clients are (mamori.clients).

A ThreadPoolExecutor made per run starts its threads anew on every run. Under one interpreter
lock each start waits until the new thread gets the lock from the workers already busy
(building requests, parsing answers), and the runs' threads were a quarter of a region scan's
CPU. A kept pool starts its threads once, on the container's first run.

Each use has a pool of its own (`name`), and a task never submits to the pool it runs in: it
could wait forever on work queued behind it. Inlined into SSM documents: standard library only.
"""

import threading
from concurrent.futures import ThreadPoolExecutor

_lock = threading.Lock()
_pools: dict[tuple[str, int], ThreadPoolExecutor] = {}


def pool(name: str, size: int) -> ThreadPoolExecutor:
    """The container's pool `name` of at most `size` threads (started as work comes, then kept)."""
    key = (name, max(1, size))
    with _lock:
        if key not in _pools:
            _pools[key] = ThreadPoolExecutor(max_workers=key[1], thread_name_prefix=f"mamori-{name}")
        return _pools[key]


def clear() -> None:
    """End every kept pool once its work is done (the next use starts new threads)."""
    with _lock:
        ended = list(_pools.values())
        _pools.clear()
    for made in ended:
        made.shutdown(wait=True)
