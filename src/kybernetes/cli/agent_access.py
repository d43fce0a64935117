"""The API access of a per-node agent `kyb up` starts (pod-network, network-policy):
a ServiceAccount-named user and a ClusterRole bound to it, as applying the
upstream project's manifest (flannel's, kube-router's) would make them; `groups`
are bound too (the pod-network agent of a machine that joined runs as its node)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kybernetes.api import errors, resources
from kybernetes.cli.identities import Identity
from kybernetes.client import ApiClient

Obj = dict[str, Any]


@dataclass(frozen=True)
class AgentAccess:
    name: str
    rules: tuple[Obj, ...]
    namespace: str = "kube-system"
    groups: tuple[str, ...] = ()

    @property
    def identity(self) -> Identity:
        return Identity(f"system:serviceaccount:{self.namespace}:{self.name}",
                        ("system:serviceaccounts", f"system:serviceaccounts:{self.namespace}"))

    def cluster_role(self) -> Obj:
        return {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
                "metadata": {"name": self.name}, "rules": [dict(r) for r in self.rules]}

    def cluster_role_binding(self) -> Obj:
        return {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
                "metadata": {"name": self.name},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                            "name": self.name},
                "subjects": [{"kind": "ServiceAccount", "name": self.name,
                              "namespace": self.namespace},
                             *({"kind": "Group", "apiGroup": "rbac.authorization.k8s.io",
                                "name": g} for g in self.groups)]}

    async def ensure(self, client: ApiClient) -> None:
        """Create (or correct) the ClusterRole and its binding; raises ApiError for the
        caller to retry."""
        for resource, wanted in ((resources.CLUSTER_ROLES, self.cluster_role()),
                                 (resources.CLUSTER_ROLE_BINDINGS, self.cluster_role_binding())):
            try:
                await client.create(resource, wanted)
            except errors.AlreadyExists:
                current = await client.get(resource, self.name)
                key = "rules" if "rules" in wanted else "subjects"
                if current.get(key) != wanted[key]:
                    wanted["metadata"]["resourceVersion"] = \
                        current["metadata"]["resourceVersion"]
                    await client.update(resource, wanted)
