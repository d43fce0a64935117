"""The REST client, watch streams, informers, leader election and events, for real."""

from __future__ import annotations

import asyncio
import itertools
import signal
import subprocess
from pathlib import Path
from typing import Any

import pytest

from kybernetes.api import errors
from kybernetes.api.resources import CONFIGMAPS, EVENTS, LEASES, PODS
from kybernetes.client import (
    ApiClient,
    EventRecorder,
    Informer,
    LeaderElector,
    load_kubeconfig,
    write_kubeconfig,
)
from tests.support.apiserver import ApiServer
from tests.support.net import free_port

_ids = itertools.count()


def cm(name: str, **data: str) -> dict:
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": "default"}, "data": data}


async def test_errors_come_back_as_the_same_api_errors(client: ApiClient) -> None:
    with pytest.raises(errors.NotFound, match='configmaps "missing" not found'):
        await client.get(CONFIGMAPS, "missing", namespace="default")
    created = await client.create(CONFIGMAPS, cm(f"e{next(_ids)}", a="1"))
    with pytest.raises(errors.AlreadyExists):
        await client.create(CONFIGMAPS, created)
    stale = dict(created, metadata=dict(created["metadata"]))
    created["data"] = {"a": "2"}
    await client.update(CONFIGMAPS, created)
    stale["data"] = {"a": "3"}
    with pytest.raises(errors.Conflict):
        await client.update(CONFIGMAPS, stale)
    with pytest.raises(errors.Invalid) as e:
        await client.create(CONFIGMAPS, cm("Not_Valid"))
    assert e.value.details["causes"][0]["field"] == "metadata.name"


async def test_unreachable_server_is_service_unavailable() -> None:
    api = ApiClient(f"https://127.0.0.1:{free_port()}", ssl=False)
    try:
        with pytest.raises(errors.ServiceUnavailable, match="cannot reach the API server"):
            await api.list(PODS)
    finally:
        await api.aclose()


async def test_watch_streams_changes_from_a_resource_version(client: ApiClient) -> None:
    name = f"w{next(_ids)}"
    start = (await client.list(CONFIGMAPS, namespace="default"))["metadata"]["resourceVersion"]
    await client.create(CONFIGMAPS, cm(name, a="1"))
    await client.patch(CONFIGMAPS, name, {"data": {"a": "2"}}, namespace="default")
    await client.delete(CONFIGMAPS, name, namespace="default")
    seen = []
    async with client.watch(CONFIGMAPS, namespace="default", resource_version=start,
                            field_selector=f"metadata.name={name}") as watch:
        async for event in watch:
            seen.append((event.type, event.object.get("data")))
            if len(seen) == 3:
                break
    assert seen == [("ADDED", {"a": "1"}), ("MODIFIED", {"a": "2"}), ("DELETED", {"a": "2"})]


async def test_watch_ends_when_the_server_times_it_out(client: ApiClient) -> None:
    rv = (await client.list(CONFIGMAPS, namespace="default"))["metadata"]["resourceVersion"]
    events = []
    async with asyncio.timeout(10):
        async for event in client.watch(CONFIGMAPS, namespace="default", resource_version=rv,
                                        timeout_seconds=1, allow_bookmarks=False):
            events.append(event)
    assert events == []


async def test_paging_with_continue(client: ApiClient) -> None:
    label = f"page{next(_ids)}"
    for i in range(7):
        body = cm(f"{label}-{i}")
        body["metadata"]["labels"] = {"set": label}
        await client.create(CONFIGMAPS, body)
    everything = await client.list_all(CONFIGMAPS, namespace="default",
                                       label_selector=f"set={label}", page_size=3)
    assert sorted(i["metadata"]["name"] for i in everything["items"]) == [
        f"{label}-{i}" for i in range(7)]


async def test_informer_keeps_a_current_indexed_cache(client: ApiClient) -> None:
    label = f"inf{next(_ids)}"
    informer = Informer(client, CONFIGMAPS, namespace="default", label_selector=f"set={label}")
    informer.add_index("color", lambda o: [(o.get("data") or {}).get("color", "")])
    log: list[tuple[str, str]] = []
    informer.add_handler(on_add=lambda o: log.append(("add", o["metadata"]["name"])),
                         on_update=lambda a, b: log.append(("update", b["metadata"]["name"])),
                         on_delete=lambda o: log.append(("delete", o["metadata"]["name"])))
    first = cm(f"{label}-a", color="red")
    first["metadata"]["labels"] = {"set": label}
    await client.create(CONFIGMAPS, first)
    await informer.start()
    try:
        async with asyncio.timeout(10):
            await informer.wait_synced()
        got = informer.get(f"default/{label}-a")
        assert got is not None
        assert got["data"] == {"color": "red"}
        second = cm(f"{label}-b", color="red")
        second["metadata"]["labels"] = {"set": label}
        await client.create(CONFIGMAPS, second)
        await client.patch(CONFIGMAPS, f"{label}-a", {"data": {"color": "blue"}},
                           namespace="default")
        await client.delete(CONFIGMAPS, f"{label}-b", namespace="default")
        async with asyncio.timeout(5):
            while len(log) < 4:  # noqa: ASYNC110 - polling a plain list
                await asyncio.sleep(0.02)
        assert log == [("add", f"{label}-a"), ("add", f"{label}-b"),
                       ("update", f"{label}-a"), ("delete", f"{label}-b")]
        assert [o["metadata"]["name"] for o in informer.by_index("color", "blue")] == [
            f"{label}-a"]
        assert informer.by_index("color", "red") == []
    finally:
        await informer.aclose()


