"""What `kyb status -o json` reports: every component with its host, pid, readiness
and leadership, and the etcd members with their health and the leader.

Readiness: an API server answers ``/readyz`` with 200, an etcd member ``/health``,
the image registry ``/v2/``;
a kubelet's Node is Ready; anything else is ready while its process runs. A
scheduler or controller-manager leads when the leader-election Lease in
kube-system names it (the holder identity carries its pid) and has not expired;
an etcd member leads when the members say so. ``leader`` is null for kinds that
elect none.
"""

from __future__ import annotations

import asyncio
import datetime as _dt
import os
from dataclasses import dataclass, field
from typing import Any

from kybernetes.api import resources
from kybernetes.api.errors import ApiError
from kybernetes.api.meta import parse_time
from kybernetes.apiserver import pki
from kybernetes.cli import readiness
from kybernetes.cli.cluster_dir import ClusterDir
from kybernetes.cli.control_plane import apiservers_ready
from kybernetes.cli.registry import answers as registry_answers
from kybernetes.cli.servers import etcd_client_tls, members_status

# the Lease each leader-electing kind holds (kube's default names)
LEASES = {"scheduler": "kube-scheduler", "controller-manager": "kube-controller-manager"}


def _alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def lease_holder_pid(lease: dict[str, Any], now: _dt.datetime) -> int | None:
    """The pid in a live Lease's holder identity (``host_pid_…``), else None."""
    spec = lease.get("spec") or {}
    holder = spec.get("holderIdentity") or ""
    renewed = parse_time(spec.get("renewTime"))
    duration = spec.get("leaseDurationSeconds") or 0
    if not holder or renewed is None or renewed + _dt.timedelta(seconds=duration) < now:
        return None
    parts = holder.split("_")
    return int(parts[1]) if len(parts) > 2 and parts[1].isdigit() else None


@dataclass
class ApiView:
    """What the API says: the leader pid per kind that has a Lease (0: no live
    holder), and each Node's readiness."""
    leaders: dict[str, int] = field(default_factory=dict)
    nodes: dict[str, bool] = field(default_factory=dict)


async def _api_view(cdir: ClusterDir) -> ApiView | None:
    """None when the API does not answer."""
    now = _dt.datetime.now(_dt.UTC)
    view = ApiView()
    try:
        async with readiness.admin_client(cdir) as client:
            for kind, name in LEASES.items():
                try:
                    lease = await client.get(resources.LEASES, name, namespace="kube-system")
                except ApiError as e:
                    if e.code != 404:
                        raise
                    continue  # nobody elects: started without --leader-elect
                view.leaders[kind] = lease_holder_pid(lease, now) or 0
            view.nodes = {n["metadata"]["name"]: readiness.node_ready(n)
                          for n in (await client.list(resources.NODES)).get("items", [])}
    except (ApiError, OSError, TimeoutError):
        return None
    return view


async def gather(cdir: ClusterDir, status: dict[str, Any]) -> dict[str, Any]:
    """The `kyb status -o json` document for the run described by `status`."""
    components = status.get("components", [])
    etcd_urls = {m["name"]: m["url"] for m in status.get("etcd", [])}
    members = (await members_status(etcd_urls, etcd_client_tls(cdir.root))
               if etcd_urls else [])
    api_urls = {c["name"]: c["url"] for c in components
                if c.get("kind") == "apiserver" and c.get("url")}
    api_ready = await apiservers_ready(api_urls, pki.pki_dir(cdir.root) / "ca.crt")
    view = await _api_view(cdir)
    by_url = {m["url"]: m for m in members}
    out = []
    for c in components:
        kind, pid = c.get("kind") or c["name"], c.get("pid")
        running = c.get("state") == "running" and _alive(pid)
        ready: bool = running
        leader: bool | None = None
        if kind == "apiserver" and c["name"] in api_ready:
            ready = running and api_ready[c["name"]]
        elif kind == "etcd" and c.get("url") in by_url:
            member = by_url[c["url"]]
            ready, leader = running and member["healthy"], member["leader"]
        elif kind == "registry" and status.get("registry"):
            ready = running and await asyncio.to_thread(registry_answers,
                                                        status["registry"]["url"]) is None
        elif kind == "kubelet" and view is not None:
            ready = running and view.nodes.get(c.get("host") or "", False)
        if view is not None and kind in view.leaders:
            leader = running and view.leaders[kind] == pid
        out.append({"name": c["name"], "kind": kind, "host": c.get("host") or "host",
                    "pid": pid, "ready": ready, "leader": leader, "url": c.get("url") or ""})
    return {"components": out,
            "etcd": {"members": [{"name": m["name"], "leader": m["leader"],
                                  "healthy": m["healthy"], "url": m["url"]}
                                 for m in members]}}

