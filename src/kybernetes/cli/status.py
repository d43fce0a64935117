"""`kyb status`: components, nodes and pod counts of a `kyb up` cluster at a glance;
``-o json``: every component's host, pid, readiness and leadership and the etcd
members (see :mod:`kybernetes.cli.component_status`)."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import Any

from kybernetes.api.errors import ApiError
from kybernetes.cli import cluster_dir, component_status, readiness

HELP = "show the components, nodes and pods of the cluster in a data directory"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-dir", help="the cluster's data directory (default ~/.kyb)")
    parser.add_argument("-o", "--output", choices=("text", "json"), default="text",
                        help="json: components (host, pid, ready, leader, url) and etcd "
                        "members (healthy, leader)")


def run(args: argparse.Namespace) -> int:
    cdir = cluster_dir.resolve(args.data_dir)
    status = cdir.read_status()
    if cdir.supervisor_pid() is None or status is None:
        print(f"no cluster is running from {cdir.root} (start one with `kyb up`)",
              file=sys.stderr if args.output == "json" else sys.stdout)
        return 1
    if args.output == "json":
        print(json.dumps(asyncio.run(component_status.gather(cdir, status)), indent=2))
        return 0
    print(f"cluster {cdir.root}: {status.get('phase')} · runtime {status.get('runtime')} · "
          f"API {status.get('server')}")
    if status.get("registry"):
        print(f"image registry: {status['registry']['name']} (nodes pull from "
              f"{status['registry']['nodeUrl']})")
    components = status.get("components", [])
    width = max([28, *(len(c["name"]) + 1 for c in components)])  # server hosts' names
    print(f"{'COMPONENT':{width}} {'STATE':11} {'PID':>8} {'RESTARTS':>8}")
    for c in components:
        print(f"{c['name']:{width}} {c['state']:11} {c['pid'] or '-':>8} "
              f"{c['restarts']:>8}")
    try:
        summary = asyncio.run(_summary(cdir))
    except (ApiError, OSError, TimeoutError) as e:
        print(f"API unreachable: {e}")
        return 1
    print(f"{'NODE':28} STATUS")
    for node in summary["nodes"]:
        print(f"{node['name']:28} {'Ready' if node['ready'] else 'NotReady'}")
    pods = ", ".join(f"{v} {k}" for k, v in sorted(summary["pods"].items())) or "none"
    print(f"pods: {pods}")
    return 0


async def _summary(cdir: cluster_dir.ClusterDir) -> dict[str, Any]:
    async with readiness.admin_client(cdir) as client:
        return await readiness.cluster_summary(client)
