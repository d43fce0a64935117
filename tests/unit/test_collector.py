"""The garbage collector's tuning: survivors of a full collection are frozen (not
walked again), and a sweep still finds a cycle that became garbage among them."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from kybernetes import collector


class Node:
    def __init__(self) -> None:
        self.me = self  # a reference cycle: only the collector can free it


@pytest.fixture
def freezing() -> Iterator[None]:
    gc.callbacks.append(collector._freeze_survivors)
    try:
        yield
    finally:
        gc.callbacks.remove(collector._freeze_survivors)
        gc.unfreeze()


@pytest.mark.usefixtures("freezing")
def test_a_full_collection_freezes_its_survivors_and_a_sweep_unfreezes_them() -> None:
    node = Node()
    gone = weakref.ref(node)
    gc.collect()
    assert gc.get_freeze_count() > 0
    del node
    gc.collect()  # the cycle is garbage now, but frozen: not walked, not freed
    assert gone() is not None
    collector.sweep()
    assert gone() is None
