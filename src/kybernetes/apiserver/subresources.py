"""Subresources: status, finalize, binding, eviction, scale, and the kubelet proxies.

* ``*/status`` (and a kind's other status subresources: a CSR's ``approval``) and
  ``namespaces/finalize``: GET the object; PUT/PATCH change only status (only
  ``spec.finalizers``) — the strategy enforces it.
* ``pods/binding`` (and POST ``bindings``): sets ``spec.nodeName`` once; a bound
  pod is ``409 Conflict``, as the scheduler expects when it loses a race.
* ``pods/eviction``: a delete with the eviction's DeleteOptions that honours the
  pod's PodDisruptionBudget (:mod:`.eviction`).
* ``serviceaccounts/token``: a TokenRequest (:mod:`.serviceaccount.token_request`).
* ``*/scale``: an ``autoscaling/v1`` Scale view of spec.replicas; PUT/PATCH of
  the Scale update the object's spec.replicas (its resourceVersion is a
  precondition).
* ``pods/log``, ``pods/exec``, ``pods/attach``, ``pods/portforward``: forwarded to the
  pod's kubelet (:mod:`.kubelet_proxy`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from aiohttp import web

from kybernetes.api import resources as r
from kybernetes.api.errors import BadRequest, MethodNotAllowed, NotFound, conflict, invalid
from kybernetes.api.meta import now_rfc3339
from kybernetes.api.patch import apply_patch
from kybernetes.apiserver import codec
from kybernetes.apiserver.bodies import check_object, read_body, read_object
from kybernetes.apiserver.context import WriteContext
from kybernetes.apiserver.eviction import Evictions
from kybernetes.apiserver.kinds.definition import ScaleSpec
from kybernetes.apiserver.registry import MODIFIED, DeleteOptions, Registry
from kybernetes.apiserver.request_info import RequestInfo, dry_run
from kybernetes.apiserver.responses import json_response, object_response, status_success
from kybernetes.apiserver.strategy import SPEC_FIELD_SUBRESOURCES
from kybernetes.apiserver.webhooks.attributes import CREATE, AdmissionAttributes, UserInfo

if TYPE_CHECKING:
    from kybernetes.apiserver.admission_chain import ValidatingPlugin

KUBELET_SUBRESOURCES = ("log", "exec", "attach", "portforward", "proxy")


class KubeletProxy(Protocol):
    async def handle(self, request: web.Request, info: RequestInfo) -> web.StreamResponse: ...


class TokenRequestHandler(Protocol):
    async def create(self, request: web.Request, info: RequestInfo) -> web.StreamResponse: ...


class Patcher(Protocol):
    """The main handlers' PATCH (status patches reuse it)."""

    async def patch(self, request: web.Request, info: RequestInfo) -> web.StreamResponse: ...


ContextFor = Callable[..., WriteContext]


