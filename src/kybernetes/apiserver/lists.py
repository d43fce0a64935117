"""LIST: resourceVersion semantics, selectors and limit/continue paging.

Where a list is served from, as Kubernetes decides it:

* no resourceVersion: a consistent read. From the watch cache once it has caught
  up with the store's current revision (bounded wait), else from the store.
* ``resourceVersion=0``: whatever the cache has (the limit is ignored, as the
  cacher does, so informers get everything in one response).
* ``resourceVersion=X`` (NotOlderThan): from the cache once it has reached X.
* ``limit`` with a consistent read: from a snapshot of the cache once it has
  caught up (else from the store), and its ``continue`` pages from that snapshot
  while it is kept (`list_snapshots`), as Kubernetes' ListFromCacheSnapshot.
* ``resourceVersionMatch=Exact``, ``limit`` with ``resourceVersion=X``, or a
  ``continue`` without a snapshot: from the store at that revision, page by page.
  The continue token is Kubernetes' (base64 JSON ``{"v","rv","start"}``); one whose
  revision has been compacted is ``410 Gone``.

Items come back as watch-cache entries so their JSON is encoded once and shared.
"""

from __future__ import annotations

import base64
import posixpath
from dataclasses import dataclass

import orjson

from kybernetes.api.errors import BadRequest, Gone
from kybernetes.api.fields import FieldSelector
from kybernetes.api.labels import Selector
from kybernetes.apiserver.codec import decode_kv
from kybernetes.apiserver.kinds.definition import KindDefinition
from kybernetes.apiserver.list_snapshots import ListSnapshot
from kybernetes.apiserver.request_info import parse_resource_version
from kybernetes.apiserver.watch_cache import Entry, ResourceCache, WatchCache
from kybernetes.storage.errors import CompactedError
from kybernetes.storage.interface import Store

# The most keys asked of the store at once (etcd3 store's maxLimit): a larger `limit`
# (up to int64's maximum) is served in several reads, not passed on to overflow there.
MAX_STORE_PAGE = 10_000
_BAD_CONTINUE = "invalid continue token"
_INVALID_KEY = "continue key is not valid"
CONTINUE_EXPIRED = (
    "The provided continue parameter is too old to display a consistent list result. "
    "You can start a new list without the continue parameter, or use the continue token "
    "in this response to retrieve the remainder of the results. Continuing with the "
    "provided token results in an inconsistent list - objects that were created, modified, "
    "or deleted between the time the first chunk was returned and now may show up in the "
    "list.")


@dataclass
class ListQuery:
    namespace: str | None = None
    labels: Selector | None = None
    fields: FieldSelector | None = None
    resource_version: str = ""
    match: str = ""
    limit: int = 0
    continue_: str = ""

    def matches(self, entry: Entry) -> bool:
        """Whether the selectors select `entry`, from the labels and fields it keeps."""
        if self.labels is not None and not self.labels.empty and not self.labels.matches(
                entry.labels):
            return False
        return self.fields is None or self.fields.empty or self.fields.matches_with(entry.field)

    @property
    def filtered(self) -> bool:
        return bool((self.labels is not None and not self.labels.empty)
                    or (self.fields is not None and not self.fields.empty))


@dataclass
class ListPage:
    revision: int
    items: list[Entry]
    continue_: str = ""
    remaining: int | None = None


def encode_continue(revision: int, start: str) -> str:
    token = orjson.dumps({"v": "meta.k8s.io/v1", "rv": revision, "start": start + "\x00"})
    return base64.urlsafe_b64encode(token).decode().rstrip("=")


