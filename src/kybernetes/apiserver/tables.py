"""Server-side Table output for `kubectl get` (`Accept: …;as=Table;v=v1;g=meta.k8s.io`).

One TableSpec per kind (each kind's definition names its own), after kubernetes
pkg/printers/internalversion/printers.go:
the same columns (wide ones have priority 1, so kubectl shows them with
`-o wide` only), the same cell text (pod STATUS as kubectl computes it, ages
as duration.HumanDuration, `<none>` placeholders). The server always prints
the wide cells, as Kubernetes does. Each row carries the object as
PartialObjectMetadata by default (`includeObject=Metadata`), or whole
(`Object`), or not at all (`None`).
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from kybernetes.api.errors import BadRequest
from kybernetes.api.labels import label_selector_string
from kybernetes.api.meta import parse_time
from kybernetes.apiserver.kinds.definition import Column, Printer, TableSpec

Obj = dict[str, Any]

_NAME_DOC = ("Name must be unique within a namespace. Is required when creating resources, "
             "although some resources may allow a client to request the generation of an "
             "appropriate name automatically. Name is primarily intended for creation "
             "idempotence and configuration definition. Cannot be updated.")
AGE_DOC = ("CreationTimestamp is a timestamp representing the server time when this object "
            "was created. It is not guaranteed to be set in happens-before order across "
            "separate operations. Clients may not set this value. It is represented in "
            "RFC3339 form and is in UTC.")


def human_duration(seconds: float) -> str:
    """apimachinery's duration.HumanDuration: `45s`, `3m12s`, `5h4m`, `3d2h`, `2y10d`."""
    s = int(seconds)
    if s < -1:
        return "<invalid>"
    if s < 0:
        return "0s"
    if s < 120:
        return f"{s}s"
    minutes = s // 60
    if minutes < 10:
        return f"{minutes}m" if s % 60 == 0 else f"{minutes}m{s % 60}s"
    if minutes < 180:
        return f"{minutes}m"
    hours = s // 3600
    if hours < 8:
        return f"{hours}h" if minutes % 60 == 0 else f"{hours}h{minutes % 60}m"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        return f"{hours // 24}d" if hours % 24 == 0 else f"{hours // 24}d{hours % 24}h"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        days = (hours // 24) % 365
        return f"{hours // 24 // 365}y" if days == 0 else f"{hours // 24 // 365}y{days}d"
    return f"{hours // 24 // 365}y"


def since(timestamp: str | None, now: _dt.datetime) -> str:
    """translateTimestampSince: `<unknown>` when unset."""
    when = parse_time(timestamp)
    if when is None:
        return "<unknown>"
    return human_duration((now - when).total_seconds())


def _d(value: Any) -> Obj:
    return value if isinstance(value, dict) else {}


def _l(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _int(value: Any) -> int:
    """A count as an int; 0 for anything else (tables never fail on odd objects)."""
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _name(obj: Obj) -> str:
    return str(_d(obj.get("metadata")).get("name", ""))


def _age(obj: Obj, now: _dt.datetime) -> str:
    return since(_d(obj.get("metadata")).get("creationTimestamp"), now)


def format_labels(labels: Mapping[str, str] | None) -> str:
    if not labels:
        return "<none>"
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items()))


# --- pods --------------------------------------------------------------------------------

def _terminated_reason(state: Obj, prefix: str = "") -> str:
    if state.get("reason"):
        return prefix + state["reason"]
    if state.get("signal"):
        return f"{prefix}Signal:{state['signal']}"
    return f"{prefix}ExitCode:{state.get('exitCode', 0)}"


def _later(current: _dt.datetime | None, candidate: Any) -> _dt.datetime | None:
    when = parse_time(candidate) if isinstance(candidate, str) else None
    if when is not None and (current is None or when > current):
        return when
    return current


def _restartable(container: Obj | None) -> bool:
    return container is not None and container.get("restartPolicy") == "Always"


