"""The cluster DNS add-on of `kyb up`: the `kube-dns` Service and where it leads.

As kubeadm installs CoreDNS: Service ``kube-system/kube-dns`` at the 10th address
of the service range (10.96.0.10 by default), ports ``dns`` 53/UDP and
``dns-tcp`` 53/TCP. `kyb dns` is no pod here but a supervised host process
listening on the host end of the node bridge (an address every node namespace
and pod reaches through its default route), so the Service has no selector and
its Endpoints name that address; every node's proxy carries the ClusterIP
there, and kubelets get ``--cluster-dns <ClusterIP>``.

`kyb dns` runs as the ``kube-system/kube-dns`` ServiceAccount's user (a client
certificate naming it), which Kubernetes' bootstrap policy binds to the
``system:kube-dns`` ClusterRole: list and watch of Services and Endpoints only.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from kybernetes.api import errors, resources
from kybernetes.cli.identities import Identity
from kybernetes.client import ApiClient

NAMESPACE, NAME = "kube-system", "kube-dns"
DEFAULT_SERVICE_RANGE = "10.96.0.0/12"
IDENTITY = Identity(f"system:serviceaccount:{NAMESPACE}:{NAME}",
                    ("system:serviceaccounts", f"system:serviceaccounts:{NAMESPACE}"))
PORTS = (("dns", "UDP"), ("dns-tcp", "TCP"))
LABELS = {"k8s-app": "kube-dns", "kubernetes.io/cluster-service": "true",
          "kubernetes.io/name": "CoreDNS"}


def service_range(apiserver_args: list[str]) -> str:
    """The range the API server is given (``--service-cluster-ip-range``), else its
    default."""
    found = DEFAULT_SERVICE_RANGE
    for i, arg in enumerate(apiserver_args):
        if arg.startswith("--service-cluster-ip-range="):
            found = arg.split("=", 1)[1]
        elif arg == "--service-cluster-ip-range" and i + 1 < len(apiserver_args):
            found = apiserver_args[i + 1]
    return found.split(",")[0]


def dns_ip(cidr: str) -> str:
    """The 10th address of the range, as kubeadm picks it."""
    return str(ipaddress.ip_network(cidr, strict=False).network_address + 10)


def service(cluster_ip: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": NAME, "namespace": NAMESPACE, "labels": dict(LABELS)},
            "spec": {"clusterIP": cluster_ip, "clusterIPs": [cluster_ip],
                     "ports": [{"name": n, "port": 53, "protocol": p, "targetPort": 53}
                               for n, p in PORTS]}}


def endpoints(address: str, port: int) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Endpoints",
            "metadata": {"name": NAME, "namespace": NAMESPACE, "labels": dict(LABELS)},
            "subsets": [{"addresses": [{"ip": address}],
                         "ports": [{"name": n, "port": port, "protocol": p}
                                   for n, p in PORTS]}]}


async def ensure(client: ApiClient, *, cluster_ip: str, address: str, port: int) -> None:
    """Create or correct the Service and its Endpoints (a restarted cluster may have
    a new bridge address); raises ApiError for the caller to retry."""
    try:
        current = await client.get(resources.SERVICES, NAME, namespace=NAMESPACE)
    except errors.NotFound:
        await client.create(resources.SERVICES, service(cluster_ip), namespace=NAMESPACE)
    else:
        if (current.get("spec") or {}).get("clusterIP") != cluster_ip:
            await client.delete(resources.SERVICES, NAME, namespace=NAMESPACE)
            await client.create(resources.SERVICES, service(cluster_ip), namespace=NAMESPACE)
    wanted = endpoints(address, port)
    try:
        current = await client.get(resources.ENDPOINTS, NAME, namespace=NAMESPACE)
    except errors.NotFound:
        await client.create(resources.ENDPOINTS, wanted, namespace=NAMESPACE)
        return
    if current.get("subsets") != wanted["subsets"]:
        wanted["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"]
        await client.update(resources.ENDPOINTS, wanted)
