"""What the write path tells admission about one request, and what admission asks of it.

`AdmissionAttributes` mirrors k8s.io/apiserver/pkg/admission.Attributes for the
one version we serve of each resource. The three small protocols are the
module's only window on the rest of the API server, so it can be tested with
real webhook servers and no API server at all.
"""

from __future__ import annotations

from collections.abc import Awaitable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from kybernetes.api.errors import Forbidden

Obj = dict[str, Any]

CREATE, UPDATE, DELETE, CONNECT = "CREATE", "UPDATE", "DELETE", "CONNECT"
MUTATING_CONFIGURATIONS = "mutatingwebhookconfigurations"
VALIDATING_CONFIGURATIONS = "validatingwebhookconfigurations"


@dataclass(frozen=True)
class UserInfo:
    """The authenticated user, as authentication/v1 UserInfo carries it."""

    username: str
    uid: str = ""
    groups: tuple[str, ...] = ()
    extra: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


@dataclass
class AdmissionAttributes:
    """One request as admission sees it.

    `resource` is the plural, `subresource` e.g. "status" or "scale"; `kind` is
    the kind of the body sent (Pod for pods/status, Scale for */scale), whose
    group/version default to the resource's (`kind_group`/`kind_version` set
    them when they differ, e.g. autoscaling/v1 for a Scale). For a Namespace
    object itself `namespace` is the namespace's own name, as in Kubernetes.
    `object` is None on DELETE; `old_object` is None on CREATE. `options` is the
    CreateOptions/UpdateOptions/DeleteOptions body (kind and apiVersion are
    filled in when missing).
    """

    operation: str
    group: str
    version: str
    resource: str
    kind: str
    user: UserInfo
    subresource: str = ""
    namespace: str = ""
    name: str = ""
    object: Obj | None = None
    old_object: Obj | None = None
    options: Obj | None = None
    dry_run: bool = False
    namespaced: bool = True
    kind_group: str | None = None
    kind_version: str | None = None

    @property
    def gvk(self) -> Obj:
        """The metav1.GroupVersionKind of the body, as the AdmissionRequest carries it."""
        group = self.group if self.kind_group is None else self.kind_group
        version = self.version if self.kind_version is None else self.kind_version
        return {"group": group, "version": version, "kind": self.kind}

    @property
    def gvr(self) -> Obj:
        return {"group": self.group, "version": self.version, "resource": self.resource}

    def forbidden(self, message: str) -> Forbidden:
        """An admission plugin's refusal, as admission.NewForbidden words it:
        `<resource> "<name>" is forbidden: <message>`, the name being the request's,
        else the object's name or generateName (names are not generated yet), else
        "Unknown"."""
        resource = f"{self.resource}.{self.group}" if self.group else self.resource
        meta = (self.object or {}).get("metadata") or {}
        name = self.name or str(meta.get("name") or meta.get("generateName") or "Unknown")
        details: dict[str, Any] = {"name": name, "kind": self.resource}
        if self.group:
            details["group"] = self.group
        return Forbidden(f'{resource} "{name}" is forbidden: {message}', details=details)


class ConfigurationSource(Protocol):
    """The current webhook configurations of one resource ("mutatingwebhookconfigurations"
    or "validatingwebhookconfigurations"), e.g. straight from the watch cache."""

    def __call__(self, resource: str) -> Iterable[Obj]: ...


class ServiceResolver(Protocol):
    """Where to connect for a webhook Service port: an endpoint (host, port).

    Raise any exception to fail the call; its text becomes the reason, so word it
    as Kubernetes does (`service "x" not found`)."""

    def __call__(self, namespace: str, name: str, port: int) -> Awaitable[tuple[str, int]]: ...


class NamespaceLabels(Protocol):
    """The labels of namespace `name`, or None when it does not exist."""

    def __call__(self, name: str) -> Mapping[str, str] | None: ...