@dataclass
class _Init:
    """What printPod's init-container loop leaves behind."""

    reason: str
    initializing: bool = False
    restarts: int = 0  # of the init containers looked at
    last: _dt.datetime | None = None
    sidecar_restarts: int = 0  # of restartable (sidecar) init containers
    sidecar_last: _dt.datetime | None = None
    ready: int = 0


def _init_status(pod: Obj, reason: str) -> _Init:
    spec, status = _d(pod.get("spec")), _d(pod.get("status"))
    inits = {c.get("name"): c for c in _l(spec.get("initContainers")) if isinstance(c, dict)}
    out = _Init(reason)
    for i, cs in enumerate(_l(status.get("initContainerStatuses"))):
        cs = _d(cs)
        state = _d(cs.get("state"))
        terminated, waiting = state.get("terminated"), state.get("waiting")
        finished = _d(_d(cs.get("lastState")).get("terminated")).get("finishedAt")
        out.restarts += _int(cs.get("restartCount"))
        out.last = _later(out.last, finished)
        sidecar = _restartable(inits.get(cs.get("name")))
        if sidecar:
            out.sidecar_restarts += _int(cs.get("restartCount"))
            out.sidecar_last = _later(out.sidecar_last, finished)
        if terminated is not None and _d(terminated).get("exitCode", 0) == 0:
            continue
        if sidecar and cs.get("started"):
            out.ready += bool(cs.get("ready"))
            continue
        out.initializing = True
        if terminated is not None:
            out.reason = _terminated_reason(_d(terminated), "Init:")
        elif _d(waiting).get("reason") and _d(waiting)["reason"] != "PodInitializing":
            out.reason = "Init:" + _d(waiting)["reason"]
        else:
            out.reason = f"Init:{i}/{len(inits)}"
        break
    return out


def _condition_true(pod: Obj, kind: str) -> bool:
    return any(_d(c).get("type") == kind and _d(c).get("status") == "True"
               for c in _l(_d(pod.get("status")).get("conditions")))


def pod_status(pod: Obj, now: _dt.datetime) -> tuple[str, str, str]:
    """(READY, STATUS, RESTARTS) cells, computed as kubectl's printPod does."""
    spec, status = _d(pod.get("spec")), _d(pod.get("status"))
    phase = status.get("phase") or ""
    reason = status.get("reason") or phase
    for condition in _l(status.get("conditions")):
        if _d(condition).get("type") == "PodScheduled" and \
                _d(condition).get("reason") == "SchedulingGated":
            reason = "SchedulingGated"
    total = len(_l(spec.get("containers"))) + sum(
        _restartable(_d(c)) for c in _l(spec.get("initContainers")))
    init = _init_status(pod, reason)
    reason, ready, restarts, last = init.reason, init.ready, init.restarts, init.last
    if not init.initializing or _condition_true(pod, "Initialized"):
        restarts, last, has_running = init.sidecar_restarts, init.sidecar_last, False
        for cs in reversed(_l(status.get("containerStatuses"))):
            cs = _d(cs)
            restarts += _int(cs.get("restartCount"))
            last = _later(last, _d(_d(cs.get("lastState")).get("terminated")).get("finishedAt"))
            state = _d(cs.get("state"))
            waiting, terminated = _d(state.get("waiting")), state.get("terminated")
            if waiting.get("reason"):
                reason = waiting["reason"]
            elif terminated is not None:
                reason = _terminated_reason(_d(terminated))
            elif cs.get("ready") and state.get("running") is not None:
                has_running = True
                ready += 1
        if reason == "Completed" and has_running:
            reason = "Running" if _condition_true(pod, "Ready") else "NotReady"
    if _d(pod.get("metadata")).get("deletionTimestamp"):
        if status.get("reason") == "NodeLost":
            reason = "Unknown"
        elif phase not in ("Succeeded", "Failed"):
            reason = "Terminating"
    restarts_text = str(restarts)
    if restarts and last is not None:
        restarts_text = f"{restarts} ({human_duration((now - last).total_seconds())} ago)"
    return f"{ready}/{total}", reason, restarts_text


