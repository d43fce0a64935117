"""CPU time of one pod create (and one GET) inside the API server, stage by stage.

Run from the repo root: ``.venv/bin/python bench/create_path.py [--creates N]``.
Prints one JSON object. Wall-clock throughput is meaningless on a shared machine;
CPU time (``time.process_time``) of the server's own code is not, so this measures
that, in one process, on a real SQLite store in a temp dir, with the API server's
own admission chain (built by ``ApiServer``, bootstrapped as ``start`` does) and its
garbage collector tuning.

``total_us`` is the whole create as a request pays it: decode, the unknown-field
and type walk, ``Registry.create``, the response's encoding, and the watch cache
taking in the event. ``stages_us`` runs the same steps one at a time on fresh
copies of the same pod (the order ``Registry.create`` runs them in), so the parts
add up to about the whole. Both run one create at a time, so every store write is a
transaction of its own; ``total_64_in_flight_us`` is the whole create with 64 in
flight, as under wrk, where the SQLite writer commits them in groups. ``get_us``: a
GET answered from the watch cache's bytes.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from kybernetes import collector  # noqa: E402
from kybernetes.api.resources import NAMESPACES, PODS  # noqa: E402
from kybernetes.apiserver import admission, bootstrap, strategy  # noqa: E402
from kybernetes.apiserver.authn import User  # noqa: E402
from kybernetes.apiserver.codec import encode_stored  # noqa: E402
from kybernetes.apiserver.context import WriteContext  # noqa: E402
from kybernetes.apiserver.kinds.definition import KindDefinition  # noqa: E402
from kybernetes.apiserver.server import ApiServer, Config  # noqa: E402

NS = "bench"
IN_FLIGHT = 64  # wrk's connections in bench/apiserver.py: the store commits them in groups
USER = User("bench", groups=("system:masters", "system:authenticated"))
T = TypeVar("T")


def pod_body(name: str) -> bytes:
    """The pod bench/apiserver.py's wrk script POSTs."""
    return orjson.dumps({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "labels": {"app": "bench", "group": "load"}},
        "spec": {"containers": [{"name": "c", "image": "busybox",
                                 "command": ["sleep", "3600"],
                                 "resources": {"requests": {"cpu": "10m"}}}]}})


def context() -> WriteContext:
    return WriteContext(user=USER, user_agent="wrk")


class Stages:
    """CPU seconds summed per stage name, in the order stages first ran."""

    def __init__(self) -> None:
        self.cpu: dict[str, float] = defaultdict(float)

    def run(self, name: str, fn: Callable[[], T]) -> T:
        start = time.process_time()
        result = fn()
        self.cpu[name] += time.process_time() - start
        return result

    async def run_async(self, name: str, fn: Callable[[], Awaitable[T]]) -> T:
        start = time.process_time()
        result = await fn()
        self.cpu[name] += time.process_time() - start
        return result


async def create_whole(server: ApiServer, body: bytes) -> dict[str, Any]:
    """One create as the handler runs it, minus HTTP."""
    kind = pods_kind(server)
    obj = orjson.loads(body)
    ctx = context()
    admission.unknown_field_warnings(kind, obj, ctx.field_validation)
    ctx.types_checked = True
    created = await server.registry.create(kind, NS, obj, ctx)
    orjson.dumps(kind.present(created))
    return created


def pods_kind(server: ApiServer) -> KindDefinition:
    return server.kinds.of(PODS)


