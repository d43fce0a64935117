"""CPython's cyclic garbage collector, tuned for components whose heap is mostly
long-lived: the API server's watch cache and OpenAPI tree, the informer caches of the
controller manager, scheduler and kubelets.

Such a heap makes almost no reference cycles (a decoded pod is a tree), yet every full
collection walks all of it again, and CPython runs one each time the heap has grown by
a quarter. Measured (bench/scale.py, 1,000 hollow nodes, 30,000 pods): full collections
took 12–23 s of the controller manager's, scheduler's and hollow nodes' 30–40 s of CPU,
up to 1.8 s at a time. And under a wrk create load the API server spent ~0.4 ms per
create in the collector, more than the create itself.

So, once started, what exists is moved out of the collector's sight (gc.freeze: not
walked; still freed by reference counting as usual), and so is whatever survives each
full collection: the next one walks only what is newer. The youngest generation is
collected after 50,000 allocations instead of 700 (its cost is per young object, so the
same work in fewer, larger steps). A cycle that becomes garbage among frozen objects
would never be found, so every SWEEP_SECONDS one real full collection (unfreeze,
collect, freeze) runs: a leak lasts ten minutes at most, for one pause of a full walk.
"""

from __future__ import annotations

import gc
import threading
import time
from typing import Any

YOUNG_THRESHOLD = 50_000
SWEEP_SECONDS = 600.0

_sweeper: threading.Thread | None = None


def tune_for_serving(sweep_seconds: float = SWEEP_SECONDS) -> None:
    """Freeze the start-up heap, then the survivors of every full collection; widen the
    young generation; sweep everything now and then (call once, started)."""
    global _sweeper
    gc.collect()  # what start-up left as garbage goes now, not frozen
    gc.freeze()
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, older, oldest)
    if _freeze_survivors not in gc.callbacks:
        gc.callbacks.append(_freeze_survivors)
    if _sweeper is None:
        _sweeper = threading.Thread(target=_sweep_every, args=(sweep_seconds,),
                                    name="gc-sweeper", daemon=True)
        _sweeper.start()


def _freeze_survivors(phase: str, info: dict[str, Any]) -> None:
    if phase == "stop" and info["generation"] == 2:
        gc.freeze()


def sweep() -> None:
    """One full collection over the frozen objects too."""
    gc.unfreeze()
    gc.collect()
    gc.freeze()


def _sweep_every(seconds: float) -> None:
    while True:
        time.sleep(seconds)
        sweep()