def _print_pod(pod: Obj, now: _dt.datetime) -> list[Any]:
    spec, status = _d(pod.get("spec")), _d(pod.get("status"))
    ready, reason, restarts = pod_status(pod, now)
    ips = _l(status.get("podIPs"))
    ip = _d(ips[0]).get("ip") if ips else status.get("podIP")
    gates = _l(spec.get("readinessGates"))
    gates_text = "<none>"
    if gates:
        conditions = {_d(c).get("type"): _d(c).get("status")
                      for c in _l(status.get("conditions"))}
        passed = sum(conditions.get(_d(g).get("conditionType")) == "True" for g in gates)
        gates_text = f"{passed}/{len(gates)}"
    return [_name(pod), ready, reason, restarts, _age(pod, now), ip or "<none>",
            spec.get("nodeName") or "<none>", status.get("nominatedNodeName") or "<none>",
            gates_text]


def _pod_row_conditions(pod: Obj) -> list[Obj] | None:
    phase = _d(pod.get("status")).get("phase")
    if phase == "Succeeded":
        return [{"type": "Completed", "status": "True", "reason": "Succeeded",
                 "message": "The pod has completed successfully."}]
    if phase == "Failed":
        return [{"type": "Completed", "status": "True", "reason": "Failed",
                 "message": "The pod failed."}]
    return None


# --- other kinds -------------------------------------------------------------------------

def _node_roles(labels: Mapping[str, str]) -> str:
    roles = set()
    for key, value in labels.items():
        if key.startswith("node-role.kubernetes.io/") and key[len("node-role.kubernetes.io/"):]:
            roles.add(key[len("node-role.kubernetes.io/"):])
        elif key == "kubernetes.io/role" and value:
            roles.add(value)
    return ",".join(sorted(roles)) or "<none>"


def _node_address(node: Obj, kind: str) -> str:
    for address in _l(_d(node.get("status")).get("addresses")):
        if _d(address).get("type") == kind:
            return str(address.get("address", ""))
    return "<none>"


def _print_node(node: Obj, now: _dt.datetime) -> list[Any]:
    status, spec = _d(node.get("status")), _d(node.get("spec"))
    states = []
    for condition in _l(status.get("conditions")):
        if _d(condition).get("type") == "Ready":
            states.append("Ready" if condition.get("status") == "True" else "NotReady")
    states = states[-1:] or ["Unknown"]
    if spec.get("unschedulable"):
        states.append("SchedulingDisabled")
    info = _d(status.get("nodeInfo"))
    return [_name(node), ",".join(states),
            _node_roles(_d(_d(node.get("metadata")).get("labels"))), _age(node, now),
            info.get("kubeletVersion", ""), _node_address(node, "InternalIP"),
            _node_address(node, "ExternalIP"), info.get("osImage") or "<unknown>",
            info.get("kernelVersion") or "<unknown>",
            info.get("containerRuntimeVersion") or "<unknown>"]


def _port_string(ports: list[Any]) -> str:
    out = []
    for port in ports:
        port = _d(port)
        protocol = port.get("protocol", "TCP")
        if port.get("nodePort"):
            out.append(f"{port.get('port')}:{port['nodePort']}/{protocol}")
        else:
            out.append(f"{port.get('port')}/{protocol}")
    return ",".join(out)


def _external_ip(svc: Obj) -> str:
    spec = _d(svc.get("spec"))
    kind, external = spec.get("type", "ClusterIP"), [str(i) for i in _l(spec.get("externalIPs"))]
    if kind in ("ClusterIP", "NodePort"):
        return ",".join(external) or "<none>"
    if kind == "LoadBalancer":
        ingress = _l(_d(_d(svc.get("status")).get("loadBalancer")).get("ingress"))
        lb = [str(_d(i).get("ip") or _d(i).get("hostname") or "") for i in ingress]
        return ",".join([x for x in lb if x] + external) or "<pending>"
    if kind == "ExternalName":
        return str(spec.get("externalName", ""))
    return "<unknown>"