def decode_continue(token: str) -> tuple[int, str]:
    """(revision, key suffix to resume after), checked as Kubernetes' DecodeContinue:
    a start key must be present and already clean, so `../` cannot leave the prefix."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        data = orjson.loads(raw)
        revision, start = int(data["rv"]), str(data["start"])
    except (ValueError, KeyError, TypeError, orjson.JSONDecodeError):
        raise BadRequest(f"{_BAD_CONTINUE}: {_INVALID_KEY}") from None
    if data.get("v") != "meta.k8s.io/v1":
        raise BadRequest(f"{_BAD_CONTINUE}: {_INVALID_KEY}: server does not recognize this "
                         f"encoded version")
    if revision <= 0:
        raise BadRequest(f"{_BAD_CONTINUE}: {_INVALID_KEY}: incorrect encoded start "
                         f"resourceVersion (version meta.k8s.io/v1)")
    if not start:
        raise BadRequest(f"{_BAD_CONTINUE}: {_INVALID_KEY}: encoded start key empty "
                         f"(version meta.k8s.io/v1)")
    if start.startswith("/") or posixpath.normpath("/" + start) != "/" + start:
        raise BadRequest(f"{_BAD_CONTINUE}: {_INVALID_KEY}: {start}")
    return revision, start.rstrip("\x00")


def check_query(query: ListQuery) -> None:
    if query.match and not query.resource_version:
        raise BadRequest("resourceVersionMatch is forbidden unless resourceVersion is provided")
    if query.match not in ("", "Exact", "NotOlderThan"):
        raise BadRequest(f'resourceVersionMatch "{query.match}" is not supported')
    if query.match == "Exact" and query.resource_version == "0":
        raise BadRequest('resourceVersionMatch "exact" is forbidden for resourceVersion "0"')
    if query.continue_ and query.resource_version not in ("", "0"):
        raise BadRequest("specifying resource version is not allowed when using continue")
    parse_resource_version(query.resource_version)


async def list_objects(store: Store, cache: WatchCache, kind: KindDefinition,
                       query: ListQuery) -> ListPage:
    """One page of the list `query` asks for."""
    check_query(query)
    prefix = kind.prefix(query.namespace)
    rv = query.resource_version
    cached = cache.for_prefix(kind.key_prefix)
    if query.continue_:
        revision, start = decode_continue(query.continue_)
        snapshot = cached.snapshots.get(prefix, revision)
        if snapshot is not None:
            return _from_snapshot(cached, snapshot, query, start_after=prefix + start)
        return await _from_store(store, cached, prefix, query, revision=revision,
                                 start_after=prefix + start, expired=CONTINUE_EXPIRED)
    if query.match == "Exact" or (query.limit and rv not in ("", "0") and not query.match):
        return await _from_store(store, cached, prefix, query, revision=int(rv))
    if query.limit and rv == "":
        if not cache.ready.is_set() or not await cache.wait_fresh():
            return await _from_store(store, cached, prefix, query, revision=0)
        return _from_snapshot(cached, cached.snapshot(prefix, cache.revision), query)
    if rv == "":
        if not await cache.wait_fresh():
            return await _from_store(store, cached, prefix, query, revision=0)
    elif rv != "0":
        await cache.wait_not_older(int(rv))
    entries = cached.entries(prefix)
    if query.filtered:
        entries = [e for e in entries if query.matches(e)]
    return ListPage(cache.revision, entries)


def _from_snapshot(cached: ResourceCache, snapshot: ListSnapshot, query: ListQuery, *,
                   start_after: str = "") -> ListPage:
    """A page of a snapshot; the snapshot is kept for the next page while there is one."""
    items, end = snapshot.page(start_after, query.limit,
                               query.matches if query.filtered else None)
    if end >= len(snapshot.entries) or not items:
        cached.snapshots.done(snapshot)
        return ListPage(snapshot.revision, items)
    cached.snapshots.keep(snapshot)
    last = items[-1].key[len(snapshot.prefix):]
    page = ListPage(snapshot.revision, items, encode_continue(snapshot.revision, last))
    if not query.filtered:
        page.remaining = len(snapshot.entries) - end
    return page


async def _from_store(store: Store, cached: ResourceCache, prefix: str, query: ListQuery, *,
                      revision: int, start_after: str = "", expired: str = "") -> ListPage:
    """Pages read from the store; an item the watch cache holds at the same revision
    is the cache's entry (its bytes and selector fields already made), the rest are
    decoded here."""
    items: list[Entry] = []
    limit = query.limit
    batch = min(max(limit, 500) if query.filtered else limit, MAX_STORE_PAGE)
    while True:
        try:
            result = await store.list(prefix, revision=revision, limit=batch,
                                      start_after=start_after)
        except CompactedError as e:
            raise Gone(expired or f"too old resource version: {e.revision} "
                       f"({e.compacted_revision})") from None
        revision = revision or result.revision
        for i, kv in enumerate(result.kvs):
            entry = cached.objects.get(kv.key)
            if entry is None or entry.rv != kv.mod_revision:
                entry = Entry(kv.key, decode_kv(kv), kv.mod_revision)
            if query.filtered and not query.matches(entry):
                continue
            items.append(entry)
            if limit and len(items) == limit:
                more = result.more or i < len(result.kvs) - 1
                if not more:
                    return ListPage(revision, items)
                page = ListPage(revision, items, encode_continue(revision, kv.key[len(prefix):]))
                if not query.filtered:
                    page.remaining = await _remaining(store, cached, prefix, kv.key, revision)
                return page
        if not result.more or not result.kvs:
            return ListPage(revision, items)
        start_after = result.kvs[-1].key


async def _remaining(store: Store, cached: ResourceCache, prefix: str, after: str,
                     revision: int) -> int:
    """How many keys follow `after` (remainingItemCount). Counted in the watch cache's
    sorted keys when it is loaded: reading the rest of the range from the store for
    every page made a paged list of n objects cost n²/page rows (150,000 pods: ~22
    million). The cache may be a few revisions past the page's; kube's field is an
    estimate for just that reason."""
    if cached.parent.ready.is_set():
        return cached.count_after(prefix, after)
    rest = await store.list(prefix, revision=revision, start_after=after)
    return len(rest.kvs)
