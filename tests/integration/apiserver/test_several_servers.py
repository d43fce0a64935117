"""Several API servers over one 3-member etcd (issue 14): started at once on an
empty store they bootstrap one set of objects; every live server is in the
`kubernetes` Endpoints and a dead one drops out; a stalled etcd member does not
stop writes."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from kybernetes.api import resources as r
from kybernetes.apiserver import server as apiserver
from kybernetes.apiserver.authz.rbac import bootstrap_policy
from kybernetes.apiserver.bootstrap import SYSTEM_NAMESPACES
from kybernetes.apiserver.range_allocation import _decode
from kybernetes.apiserver.service_allocation import SERVICE_IPS_KEY
from kybernetes.client import ApiClient
from kybernetes.storage import open_store
from tests.support.apiserver import ApiServer, connected
from tests.support.etcd import Etcd, EtcdCluster, etcd_available
from tests.support.net import free_port
from tests.support.poll import eventually

pytestmark = [pytest.mark.etcd,
              pytest.mark.skipif(not etcd_available(), reason="etcd is not installed")]

SERVERS = 3


class Servers:
    def __init__(self, etcd: EtcdCluster, servers: list[ApiServer]) -> None:
        self.etcd, self.servers = etcd, servers


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Servers]:
    """A fresh 3-member etcd and three API servers started on it at the same moment."""
    base = tmp_path_factory.mktemp("several")
    etcd = EtcdCluster(base / "etcd", 3).start()
    apiservers = [ApiServer(base / f"server{i}", store=etcd.url) for i in range(SERVERS)]
    try:
        with ThreadPoolExecutor(SERVERS) as pool:
            started = [pool.submit(s.start, 90.0) for s in apiservers]
            errors = [f.exception() for f in started]
        assert errors == [None] * SERVERS, errors
        yield Servers(etcd, apiservers)
    finally:
        for server in apiservers:
            server.stop()
        etcd.stop()


async def test_servers_started_at_once_bootstrap_one_set_of_objects(servers: Servers
                                                                    ) -> None:
    for server in servers.servers:
        assert server.proc is not None and server.proc.alive()
        assert "Traceback" not in server.proc.log_tail(400)
    async with connected(servers.servers[0]) as client:
        namespaces = {n["metadata"]["name"] for n in (await client.list(r.NAMESPACES))["items"]}
        assert set(SYSTEM_NAMESPACES) <= namespaces
        service = await client.get(r.SERVICES, "kubernetes", namespace="default")
        assert service["spec"]["clusterIP"] == "10.96.0.1"
        roles = {x["metadata"]["name"] for x in (await client.list(r.CLUSTER_ROLES))["items"]}
        assert {x["metadata"]["name"] for x in bootstrap_policy.cluster_roles()} <= roles
    store = open_store(servers.etcd.url)
    await store.start()
    try:  # the allocator's bitmap holds exactly the `kubernetes` Service's address
        _, kv = await store.get(SERVICE_IPS_KEY)
        assert _decode(kv, "10.96.0.0/12") == 1
    finally:
        await store.aclose()


async def test_bootstraps_interleaved_in_one_process_all_succeed(tmp_path: Path) -> None:
    """Three servers' start-ups interleaved at every store round trip (one event loop)
    on a fresh etcd: the creates that lose (AlreadyExists, the `kubernetes` Service's
    taken ClusterIP) read back instead of failing the start."""
    etcd = Etcd(tmp_path / "etcd").start()
    apiservers = [apiserver.ApiServer(apiserver.Config(
        data_dir=tmp_path / f"s{i}", store_url=etcd.url, bind_address="127.0.0.1",
        port=free_port(), compaction_interval=0)) for i in range(SERVERS)]
    try:
        results = await asyncio.gather(*(s.start() for s in apiservers),
                                       return_exceptions=True)
        assert results == [None] * SERVERS
        service = apiservers[0].registry.kinds.of(r.SERVICES)
        got = await apiservers[1].registry.get(service, "default", "kubernetes")
        assert got["spec"]["clusterIP"] == "10.96.0.1"
        _, kv = await apiservers[2].store.get(SERVICE_IPS_KEY)
        assert _decode(kv, "10.96.0.0/12") == 1
    finally:
        for s in apiservers:
            await s.aclose()
        etcd.stop()


async def test_writes_go_on_while_an_etcd_member_is_stopped(servers: Servers) -> None:
    """SIGSTOP the member every server talks to first: writes through an API server
    pause a few seconds, not for the stall, and the others' caches follow."""
    member = servers.etcd.members[0]
    writer, reader = servers.servers[0], servers.servers[1]
    async with connected(writer) as client, connected(reader) as other:
        await client.create(r.CONFIGMAPS, _configmap("before"), namespace="default")
        member.pause()
        try:
            written, gap = await _write_once_after(client, "during", within=30)
        finally:
            member.resume()
        assert gap < 12, f"no write for {gap:.1f}s while one etcd member was stopped"

        async def seen() -> bool:
            try:
                await other.get(r.CONFIGMAPS, written, namespace="default")
            except Exception:
                return False
            return True
        await eventually(seen, within=20, what="the other API server to read the write")