class Subresources:
    def __init__(self, registry: Registry, context_for: ContextFor,
                 kubelet_proxy: KubeletProxy | None = None) -> None:
        self.registry = registry
        self.context_for = context_for  # (request, info) → WriteContext
        self.kubelet_proxy = kubelet_proxy
        self.patcher: Patcher | None = None  # set by the server once handlers exist
        self.token_requests: TokenRequestHandler | None = None  # set by the server
        # Validating admission of an Eviction as sent (kube's NodeRestriction: a kubelet
        # evicts only pods bound to it); the delete itself runs as the server.
        self.eviction_validators: list[ValidatingPlugin] = []
        self.evictions = Evictions(registry)

    async def handle(self, request: web.Request, info: RequestInfo) -> web.StreamResponse:
        sub, method = info.subresource, request.method
        if sub in SPEC_FIELD_SUBRESOURCES or sub in info.kind.strategy.status_subresources:
            return await self.status(request, info)
        if sub == "binding" and method == "POST":
            return await self.bind(request, info, await self._body(request))
        if sub == "eviction" and method == "POST":
            return await self.evict(request, info)
        if sub == "token" and method == "POST" and self.token_requests is not None:
            return await self.token_requests.create(request, info)
        if sub == "scale":
            return await self.scale(request, info)
        if sub in KUBELET_SUBRESOURCES:
            if self.kubelet_proxy is None or info.resource is not r.PODS:
                raise NotFound("the server could not find the requested resource")
            return await self.kubelet_proxy.handle(request, info)
        raise MethodNotAllowed(f"the server does not allow this method on the requested "
                               f"resource ({method})")

    @staticmethod
    async def _body(request: web.Request) -> dict[str, Any]:
        return await read_object(request)

    async def status(self, request: web.Request, info: RequestInfo) -> web.StreamResponse:
        kind, name = info.kind, str(info.name)
        if request.method == "GET":
            return object_response(request, kind,
                                   await self.registry.get(kind, info.namespace, name))
        if request.method == "PATCH" and self.patcher and \
                info.subresource != "finalize":  # PUT only, as kube's
            return await self.patcher.patch(request, info)
        if request.method != "PUT":
            raise MethodNotAllowed(f"the server does not allow this method on the requested "
                                   f"resource ({request.method})")
        obj = await self._body(request)
        check_object(kind.resource, info, obj)
        updated = await self.registry.update(kind, info.namespace, name, obj,
                                             self.context_for(request, info))
        return object_response(request, kind, updated)

    async def bind(self, request: web.Request, info: RequestInfo, body: dict[str, Any]
                   ) -> web.StreamResponse:
        """Assign a pod to a node, once."""
        meta = body.get("metadata") or {}
        target = body.get("target") or {}
        if not isinstance(meta, dict) or not isinstance(target, dict):
            raise BadRequest("a Binding's metadata and target must be objects")
        name = info.name or meta.get("name")
        node = target.get("name")
        if not name or not node:
            raise BadRequest("a Binding needs metadata.name and target.name")
        if target.get("kind", "Node") != "Node":
            raise BadRequest(f'target.kind: Unsupported value: "{target.get("kind")}"')

        def assign(pod: dict[str, Any]) -> dict[str, Any]:
            pod_meta = pod["metadata"]
            if pod_meta.get("deletionTimestamp"):
                raise conflict("pods/binding", name, f"pod {name} is being deleted, cannot be "
                               "assigned to a host")
            current = (pod.get("spec") or {}).get("nodeName")
            if current:
                raise conflict("pods/binding", name,
                               f'pod {name} is already assigned to node "{current}"')
            pod.setdefault("spec", {})["nodeName"] = node
            if meta.get("annotations"):
                pod_meta.setdefault("annotations", {}).update(meta["annotations"])
            _set_condition(pod, "PodScheduled")
            return pod

        ctx = self.context_for(request, info).for_subresource("binding")
        await self.registry.guaranteed_update(self.registry.kinds.of(r.PODS), info.namespace,
                                              name, assign, ctx)
        return json_response(status_success(code=201), status=201)

    async def evict(self, request: web.Request, info: RequestInfo) -> web.StreamResponse:
        body = await self._body(request)
        await self._admit_eviction(request, info, body)
        opts = body.get("deleteOptions") or {}
        options = DeleteOptions(grace_period_seconds=opts.get("gracePeriodSeconds"),
                                preconditions=opts.get("preconditions") or {},
                                dry_run=dry_run(request, opts))
        failure = await self.evictions.evict(str(info.namespace), str(info.name), body,
                                             options, self.context_for(request, info))
        if failure is not None:
            return json_response(failure, status=int(failure["code"]))
        return json_response(status_success(code=201), status=201)

    async def _admit_eviction(self, request: web.Request, info: RequestInfo,
                              body: dict[str, Any]) -> None:
        if not self.eviction_validators:
            return
        user = self.context_for(request, info).user
        attrs = AdmissionAttributes(
            operation=CREATE, group="", version="v1", resource="pods", kind="Eviction",
            user=UserInfo(user.name, user.uid, tuple(user.groups)), subresource="eviction",
            namespace=str(info.namespace or ""), name=str(info.name or ""), object=body,
            kind_group="policy", kind_version="v1")
        for plugin in self.eviction_validators:
            await plugin.validate(attrs)

    async def scale(self, request: web.Request, info: RequestInfo) -> web.StreamResponse:
        kind, name = info.kind, str(info.name)
        resource, spec = kind.resource, kind.scale
        if spec is None:
            raise NotFound("the server could not find the requested resource")
        method = request.method
        if method == "GET":
            obj = await self.registry.get(kind, info.namespace, name)
            return json_response(to_scale(spec, obj))
        if method not in ("PUT", "PATCH"):
            raise MethodNotAllowed(f"the server does not allow this method on the requested "
                                   f"resource ({method})")
        raw = await read_body(request)
        content_type = request.headers.get("Content-Type") or codec.JSON

        def rescale(obj: dict[str, Any]) -> dict[str, Any]:
            scale = to_scale(spec, obj)
            if method == "PUT":
                new_scale = codec.decode_body(raw, content_type)
            else:
                new_scale = apply_patch(scale, raw, content_type, None)
            wanted = str((new_scale.get("metadata") or {}).get("resourceVersion") or "")
            if wanted and wanted != obj["metadata"]["resourceVersion"]:
                raise conflict(resource.plural, name, MODIFIED, resource.group)
            replicas = (new_scale.get("spec") or {}).get("replicas", 0)
            if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 0:
                raise invalid("Scale", name, [("spec.replicas", "FieldValueInvalid",
                                               f"Invalid value: {replicas}: must be greater "
                                               "than or equal to 0")], group="autoscaling")
            set_path(obj, spec.spec_replicas, replicas)
            return obj

        ctx = self.context_for(request, info)
        updated = await self.registry.guaranteed_update(kind, info.namespace, name, rescale,
                                                        ctx)
        return json_response(to_scale(spec, updated))


def get_path(obj: Any, path: tuple[str, ...]) -> Any:
    for key in path:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(key)
    return obj


def set_path(obj: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    for key in path[:-1]:
        child = obj.get(key)
        if not isinstance(child, dict):
            child = obj[key] = {}
        obj = child
    obj[path[-1]] = value


def to_scale(spec: ScaleSpec, obj: dict[str, Any]) -> dict[str, Any]:
    """The autoscaling/v1 Scale of a replicated object."""
    meta = obj.get("metadata") or {}
    replicas = get_path(obj, spec.spec_replicas)
    current = get_path(obj, spec.status_replicas)
    return {
        "kind": "Scale", "apiVersion": "autoscaling/v1",
        "metadata": {k: meta[k] for k in ("name", "namespace", "uid", "resourceVersion",
                                          "creationTimestamp") if k in meta},
        "spec": {"replicas": spec.default_replicas if replicas is None else replicas},
        "status": {"replicas": current or 0, "selector": spec.selector(obj)},
    }


def _set_condition(pod: dict[str, Any], condition_type: str) -> None:
    conditions = pod.setdefault("status", {}).setdefault("conditions", [])
    for c in conditions:
        if c.get("type") == condition_type:
            c["status"] = "True"
            return
    conditions.append({"type": condition_type, "status": "True", "lastProbeTime": None,
                       "lastTransitionTime": now_rfc3339()})
