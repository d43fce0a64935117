"""Backends chosen by URL scheme: ``open_store(url)``.

==========================================  =======================================
``sqlite:///abs/path/state.db``             the embedded SQLite store (default)
``etcd://host:port[,host:port…]``           etcd v3 over plain HTTP
``etcds://host:port[,host:port…]``          etcd v3 over TLS (cafile/certfile/keyfile)
==========================================  =======================================

``etcd://`` with a cafile or certfile also speaks TLS. A backend registers one
factory per scheme in ``BACKENDS``; the API server imports nothing else to
pick one.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from kybernetes.storage.interface import Store


class StoreURLError(ValueError):
    """The store URL is malformed or names no known backend."""


def _sqlite(url: str, **_tls: str | None) -> Store:
    path = url[len("sqlite://"):]
    if not path.startswith("/") or path == "/":
        raise StoreURLError(f"sqlite store URL needs an absolute file path "
                            f"(sqlite:///abs/path/state.db), got {url!r}")
    if Path(path).is_dir():
        raise StoreURLError(f"sqlite store path is a directory: {path}")
    from kybernetes.storage.sqlite import SqliteStore
    return SqliteStore(path)


def _etcd(url: str, **tls: str | None) -> Store:
    from kybernetes.storage.etcd import EtcdStore
    try:
        return EtcdStore(url, **tls)
    except ValueError as e:
        raise StoreURLError(str(e)) from e


BACKENDS: dict[str, Callable[..., Store]] = {
    "sqlite": _sqlite,
    "etcd": _etcd,
    "etcds": _etcd,
}


def open_store(url: str, *, cafile: str | None = None, certfile: str | None = None,
               keyfile: str | None = None) -> Store:
    """The backend for `url` (not started yet: ``await store.start()``)."""
    scheme, sep, _ = url.partition("://")
    if not sep:
        raise StoreURLError(f"store URL needs a scheme ({', '.join(sorted(BACKENDS))}): {url!r}")
    factory = BACKENDS.get(scheme)
    if factory is None:
        raise StoreURLError(f"unknown store scheme {scheme!r} in {url!r}; "
                            f"known: {', '.join(sorted(BACKENDS))}")
    return factory(url, cafile=cafile, certfile=certfile, keyfile=keyfile)