async def test_leader_election_hands_over(client: ApiClient) -> None:
    name = f"lease{next(_ids)}"
    kwargs: dict[str, Any] = {"name": name, "lease_duration": 2, "renew_deadline": 1.5,
                              "retry_period": 0.1}
    a = LeaderElector(client, identity="a", **kwargs)
    b = LeaderElector(client, identity="b", **kwargs)
    a_leads, release_a = asyncio.Event(), asyncio.Event()
    b_leads = asyncio.Event()

    async def work_a() -> str:
        a_leads.set()
        await release_a.wait()
        return "a done"

    async def work_b() -> None:
        b_leads.set()
        await asyncio.Event().wait()

    task_a = asyncio.create_task(a.run(work_a))
    await asyncio.wait_for(a_leads.wait(), 5)
    task_b = asyncio.create_task(b.run(work_b))
    await asyncio.sleep(0.5)
    assert not b_leads.is_set()
    lease = await client.get(LEASES, name, namespace="kube-system")
    assert lease["spec"]["holderIdentity"] == "a"
    assert lease["spec"]["leaseDurationSeconds"] == 2
    assert lease["spec"]["acquireTime"].endswith("Z")
    release_a.set()
    assert await task_a == "a done"  # released on return: b need not wait 2 s
    await asyncio.wait_for(b_leads.wait(), 1.5)
    lease = await client.get(LEASES, name, namespace="kube-system")
    assert lease["spec"]["holderIdentity"] == "b"
    assert lease["spec"]["leaseTransitions"] == 1
    task_b.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task_b


async def test_a_leader_whose_renewals_hang_stops_before_its_lease_expires(
        apiserver: ApiServer) -> None:
    """A stopped API server answers nothing: the renewal in flight must not keep the
    leader leading past its renew deadline, into the time another candidate (on a
    live API server) may take the expired lease. client-go bounds each renewal by
    RenewDeadline the same way."""
    from kybernetes.client.leader import LeadershipLost
    from tests.support.apiserver import connected

    async with connected(apiserver) as api:
        elector = LeaderElector(api, identity="a", name="hang", lease_duration=4,
                                renew_deadline=2, retry_period=0.5)
        leads = asyncio.Event()

        async def work() -> None:
            leads.set()
            await asyncio.Event().wait()

        task = asyncio.create_task(elector.run(work))
        await asyncio.wait_for(leads.wait(), 10)
        assert apiserver.proc is not None
        apiserver.proc.signal(signal.SIGSTOP)
        try:
            stopped = asyncio.get_running_loop().time()
            with pytest.raises(LeadershipLost):
                await asyncio.wait_for(task, 10)
            # within the renew deadline (plus a retry period), well before the lease's 4 s
            assert asyncio.get_running_loop().time() - stopped < 3.2
        finally:
            apiserver.proc.signal(signal.SIGCONT)


async def test_repeated_events_are_aggregated(client: ApiClient,
                                              shared_apiserver: ApiServer) -> None:
    name = f"ev{next(_ids)}"
    pod = await client.create(PODS, {"apiVersion": "v1", "kind": "Pod",
                                     "metadata": {"name": name, "namespace": "default"},
                                     "spec": {"containers": [{"name": "c", "image": "x"}]}})
    pod.setdefault("kind", "Pod")
    pod.setdefault("apiVersion", "v1")
    recorder = EventRecorder(client, "test-controller")
    for _ in range(3):
        recorder.event(pod, "Warning", "Stuck", "it is stuck")
    recorder.event(pod, "Normal", "Moved", "it moved")
    async with asyncio.timeout(5):
        await recorder.flush()
    await recorder.aclose()
    events = [e for e in (await client.list(EVENTS, namespace="default"))["items"]
              if e["involvedObject"]["name"] == name]
    by_reason = {e["reason"]: e for e in events}
    assert set(by_reason) == {"Stuck", "Moved"}
    stuck = by_reason["Stuck"]
    assert stuck["count"] == 3 and stuck["type"] == "Warning"
    assert stuck["source"] == {"component": "test-controller"}
    assert stuck["involvedObject"]["uid"] == pod["metadata"]["uid"]
    assert stuck["metadata"]["name"].startswith(f"{name}.")
    out = subprocess.run(["/usr/lib/google-cloud-sdk/bin/kubectl", "--kubeconfig",
                          str(shared_apiserver.kubeconfig), "describe", "pod", name],
                         capture_output=True, text=True, timeout=30)
    assert "Stuck" in out.stdout and "(x3 over" in out.stdout, out.stdout + out.stderr


async def test_bearer_token_and_ca_file_from_a_written_kubeconfig(tmp_path: Path) -> None:
    tokens = tmp_path / "tokens.csv"
    tokens.write_text('s3cret,alice,1001,"system:masters"\n')
    server = ApiServer(tmp_path / "api", extra_args=("--token-auth-file", str(tokens))).start()
    try:
        admin = load_kubeconfig(server.kubeconfig)
        ca_file = tmp_path / "ca.crt"
        ca_file.write_bytes(admin.ca_pem or b"")
        config = tmp_path / "alice.kubeconfig"
        write_kubeconfig(config, server=admin.server, ca_pem=None, token="s3cret",
                         user="alice")
        # Point the cluster at the CA *file*, as hand-written kubeconfigs often do.
        text = config.read_text().replace(
            "server: ", f"certificate-authority: {ca_file}\n    server: ", 1)
        config.write_text(text)
        alice = ApiClient.from_kubeconfig(config)
        try:
            listing = await alice.list(PODS, namespace="default")
            assert listing["kind"] == "PodList"
        finally:
            await alice.aclose()
        stranger = ApiClient(admin.server, ssl=load_kubeconfig(config).ssl_context(),
                             token="wrong")
        try:
            with pytest.raises(errors.Unauthorized):
                await stranger.list(PODS, namespace="default")
        finally:
            await stranger.aclose()
    finally:
        server.stop()
