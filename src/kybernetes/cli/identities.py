"""Who each component `kyb up` starts runs as: its own least-privilege user, never the
admin. A client certificate from the cluster CA names the user (CN) and groups (O),
as kubeadm writes scheduler.conf, controller-manager.conf and kubelet.conf; the
bootstrap RBAC policy grants the control-plane users their roles, and the Node
authorizer grants each kubelet what its own pods need.

The certificates are issued afresh at every `kyb up` (cheap EC keys), so the files
always match the current CA and the server address nodes reach.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass
from pathlib import Path

from kybernetes.apiserver import pki
from kybernetes.cli.cluster_dir import ClusterDir
from kybernetes.client.kubeconfig import write_kubeconfig

NODES_GROUP = "system:nodes"


@dataclass(frozen=True)
class Identity:
    user: str
    groups: tuple[str, ...] = ()


SCHEDULER = Identity("system:kube-scheduler")
CONTROLLER_MANAGER = Identity("system:kube-controller-manager")
PROXY = Identity("system:kube-proxy")


def kubelet(node_name: str) -> Identity:
    """A kubelet is its node: the user the Node authorizer and NodeRestriction know."""
    return Identity(f"system:node:{node_name}", (NODES_GROUP,))


def identities_dir(cdir: ClusterDir) -> Path:
    return cdir.root / "identities"


def component_kubeconfig(cdir: ClusterDir, server: str, component: str,
                         identity: Identity, *, lifetime: _dt.timedelta | None = None) -> Path:
    """`<data dir>/identities/<component>.kubeconfig`: `identity`'s certificate for
    `server` (mode 0600, replaced whole), valid for `lifetime` (default ten years;
    kubelets renew theirs before it ends, see kubelet/client_cert.py)."""
    path = identities_dir(cdir) / f"{component}.kubeconfig"
    if lifetime is None:
        cert, key = pki.issue_client_cert(cdir.root, identity.user, identity.groups)
    else:
        cert, key = pki.issue_client_cert(cdir.root, identity.user, identity.groups,
                                          lifetime=lifetime)
    ca = (pki.pki_dir(cdir.root) / "ca.crt").read_bytes()
    path.unlink(missing_ok=True)  # one user per file, not merged into an old one
    return write_kubeconfig(path, server=server, ca_pem=ca, cert_pem=cert, key_pem=key,
                            user=identity.user)