def _print_service(svc: Obj, now: _dt.datetime) -> list[Any]:
    spec = _d(svc.get("spec"))
    ips = _l(spec.get("clusterIPs"))
    cluster_ip = ips[0] if ips else spec.get("clusterIP") or "<none>"
    return [_name(svc), spec.get("type", "ClusterIP"), cluster_ip, _external_ip(svc),
            _port_string(_l(spec.get("ports"))) or "<none>", _age(svc, now),
            format_labels(_d(spec.get("selector")))]


def format_endpoints(endpoints: Obj, limit: int = 3) -> str:
    subsets = _l(endpoints.get("subsets"))
    if not subsets:
        return "<none>"
    shown: list[str] = []
    count = 0
    for subset in subsets:
        addresses = [str(_d(a).get("ip", "")) for a in _l(_d(subset).get("addresses"))]
        ports = _l(_d(subset).get("ports")) or [None]
        for port in ports:
            count += len(addresses)
            for ip in addresses:
                if len(shown) < limit:
                    shown.append(ip if port is None else
                                 (f"[{ip}]" if ":" in ip else ip) + f":{_d(port).get('port')}")
    text = ",".join(shown)
    return f"{text} + {count - limit} more..." if count > limit else text


def _containers_and_images(spec: Obj) -> tuple[str, str]:
    containers = _l(_d(_d(spec.get("template")).get("spec")).get("containers"))
    return (",".join(str(_d(c).get("name", "")) for c in containers),
            ",".join(str(_d(c).get("image", "")) for c in containers))


def _print_rc(rc: Obj, now: _dt.datetime) -> list[Any]:
    spec, status = _d(rc.get("spec")), _d(rc.get("status"))
    names, images = _containers_and_images(spec)
    return [_name(rc), _int(spec.get("replicas")), _int(status.get("replicas")),
            _int(status.get("readyReplicas")), _age(rc, now), names, images,
            format_labels(_d(spec.get("selector")))]


def _selector_text(selector: Any) -> str:
    try:
        return label_selector_string(selector) or "<none>"
    except BadRequest:
        return "<error>"


def _print_rs(rs: Obj, now: _dt.datetime) -> list[Any]:
    spec, status = _d(rs.get("spec")), _d(rs.get("status"))
    names, images = _containers_and_images(spec)
    return [_name(rs), _int(spec.get("replicas")), _int(status.get("replicas")),
            _int(status.get("readyReplicas")), _age(rs, now), names, images,
            _selector_text(spec.get("selector"))]


def _print_deployment(dep: Obj, now: _dt.datetime) -> list[Any]:
    spec, status = _d(dep.get("spec")), _d(dep.get("status"))
    names, images = _containers_and_images(spec)
    return [_name(dep), f"{_int(status.get('readyReplicas'))}/{_int(spec.get('replicas'))}",
            _int(status.get("updatedReplicas")), _int(status.get("availableReplicas")),
            _age(dep, now), names, images, _selector_text(spec.get("selector"))]


def _print_daemon_set(ds: Obj, now: _dt.datetime) -> list[Any]:
    spec, status = _d(ds.get("spec")), _d(ds.get("status"))
    names, images = _containers_and_images(spec)
    node_selector = format_labels(_d(_d(_d(spec.get("template")).get("spec")).get("nodeSelector")))
    return [_name(ds), _int(status.get("desiredNumberScheduled")),
            _int(status.get("currentNumberScheduled")), _int(status.get("numberReady")),
            _int(status.get("updatedNumberScheduled")), _int(status.get("numberAvailable")),
            node_selector,
            _age(ds, now), names, images, _selector_text(spec.get("selector"))]