async def test_services_created_through_every_server_get_distinct_addresses(
        servers: Servers) -> None:
    """Each server has its own allocator cache; compare-and-swap on the one bitmap
    keeps their picks apart (ClusterIPs and NodePorts)."""
    async with connected(servers.servers[0]) as one, connected(servers.servers[1]) as two:
        made = await asyncio.gather(*(
            client.create(r.SERVICES, {
                "apiVersion": "v1", "kind": "Service",
                "metadata": {"name": f"spread-{i}", "namespace": "default"},
                "spec": {"type": "NodePort", "ports": [{"port": 80}]}}, namespace="default")
            for i, client in enumerate([one, two] * 8)))
        ips = [m["spec"]["clusterIP"] for m in made]
        ports = [m["spec"]["ports"][0]["nodePort"] for m in made]
        assert len(set(ips)) == len(ips) and len(set(ports)) == len(ports), (ips, ports)
        await asyncio.gather(*(one.delete(r.SERVICES, m["metadata"]["name"],
                                          namespace="default") for m in made))


async def test_a_list_paged_on_one_server_continues_on_another(servers: Servers) -> None:
    """The first server keeps its page's snapshot in memory; the second has none and
    reads the rest from etcd at the token's revision: the same list either way."""
    async with connected(servers.servers[0]) as one, connected(servers.servers[2]) as other:
        ns = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "paged"}}
        await one.create(r.NAMESPACES, ns)
        for i in range(5):
            await one.create(r.CONFIGMAPS, {**_configmap(f"c{i}"),
                                            "metadata": {"name": f"c{i}"}}, namespace="paged")
        first = await one.list(r.CONFIGMAPS, namespace="paged", limit=2)
        await one.delete(r.CONFIGMAPS, "c2", namespace="paged")
        token = first["metadata"]["continue"]
        here = await one.list(r.CONFIGMAPS, namespace="paged", limit=10, continue_=token)
        there = await other.list(r.CONFIGMAPS, namespace="paged", limit=10, continue_=token)
        names = [[i["metadata"]["name"] for i in page["items"]] for page in (here, there)]
        assert names == [["c2", "c3", "c4"]] * 2


async def test_the_kubernetes_endpoints_list_every_live_server(servers: Servers) -> None:
    """One lease per API server: all are listed; a killed one drops out once its
    lease runs out (15 s, noticed at the others' next 10 s pass), one that stops
    cleanly at once."""
    ports = sorted(s.port for s in servers.servers)
    async with connected(servers.servers[0]) as client:
        async def listed() -> list[int]:
            ep = await client.get(r.ENDPOINTS, "kubernetes", namespace="default")
            return sorted(p["port"] for s in ep.get("subsets") or () for p in s["ports"])

        async def listing(wanted: list[int]) -> list[int] | None:
            return wanted if await listed() == wanted else None

        await eventually(lambda: listing(ports), within=30,
                         what=f"the kubernetes Endpoints to list ports {ports}")
        eps = await client.get(r.ENDPOINT_SLICES, "kubernetes", namespace="default")
        assert eps["endpoints"][0]["addresses"] == ["127.0.0.1"]
        dead = servers.servers[-1]
        dead.kill()
        alive = sorted(s.port for s in servers.servers[:-1])
        await eventually(lambda: listing(alive), within=45, interval=0.5,
                         what=f"the killed server's port {dead.port} to drop out")
        stopped = servers.servers[1]
        stopped.stop()  # a clean stop takes its lease out at once
        await eventually(lambda: listing([servers.servers[0].port]), within=8,
                         what=f"the stopped server's port {stopped.port} to drop out")


def _configmap(name: str) -> dict[str, object]:
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": "default"}, "data": {"k": name}}


async def _write_once_after(client: ApiClient, prefix: str, *, within: float
                            ) -> tuple[str, float]:
    """Create ConfigMaps (a new name per try) until one is acknowledged; returns its
    name and the seconds it took."""
    started = time.monotonic()
    attempt = 0
    while time.monotonic() - started < within:
        attempt += 1
        name = f"{prefix}-{attempt}"
        try:
            await client.create(r.CONFIGMAPS, _configmap(name), namespace="default")
            return name, time.monotonic() - started
        except Exception:
            await asyncio.sleep(0.2)
    raise AssertionError(f"no write acknowledged within {within}s")

