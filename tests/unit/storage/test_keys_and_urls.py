"""Pure logic of the storage layer: key ranges, batches, store URLs."""

from __future__ import annotations

import pytest

from kybernetes.storage import Event, KeyValue, Store, StoreURLError, open_store
from kybernetes.storage.etcd import EtcdStore
from kybernetes.storage.etcd_client import parse_endpoints
from kybernetes.storage.keys import by_revision, prefix_end, prefix_end_bytes
from kybernetes.storage.sqlite import SqliteStore


@pytest.mark.parametrize("prefix", ["/registry/pods/", "/a/b", "é", "x\U0010ffff"])
def test_prefix_end_bounds_exactly_the_keys_with_the_prefix(prefix: str) -> None:
    end = prefix_end(prefix)
    assert end is not None
    for inside in (prefix, prefix + "a", prefix + "\U0010ffff" * 3):
        assert prefix <= inside < end
    if prefix and not prefix.endswith("\U0010ffff"):
        assert end.encode() == prefix_end_bytes(prefix.encode())  # etcd's range_end


def test_the_empty_prefix_has_no_end() -> None:
    assert prefix_end("") is None and prefix_end("\U0010ffff") is None


def test_prefix_end_of_sibling_keys() -> None:
    end = prefix_end("/a/b/")
    assert end == "/a/b0"
    assert not ("/a/bc" < end and "/a/bc" >= "/a/b/")
    assert prefix_end_bytes(b"a\xff") == b"b"
    assert prefix_end_bytes(b"") == b"\0"


def _event(revision: int, key: str) -> Event:
    return Event("PUT", KeyValue(key, b"", revision, revision))


def test_by_revision_groups_only_equal_revisions() -> None:
    events = [_event(1, "a"), _event(2, "a"), _event(2, "b"), _event(3, "c")]
    assert [[e.kv.key for e in b] for b in by_revision(events)] == [["a"], ["a", "b"], ["c"]]
    assert by_revision([]) == []


def test_open_store_picks_the_backend_by_scheme(tmp_path) -> None:
    assert isinstance(open_store(f"sqlite://{tmp_path}/s.db"), SqliteStore)
    assert isinstance(open_store("etcd://127.0.0.1:2379"), EtcdStore)
    assert isinstance(open_store("etcds://a:1,b:2", cafile=None), EtcdStore)


@pytest.mark.parametrize(("url", "message"), [
    ("mysql://x", "unknown store scheme 'mysql'"),
    ("state.db", "needs a scheme"),
    ("sqlite://relative/state.db", "absolute file path"),
    ("etcd://", "no etcd endpoint"),
    ("etcd://host", "host:port"),
])
def test_bad_store_urls_are_clear_errors(url: str, message: str) -> None:
    with pytest.raises(StoreURLError, match=message):
        open_store(url)


def test_sqlite_path_that_is_a_directory_is_refused(tmp_path) -> None:
    with pytest.raises(StoreURLError, match="directory"):
        open_store(f"sqlite://{tmp_path}")


def test_etcd_endpoints_and_tls_from_the_url() -> None:
    assert parse_endpoints("etcd://a:1, b:2/") == (False, ["a:1", "b:2"])
    assert parse_endpoints("etcds://a:1") == (True, ["a:1"])


def test_both_backends_implement_the_store_protocol(tmp_path) -> None:
    for store in (open_store(f"sqlite://{tmp_path}/s.db"), open_store("etcd://h:1")):
        assert isinstance(store, Store)
