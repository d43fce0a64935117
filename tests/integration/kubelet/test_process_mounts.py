"""Volumes on the process runtime live in the pod's mount namespace only, as root:
mount paths missing on the host are never created there, even for a moment."""

from __future__ import annotations

import secrets
import shutil
from functools import partial
from pathlib import Path

import pytest

from tests.integration.kubelet.conftest import (
    IS_ROOT,
    condition,
    finished_log,
    make_pod,
    wait_for,
)

pytestmark = [pytest.mark.root,
              pytest.mark.skipif(not IS_ROOT, reason="mount namespaces need root")]
BUSYBOX = shutil.which("busybox") or "/bin/busybox"




def test_missing_mount_paths_stay_off_the_host(module_core, process_node, ns) -> None:
    core, tag = module_core, secrets.token_hex(4)
    data = Path(f"/srv/kyb-mount-test-{tag}/x/y")  # nested under an existing /srv
    cfg = Path(f"/opt/kyb-mount-test-{tag}/cfg")
    top = Path(f"/kyb-mount-test-{tag}")  # its nearest existing ancestor is / itself
    host_paths = [data.parents[1], cfg.parent, top]
    assert not any(p.exists() for p in host_paths)
    core.create_namespaced_config_map(ns, {"metadata": {"name": "cfg"},
                                           "data": {"color": "blue"}})
    script = (f"echo $ME > {data}/who; cat {data}/who; echo $ME > {top}/who; cat {top}/who; "
              f"cat {cfg}/color; echo; touch {cfg}/new 2>/dev/null && echo cfg-rw || echo cfg-ro; "
              f"ls /srv /etc >/dev/null && echo host-visible; echo done; sleep 3600")
    for name in ("a", "b"):
        core.create_namespaced_pod(ns, make_pod(name, [{
            "name": "c", "image": "busybox", "command": [BUSYBOX, "sh", "-c", script],
            "env": [{"name": "ME", "value": f"pod-{name}"}], "workingDir": str(top),
            "readinessProbe": {"exec": {"command": [BUSYBOX, "cat", "who"]},  # runs in top
                               "periodSeconds": 1},
            "volumeMounts": [{"name": "data", "mountPath": str(data)},
                             {"name": "top", "mountPath": str(top)},
                             {"name": "cfg", "mountPath": str(cfg), "readOnly": True}]}],
            volumes=[{"name": "data", "emptyDir": {}}, {"name": "top", "emptyDir": {}},
                     {"name": "cfg", "configMap": {"name": "cfg"}}]))
    for name in ("a", "b"):
        out = wait_for(partial(finished_log, process_node, core, ns, name), timeout=30,
                       what=f"pod {name}'s output").splitlines()
        # each pod sees its own volumes at the same paths
        assert out[:2] == [f"pod-{name}", f"pod-{name}"]
        assert out[2:5] == ["blue", "cfg-ro", "host-visible"]

    def pod_ready(name: str) -> bool:
        return condition(core.read_namespaced_pod(name, ns), "Ready") == "True"
    for name in ("a", "b"):  # exec (the probe) sees the same view, in the same directory
        wait_for(partial(pod_ready, name), timeout=30, what=f"pod {name} Ready")
    assert not any(p.exists() for p in host_paths)  # while the pods run
    assert not any((process_node.root / "runtime" / "newroot").iterdir())
    for name in ("a", "b"):
        core.delete_namespaced_pod(name, ns, grace_period_seconds=0)

    def gone():
        return not core.list_namespaced_pod(ns).items
    wait_for(gone, timeout=30, what="the pods gone")
    assert not any(p.exists() for p in host_paths)


def test_service_account_token_path_is_not_made_on_the_host(module_core, process_node, ns) -> None:
    """Every pod mounts /var/run/secrets/kubernetes.io/serviceaccount; the host gets none
    of it (a host that had the directory already keeps it as it was)."""
    core = module_core
    sa_dir = Path("/var/run/secrets/kubernetes.io/serviceaccount")
    before = sa_dir.exists()
    core.create_namespaced_config_map(ns, {"metadata": {"name": "tok"}, "data": {"token": "t"}})
    core.create_namespaced_pod(ns, make_pod("sa", [{
        "name": "c", "image": "busybox",
        "command": [BUSYBOX, "sh", "-c", f"cat {sa_dir}/token; echo; echo done; sleep 3600"],
        "volumeMounts": [{"name": "tok", "mountPath": str(sa_dir), "readOnly": True}]}],
        volumes=[{"name": "tok", "configMap": {"name": "tok"}}]))
    out = wait_for(lambda: finished_log(process_node, core, ns, "sa"), timeout=30,
                   what="the pod's output")
    assert out.splitlines()[0] == "t"
    assert sa_dir.exists() == before
