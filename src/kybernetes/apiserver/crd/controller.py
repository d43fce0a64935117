"""Serves CustomResourceDefinitions: accepts their names, registers their kinds, marks them
Established, and on deletion removes their custom resources before letting them go.

It runs inside every API server (as apiextensions-apiserver's naming, establishing
and finalizing controllers do), fed by the server's own watch cache, so each
server of a cluster serves the same kinds. One task reconciles one CRD at a
time, level-triggered: whatever events were missed, a reconcile brings the
registry and the CRD's status to what its stored object says.

* NamesAccepted: a CRD's plural, singular, kind, listKind and short names must
  not be taken in its group by another CRD (or a built-in kind); otherwise the
  condition is False with Kubernetes' reason (PluralConflict, KindConflict, …)
  and nothing is served.
* Established: set once its names are accepted and its kinds registered, so a
  client that sees it can use the kind at once.
* Terminating: the kinds stay served for get, list and delete but refuse
  creates; every custom resource is deleted; then the cleanup finalizer is
  removed and the store deletes the CRD, whose kinds then go.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace
from typing import Any

import orjson

from kybernetes.api.crd_validation import CLEANUP_FINALIZER
from kybernetes.api.errors import ApiError, Conflict, NotFound
from kybernetes.api.resources import CUSTOM_RESOURCE_DEFINITIONS
from kybernetes.apiserver.context import system_context
from kybernetes.apiserver.crd.custom_kind import definitions_for
from kybernetes.apiserver.kinds.apiextensions.customresourcedefinition import set_condition
from kybernetes.apiserver.kinds.definition import KindDefinition
from kybernetes.apiserver.registry import DeleteOptions, Registry
from kybernetes.apiserver.watch_cache import ResourceCache, WatchCache
from kybernetes.tasks import cancel_and_wait, spawn

log = logging.getLogger("kybernetes.apiserver.crd")

Obj = dict[str, Any]
RECHECK_SECONDS = 0.5
TERMINATING = "create not allowed while custom resource definition is terminating"
_RESOURCE_NAMES = (("plural", "PluralConflict"), ("singular", "SingularConflict"))
_KIND_NAMES = (("kind", "KindConflict"), ("listKind", "ListKindConflict"))


def _names_taken(crd: Obj, others: list[Obj], builtin: list[KindDefinition]
                 ) -> tuple[str, str] | None:
    """(reason, message) when a name of `crd` is in use in its group, as the naming
    controller decides: plurals, singulars and short names share one namespace, kinds
    and list kinds another; every name is checked and the last conflict is reported."""
    spec = crd.get("spec") or {}
    group, wanted = spec.get("group"), spec.get("names") or {}
    own = (crd.get("status") or {}).get("acceptedNames") or {}
    resources: set[str] = set()
    kinds: set[str] = set()
    for other in others:
        if (other.get("spec") or {}).get("group") != group:
            continue
        accepted = (other.get("status") or {}).get("acceptedNames") or {}
        resources.update(n for n in (accepted.get("plural"), accepted.get("singular"),
                                     *(accepted.get("shortNames") or ())) if n)
        kinds.update(n for n in (accepted.get("kind"), accepted.get("listKind")) if n)
    for kind in builtin:
        if kind.resource.group == group:
            resources.update((kind.resource.plural, kind.resource.singular_name))
            kinds.update((kind.resource.kind, kind.resource.kind + "List"))
    conflict = None
    checks = [(field, reason, resources) for field, reason in _RESOURCE_NAMES]
    for field, reason, taken in checks:
        name = wanted.get(field)
        if name and name != own.get(field) and name in taken:
            conflict = (reason, f'"{name}" is already in use')
    for short in wanted.get("shortNames") or ():
        if short not in (own.get("shortNames") or ()) and short in resources:
            conflict = ("ShortNamesConflict", f'"{short}" is already in use')
    for field, reason in _KIND_NAMES:
        name = wanted.get(field)
        if name and name != own.get(field) and name in kinds:
            conflict = (reason, f'"{name}" is already in use')
    return conflict


class CrdController:
    """Keeps the kind registry and every CRD's status true to the stored CRDs."""

    def __init__(self, registry: Registry, cache: WatchCache) -> None:
        self.registry = registry
        self.kinds = registry.kinds
        self.cache = cache
        self.crds = self.kinds.of(CUSTOM_RESOURCE_DEFINITIONS)
        self._served: dict[str, tuple[str, str, bytes]] = {}  # name → group, plural, source
        self._queue: asyncio.Queue[str] = asyncio.Queue()
        self._tasks: list[asyncio.Task[None]] = []
        self._builtin = list(self.kinds.definitions())

    async def start(self) -> None:
        """Serve every stored CRD before the server listens, then follow changes."""
        for entry in list(self._cache().objects.values()):
            await self._reconcile_safely(entry.obj["metadata"]["name"])
        self._tasks = [spawn(self._watch(), name="crd-watch"),
                       spawn(self._work(), name="crd-controller")]

    async def aclose(self) -> None:
        for task in self._tasks:
            await cancel_and_wait(task)

    def _cache(self) -> ResourceCache:
        return self.cache.for_prefix(self.crds.key_prefix)

    async def _watch(self) -> None:
        """Queue the name of every CRD that changes; after a gap (the cache re-listed,
        or this watcher fell behind) queue them all again."""
        while True:
            watcher, initial, _ = self._cache().watch(self.crds.key_prefix, None, from_rv=None)
            try:
                for name in {e.obj["metadata"]["name"] for _, e in initial} | set(self._served):
                    self._queue.put_nowait(name)
                while not watcher.closed:
                    for _, entry in await watcher.next_batch(60.0):
                        self._queue.put_nowait(entry.obj["metadata"]["name"])
            finally:
                watcher.close()

    async def _work(self) -> None:
        while True:
            await self._reconcile_safely(await self._queue.get())

    def _later(self, name: str) -> None:
        asyncio.get_running_loop().call_later(RECHECK_SECONDS, self._queue.put_nowait, name)

    async def _reconcile_safely(self, name: str) -> None:
        try:
            await self.reconcile(name)
        except asyncio.CancelledError:
            raise
        except Exception as e:  # one CRD's trouble never stops the others
            log.warning("reconciling a CRD failed; retrying", extra={"crd": name,
                                                                      "error": repr(e)})
            self._later(name)

    def _stored(self, name: str) -> Obj | None:
        return self.cache.cached(self.crds, None, name)

    async def reconcile(self, name: str) -> None:
        crd = self._stored(name)
        if crd is None:
            served = self._served.pop(name, None)
            if served is not None:
                self.kinds.unregister(served[0], served[1])
                log.info("custom resource kind removed", extra={"crd": name})
            return
        if (crd.get("metadata") or {}).get("deletionTimestamp"):
            await self._finalize(name, crd)
            return
        others = [e.obj for e in self._cache().objects.values()
                  if e.obj["metadata"]["name"] != name]
        conflict = _names_taken(crd, others, self._builtin)
        if conflict is None:
            self._serve(name, crd, terminating=False)
        await self._write_status(name, conflict)

    def _serve(self, name: str, crd: Obj, *, terminating: bool) -> None:
        """Register the CRD's kinds as its spec and accepted names say (once per change)."""
        spec = crd.get("spec") or {}
        source = orjson.dumps([spec, terminating], option=orjson.OPT_SORT_KEYS)
        served = self._served.get(name)
        if served is not None and served[2] == source:
            return
        definitions = definitions_for({**crd, "status": {"acceptedNames": spec.get("names")}})
        if terminating:
            definitions = [_refusing_creates(d) for d in definitions]
        group, plural = spec["group"], spec["names"]["plural"]
        if served is not None and served[:2] != (group, plural):
            self.kinds.unregister(served[0], served[1])
        self.kinds.replace(group, plural, definitions)
        self._served[name] = (group, plural, source)
        log.info("custom resource kind served", extra={
            "crd": name, "versions": [d.resource.version for d in definitions]})

    async def _write_status(self, name: str, conflict: tuple[str, str] | None) -> None:
        def update(crd: Obj) -> Obj:
            status = crd.setdefault("status", {})
            if conflict is None:
                status["acceptedNames"] = dict((crd.get("spec") or {}).get("names") or {})
                set_condition(crd, "NamesAccepted", "True", "NoConflicts", "no conflicts found")
                set_condition(crd, "Established", "True", "InitialNamesAccepted",
                              "the initial names have been accepted")
            else:
                set_condition(crd, "NamesAccepted", "False", *conflict)
                established = [c for c in status.get("conditions") or ()
                               if c.get("type") == "Established" and c.get("status") == "True"]
                if not established:
                    set_condition(crd, "Established", "False", "NotAccepted",
                                  "not all names are accepted")
            return crd

        await self._update_status(name, update)

    async def _update_status(self, name: str, update: Any) -> None:
        try:
            await self.registry.guaranteed_update(
                self.crds, None, name, update, system_context().for_subresource("status"))
        except NotFound:
            return

    async def _finalize(self, name: str, crd: Obj) -> None:
        """Terminating: refuse creates, delete every custom resource, then let the CRD go."""
        if CLEANUP_FINALIZER not in ((crd.get("metadata") or {}).get("finalizers") or ()):
            return
        if name in self._served or self._names_free(crd):
            self._serve(name, crd, terminating=True)
        served = self._served.get(name)
        remaining = await self._delete_instances(served[:2]) if served else 0
        if remaining:
            await self._update_status(name, lambda c: _terminating(
                c, "InstanceDeletionInProgress", "CustomResource deletion is in progress"))
            self._later(name)
            return

        def release(c: Obj) -> Obj:
            meta = c["metadata"]
            meta["finalizers"] = [f for f in meta.get("finalizers") or ()
                                  if f != CLEANUP_FINALIZER]
            return c

        await self._update_status(name, lambda c: _terminating(
            c, "InstanceDeletionCompleted", "removed all instances"))
        try:
            await self.registry.guaranteed_update(self.crds, None, name, release)
        except (NotFound, Conflict):
            return
        log.info("custom resources removed; CRD released", extra={"crd": name})

    def _names_free(self, crd: Obj) -> bool:
        others = [e.obj for e in self._cache().objects.values() if e.obj is not crd]
        return _names_taken(crd, others, self._builtin) is None

    async def _delete_instances(self, group_plural: tuple[str, str]) -> int:
        """Delete every custom resource of the kind; how many are still there."""
        group, plural = group_plural
        kinds = [d for d in self.kinds.definitions()
                 if (d.resource.group, d.resource.plural) == (group, plural)]
        if not kinds:
            return 0
        kind = kinds[0]
        entries = list(self.cache.for_prefix(kind.key_prefix).objects.values())
        for entry in entries:
            meta = entry.obj.get("metadata") or {}
            if meta.get("deletionTimestamp"):
                continue
            try:
                await self.registry.delete(kind, meta.get("namespace"), meta["name"],
                                           DeleteOptions(propagation_policy="Background"))
            except (NotFound, Conflict):
                continue
            except ApiError as e:
                log.warning("deleting a custom resource failed", extra={
                    "resource": kind.resource.qualified, "object": meta["name"], "error": repr(e)})
        return len(entries)


def _terminating(crd: Obj, reason: str, message: str) -> Obj:
    set_condition(crd, "Terminating", "True", reason, message)
    return crd


def _refusing_creates(kind: KindDefinition) -> KindDefinition:
    return replace(kind, creates_refused=TERMINATING)
