"""Reading a `kyb up --servers N` cluster's state: the `kyb status -o json` document,
who leads each role, and whether the cluster has settled (every member ready, one
leader per role)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

ROLES = ("apiserver", "scheduler", "controller-manager")


def status_doc(data_dir: Path) -> dict[str, Any]:
    """The `kyb status -o json` document, built in-process by the same code (no
    interpreter start per poll: the fault suite polls it often)."""
    from kybernetes.cli import cluster_dir, component_status

    cdir = cluster_dir.resolve(str(data_dir))
    status = cdir.read_status()
    assert status is not None, f"no cluster is running in {data_dir}"
    return asyncio.run(component_status.gather(cdir, status))


def leaders(doc: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [c for c in doc["components"] if c["kind"] == kind and c["leader"]]


def settled_doc(doc: dict[str, Any], servers: int = 3) -> bool:
    """Every role has `servers` ready members, one scheduler and one controller-manager
    lead, and `servers` healthy etcd members elect exactly one leader."""
    for kind in ROLES:
        if [c["ready"] for c in doc["components"] if c["kind"] == kind] != [True] * servers:
            return False
    members = doc["etcd"]["members"]
    if [m["healthy"] for m in members] != [True] * servers:
        return False
    return (len(leaders(doc, "scheduler")) == 1
            and len(leaders(doc, "controller-manager")) == 1
            and sum(m["leader"] for m in members) == 1)