def _print_stateful_set(sts: Obj, now: _dt.datetime) -> list[Any]:
    spec, status = _d(sts.get("spec")), _d(sts.get("status"))
    names, images = _containers_and_images(spec)
    return [_name(sts), f"{_int(status.get('readyReplicas'))}/{_int(spec.get('replicas'))}",
            _age(sts, now), names, images]


def _controller_name(obj: Obj) -> str:
    """`kind.group/name` of the controller owner, as kubectl prints a ControllerRevision's."""
    for ref in _l(_d(obj.get("metadata")).get("ownerReferences")):
        if _d(ref).get("controller"):
            group = str(ref.get("apiVersion", "")).rpartition("/")[0]
            kind = str(ref.get("kind", "")).lower()
            return f"{kind}.{group}/{ref.get('name', '')}" if group else \
                f"{kind}/{ref.get('name', '')}"
    return "<none>"


def _print_event(event: Obj, now: _dt.datetime) -> list[Any]:
    first = since(event.get("firstTimestamp"), now) if event.get("firstTimestamp") else \
        since(event.get("eventTime"), now)
    last = since(event.get("lastTimestamp"), now) if event.get("lastTimestamp") else first
    count = event.get("count") or 1
    series = event.get("series")
    if isinstance(series, dict):
        last, count = since(series.get("lastObservedTime"), now), series.get("count", count)
    involved = _d(event.get("involvedObject"))
    kind = str(involved.get("kind", "")).lower()
    target = f"{kind}/{involved['name']}" if involved.get("name") else kind
    source = _d(event.get("source"))
    component = source.get("component") or event.get("reportingComponent") or ""
    host = source.get("host") or event.get("reportingInstance") or ""
    return [last, event.get("type", ""), event.get("reason", ""), target,
            involved.get("fieldPath", ""), f"{component}, {host}" if host else component,
            str(event.get("message", "")).strip(), first, _int(count),
            _name(event)]


def age_last(*cells: Callable[[Obj], Any]) -> Printer:
    def printer(obj: Obj, now: _dt.datetime) -> list[Any]:
        return [_name(obj), *(cell(obj) for cell in cells), _age(obj, now)]
    return printer


_S, _I = "string", "integer"
NAME: Column = ("Name", _S, 0)
AGE: Column = ("Age", _S, 0)
_WORKLOAD_WIDE: tuple[Column, ...] = (("Containers", _S, 1), ("Images", _S, 1),
                                      ("Selector", _S, 1))

POD = TableSpec((NAME, ("Ready", _S, 0), ("Status", _S, 0), ("Restarts", _S, 0), AGE,
                 ("IP", _S, 1), ("Node", _S, 1), ("Nominated Node", _S, 1),
                 ("Readiness Gates", _S, 1)), _print_pod, row_conditions=_pod_row_conditions)
NODE = TableSpec((NAME, ("Status", _S, 0), ("Roles", _S, 0), AGE, ("Version", _S, 0),
                  ("Internal-IP", _S, 1), ("External-IP", _S, 1), ("OS-Image", _S, 1),
                  ("Kernel-Version", _S, 1), ("Container-Runtime", _S, 1)), _print_node)
SERVICE = TableSpec((NAME, ("Type", _S, 0), ("Cluster-IP", _S, 0), ("External-IP", _S, 0),
                     ("Port(s)", _S, 0), AGE, ("Selector", _S, 1)), _print_service)
ENDPOINTS = TableSpec((NAME, ("Endpoints", _S, 0), AGE), age_last(format_endpoints))
REPLICATION_CONTROLLER = TableSpec((NAME, ("Desired", _I, 0), ("Current", _I, 0),
                                    ("Ready", _I, 0), AGE, *_WORKLOAD_WIDE), _print_rc)
REPLICA_SET = TableSpec((NAME, ("Desired", _I, 0), ("Current", _I, 0), ("Ready", _I, 0), AGE,
                         *_WORKLOAD_WIDE), _print_rs)
