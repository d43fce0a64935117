"""Which etcd member a request tries first: the last that worked, stalled ones last."""

from __future__ import annotations

import pytest

from kybernetes.storage import etcd_client
from kybernetes.storage.etcd_client import EtcdClient

URL = "etcd://a:1,b:2,c:3"


def test_the_order_starts_at_the_member_that_last_worked() -> None:
    client = EtcdClient(URL)
    assert client.order() == [0, 1, 2]
    client._current = 2
    assert client.order() == [2, 0, 1]


def test_a_stalled_member_is_tried_last_until_its_backoff_ends(
        monkeypatch: pytest.MonkeyPatch) -> None:
    now = [100.0]
    monkeypatch.setattr(etcd_client.time, "monotonic", lambda: now[0])
    client = EtcdClient(URL)
    client.stalled(0)  # the current one: requests move on to the next
    assert client.order() == [1, 2, 0]
    now[0] += 1
    client.stalled(1)
    assert client.order() == [2, 0, 1]  # the longest-stalled first among the stalled
    now[0] += etcd_client.STALL_BACKOFF
    assert client.order() == [2, 0, 1]  # both back in the ring, from the current one
    assert client._stalled == {}