async def create_staged(server: ApiServer, body: bytes, st: Stages) -> None:
    """The same create, a stage at a time (Registry.create's order)."""
    kind = pods_kind(server)
    registry = server.registry
    ctx = context()
    ctx.operation = "CREATE"
    obj = st.run("decode", lambda: orjson.loads(body))
    st.run("type_and_unknown_fields",
           lambda: admission.unknown_field_warnings(kind, obj, ctx.field_validation))
    obj = st.run("to_storage", lambda: kind.to_storage(obj, None))
    meta = obj.setdefault("metadata", {})
    meta["namespace"] = NS
    await st.run_async("namespace_check", lambda: registry.check_namespace(NS))
    st.run("defaults", lambda: kind.apply_defaults(obj))
    assert registry.fields is not None
    st.run("managed_fields", lambda: registry.fields.track(kind, obj, None, ctx)
           if registry.fields else None)
    mutated = await st.run_async("admission_mutating", lambda: registry.admission.mutate(
        kind, ctx, namespace=NS, name=meta["name"], obj=obj, old=None))
    obj = mutated if mutated is not None else obj
    st.run("prepare_for_create", lambda: strategy.prepare_for_create(kind, obj, ctx.user))
    st.run("validation", lambda: admission.validate(kind, obj, types_checked=True))
    await st.run_async("admission_validating", lambda: registry.admission.validate(
        kind, ctx, namespace=NS, name=meta["name"], obj=obj, old=None))
    data = st.run("storage_encode", lambda: encode_stored(obj))
    result = await st.run_async("store_write", lambda: server.store.create(
        kind.key(NS, meta["name"]), data))
    obj["metadata"]["resourceVersion"] = str(result.revision)
    st.run("response_encode", lambda: orjson.dumps(kind.present(obj)))
    await st.run_async("watch_cache", lambda: server.cache.wait_for(result.revision, 5.0))


async def get_once(server: ApiServer, name: str) -> bytes | None:
    """A GET as the handler answers it (the watch cache's bytes of that revision)."""
    kind = pods_kind(server)
    kv = await server.registry.get_stored(kind, NS, name)
    return server.cache.encoded(kind, kv)


async def cpu_per(n: int, step: Callable[[int], Awaitable[Any]]) -> float:
    """Mean CPU µs of `step(i)` over n calls."""
    start = time.process_time()
    for i in range(n):
        await step(i)
    return (time.process_time() - start) / n * 1e6


async def measure(data_dir: Path, creates: int) -> dict[str, Any]:
    server = ApiServer(Config(data_dir=data_dir, compaction_interval=0))
    await server.store.start()
    await server.cache.start()
    await server.allocator.start()
    await bootstrap.system_namespaces(server.registry)
    await bootstrap.system_priority_classes(server.registry)
    await server.registry.create(server.kinds.of(NAMESPACES), None,
                                 {"metadata": {"name": NS}})
    collector.tune_for_serving()  # as ApiServer.start does, once bootstrapped
    try:
        for i in range(200):  # warm up: caches, first-call imports
            await create_whole(server, pod_body(f"warm-{i}"))

        async def whole(i: int) -> None:
            created = await create_whole(server, pod_body(f"w-{i}"))
            rv = int(created["metadata"]["resourceVersion"])
            await server.cache.wait_for(rv, 5.0)

        total = await cpu_per(creates, whole)
        start = time.process_time()
        for first in range(0, creates, IN_FLIGHT):
            await asyncio.gather(*(whole(creates + i) for i in
                                   range(first, min(first + IN_FLIGHT, creates))))
        concurrent = (time.process_time() - start) / creates * 1e6
        st = Stages()
        for i in range(creates):
            await create_staged(server, pod_body(f"s-{i}"), st)
        get = await cpu_per(creates, lambda i: get_once(server, f"w-{i}"))
        stages = {name: round(cpu / creates * 1e6, 1) for name, cpu in st.cpu.items()}
        return {"creates": creates, "total_us": round(total, 1),
                "total_64_in_flight_us": round(concurrent, 1),
                "stages_us": stages, "stages_sum_us": round(sum(stages.values()), 1),
                "get_us": round(get, 1)}
    finally:
        await server.cache.aclose()
        await server.store.aclose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--creates", type=int, default=2000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="kyb-create-path-") as tmp:
        result = asyncio.run(measure(Path(tmp), args.creates))
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
