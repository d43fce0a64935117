"""What the docker and containerd runtimes share about their containers: the labels
the kubelet puts on every sandbox and container (so a restarted kubelet finds its own,
and the CRI's names for the pod), ids without their `docker://` / `containerd://`
prefix, and the cgroups of running containers (read once from their main process, for
usage)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kybernetes.api.defaults import image_pull_policy
from kybernetes.kubelet.usage import Usage, cgroup_usage, proc_cgroups

L_NODE, L_KIND, L_UID = "io.kyb.node", "io.kyb.kind", "io.kubernetes.pod.uid"
L_NAME, L_NS = "io.kubernetes.pod.name", "io.kubernetes.pod.namespace"
L_CONTAINER, L_ATTEMPT = "io.kubernetes.container.name", "io.kubernetes.container.restartCount"


def pod_labels(node_tag: str, pod: dict[str, Any], kind: str) -> dict[str, str]:
    """The labels of a pod's sandbox (`kind` "sandbox") or container ("container")."""
    meta = pod["metadata"]
    return {L_NODE: node_tag, L_KIND: kind, L_UID: meta["uid"], L_NAME: meta["name"],
            L_NS: meta.get("namespace", "default")}


def pull_policy(spec: dict[str, Any]) -> str:
    """The container's imagePullPolicy, or the API server's default for its image (a pod
    written before defaulting, or by a test, may lack it)."""
    return str(spec.get("imagePullPolicy") or image_pull_policy(spec.get("image", "")))


def raw_id(container_id: str) -> str:
    """The runtime's own id of `runtime://id`."""
    return container_id.split("://", 1)[-1]


class ContainerCgroups:
    """Running containers' cgroups by raw id, learnt from their main process."""

    def __init__(self) -> None:
        self._groups: dict[str, dict[str, str]] = {}

    def __contains__(self, cid: str) -> bool:
        return cid in self._groups

    def note(self, cid: str, running: bool, pid: int) -> None:
        """Remember a running container's groups (read once, when its pid is known);
        forget a stopped one's."""
        if not running:
            self._groups.pop(cid, None)
            return
        if cid in self._groups or not pid:
            return
        try:
            self._groups[cid] = proc_cgroups(Path(f"/proc/{pid}/cgroup").read_text())
        except (OSError, ValueError):
            pass

    def forget(self, cid: str) -> None:
        self._groups.pop(cid, None)

    def usage(self, container_ids: list[str]) -> dict[str, Usage]:
        """Running containers' usage (none for one whose groups are unknown or gone)."""
        out: dict[str, Usage] = {}
        for container_id in container_ids:
            groups = self._groups.get(raw_id(container_id))
            found = cgroup_usage(groups) if groups else None
            if found is not None:
                out[container_id] = found
        return out
