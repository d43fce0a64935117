"""Storage: the Store protocol, its SQLite and etcd backends, ``open_store(url)``."""

from kybernetes.storage.compactor import compact_once, start_compactor
from kybernetes.storage.errors import (
    CompactedError,
    FutureRevisionError,
    StorageError,
    StorageUnavailable,
)
from kybernetes.storage.interface import Event, KeyValue, ListResult, Store, Watch, WriteResult
from kybernetes.storage.registry import StoreURLError, open_store

__all__ = [
    "CompactedError", "Event", "FutureRevisionError", "KeyValue", "ListResult",
    "StorageError", "StorageUnavailable", "Store", "StoreURLError", "Watch", "WriteResult",
    "compact_once", "open_store", "start_compactor",
]