DEPLOYMENT = TableSpec((NAME, ("Ready", _S, 0), ("Up-to-date", _S, 0), ("Available", _S, 0),
                        AGE, *_WORKLOAD_WIDE), _print_deployment)
DAEMON_SET = TableSpec((NAME, ("Desired", _I, 0), ("Current", _I, 0), ("Ready", _I, 0),
                        ("Up-to-date", _I, 0), ("Available", _I, 0), ("Node Selector", _S, 0),
                        AGE, *_WORKLOAD_WIDE), _print_daemon_set)
STATEFUL_SET = TableSpec((NAME, ("Ready", _S, 0), AGE, ("Containers", _S, 1), ("Images", _S, 1)),
                         _print_stateful_set)
CONTROLLER_REVISION = TableSpec((NAME, ("Controller", _S, 0), ("Revision", _I, 0), AGE),
                                age_last(_controller_name, lambda o: _int(o.get("revision"))))
NAMESPACE = TableSpec((NAME, ("Status", _S, 0), AGE),
                      age_last(lambda o: _d(o.get("status")).get("phase", "")))
CONFIG_MAP = TableSpec((NAME, ("Data", _S, 0), AGE), age_last(
    lambda o: len(_d(o.get("data"))) + len(_d(o.get("binaryData")))))
SECRET = TableSpec((NAME, ("Type", _S, 0), ("Data", _S, 0), AGE), age_last(
    lambda o: o.get("type", ""), lambda o: len(_d(o.get("data")))))
EVENT = TableSpec((("Last Seen", _S, 0), ("Type", _S, 0), ("Reason", _S, 0), ("Object", _S, 0),
                   ("Subobject", _S, 1), ("Source", _S, 1), ("Message", _S, 0),
                   ("First Seen", _S, 1), ("Count", _S, 1), ("Name", _S, 1)), _print_event)
LEASE = TableSpec((NAME, ("Holder", _S, 0), AGE), age_last(
    lambda o: _d(o.get("spec")).get("holderIdentity", "")))
SERVICE_ACCOUNT = TableSpec((NAME, ("Secrets", _S, 0), AGE),
                            age_last(lambda o: len(_l(o.get("secrets")))))
DEFAULT = TableSpec((NAME, AGE), age_last())


def column_definitions(spec: TableSpec) -> list[Obj]:
    out = []
    for name, kind, priority in spec.columns:
        fmt = spec.formats.get(name, "name" if name == "Name" else "")
        doc = _NAME_DOC if name == "Name" else AGE_DOC if name == "Age" else \
            spec.descriptions.get(name, "")
        out.append({"name": name, "type": kind, "format": fmt, "description": doc,
                    "priority": priority})
    return out


def _row_object(obj: Obj, include: str) -> Obj | None:
    if include == "None":
        return None
    if include == "Object":
        return obj
    return {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
            "metadata": obj.get("metadata") or {}}


def _query(request: Any) -> Mapping[str, str]:
    query = getattr(request, "query", request)
    return query if isinstance(query, Mapping) else {}


def table_for(spec: TableSpec, objs: list[Obj], request: Any = None, *,
              now: _dt.datetime | None = None) -> Obj:
    """A meta.k8s.io/v1 Table of `objs`; `request` (or a query mapping) gives includeObject."""
    include = _query(request).get("includeObject") or "Metadata"
    if include not in ("None", "Metadata", "Object"):
        raise BadRequest(f'includeObject must be one of "None", "Metadata" or "Object", got '
                         f'"{include}"')
    now = now or _dt.datetime.now(_dt.UTC)
    rows = []
    for obj in objs:
        row: Obj = {"cells": spec.printer(obj, now)}
        conditions = spec.row_conditions(obj) if spec.row_conditions else None
        if conditions:
            row["conditions"] = conditions
        row_object = _row_object(obj, include)
        if row_object is not None:
            row["object"] = row_object
        rows.append(row)
    return {"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": {},
            "columnDefinitions": column_definitions(spec), "rows": rows}
