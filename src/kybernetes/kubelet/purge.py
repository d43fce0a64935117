"""Remove everything a process-runtime kubelet made, even after it crashed.

For tests and for `kyb down`-style cleanup: kill the container processes (and
pods' PID namespace holders) its state files name (checking the PID's start
time, so a reused PID is never hit), delete its pod network namespaces, veths
and bridge, its iptables rules, its cgroups and its Docker containers (by
label). Synchronous on purpose: it runs in fixture teardown.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
from pathlib import Path

from kybernetes.kubelet.cgroups import Cgroups
from kybernetes.kubelet.network import NETNS_DIR, node_tag


def _start_time(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return ""


def purge(root_dir: Path, node_name: str) -> list[str]:
    """Clean up after the kubelet of `node_name` on `root_dir`; what was removed."""
    root_dir = Path(root_dir).resolve()
    tag = node_tag(node_name, root_dir)
    removed = []
    for path in (root_dir / "runtime" / "containers").glob("*.json"):
        with contextlib.suppress(OSError, ValueError, KeyError):
            record = json.loads(path.read_text())
            pid = int(record["pid"])
            if record["info"]["state"] == "running" and _start_time(pid) == record["pid_start"]:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(pid, signal.SIGKILL)
                removed.append(f"process {pid}")
    for path in (root_dir / "runtime" / "sandboxes").glob("*.json"):  # PID namespace holders
        with contextlib.suppress(OSError, ValueError, KeyError):
            record = json.loads(path.read_text())
            pid = int(record.get("pid_holder") or 0)
            if pid and _start_time(pid) == record.get("pid_holder_start"):
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(pid, signal.SIGKILL)
                removed.append(f"PID namespace holder {pid}")
    with contextlib.suppress(OSError):
        for ns in NETNS_DIR.iterdir():
            if ns.name.startswith(f"kyb-{tag}-"):
                subprocess.run(["ip", "netns", "del", ns.name], capture_output=True, check=False)
                removed.append(f"netns {ns.name}")
    bridge = f"kyb{tag}"
    if subprocess.run(["ip", "link", "del", bridge], capture_output=True).returncode == 0:
        removed.append(f"bridge {bridge}")
    for table, chain in (("nat", "POSTROUTING"), ("filter", "FORWARD")):
        rules = subprocess.run(["iptables", "-w", "5", "-t", table, "-S", chain],
                               capture_output=True, text=True, check=False).stdout
        for line in rules.splitlines():
            if f'"kyb {tag}"' in line:
                args = _rejoin(line.replace("-A ", "-D ", 1).split())
                subprocess.run(["iptables", "-w", "5", "-t", table,
                                *[a.strip('"') for a in args]], capture_output=True, check=False)
                removed.append(f"{table} rule")
    Cgroups(tag).remove_all()
    if shutil.which("docker"):
        left = subprocess.run(["docker", "ps", "-aq", "--filter", f"label=io.kyb.node={tag}"],
                              capture_output=True, text=True, check=False).stdout.split()
        if left:
            subprocess.run(["docker", "rm", "-f", *left], capture_output=True, check=False)
            removed += [f"container {c}" for c in left]
    return removed


def _rejoin(args: list[str]) -> list[str]:
    """Undo the split of a quoted comment (`"kyb abc123"`)."""
    out: list[str] = []
    quoted: list[str] | None = None
    for a in args:
        if quoted is not None:
            quoted.append(a)
            if a.endswith('"'):
                out.append(" ".join(quoted))
                quoted = None
        elif a.startswith('"') and not a.endswith('"'):
            quoted = [a]
        else:
            out.append(a)
    return out
