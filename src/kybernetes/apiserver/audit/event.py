"""One request's audit.k8s.io/v1 ``Event``, filled in as the request proceeds and
written once per stage, field for field as kube-apiserver's JSON log backend writes
it (same keys, same order, same omissions, microsecond RFC 3339 UTC timestamps).
"""

from __future__ import annotations

import functools
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson
from multidict import CIMultiDictProxy

from kybernetes.api.errors import ApiError
from kybernetes.api.meta import is_ip
from kybernetes.apiserver import codec
from kybernetes.apiserver.audit.policy import Level, RequestConfig
from kybernetes.apiserver.authn import User
from kybernetes.apiserver.authz.attributes import Attributes

MAX_USER_AGENT = 1024
DECISION, REASON = "authorization.k8s.io/decision", "authorization.k8s.io/reason"
# Kubernetes' BasicLongRunningRequestCheck: these get a ResponseStarted event.
LONG_RUNNING_VERBS = frozenset({"watch", "proxy"})
LONG_RUNNING_SUBRESOURCES = frozenset({"attach", "exec", "proxy", "log", "portforward"})


@functools.lru_cache(maxsize=4)
def _second(t: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t))


def micro_time(t: float) -> str:
    """metav1.MicroTime: RFC 3339 with exactly six fractional digits, in UTC (the
    seconds part cached: every event formats two times, mostly in the same second)."""
    seconds = int(t)
    micros = round((t - seconds) * 1e6)
    if micros == 1_000_000:
        seconds, micros = seconds + 1, 0
    return f"{_second(seconds)}.{micros:06d}Z"


def user_info(user: User | None) -> dict[str, Any]:
    """authentication/v1 UserInfo; `{}` for a request no authenticator accepted."""
    if user is None:
        return {}
    info: dict[str, Any] = {"username": user.name} if user.name else {}
    if user.uid:
        info["uid"] = user.uid
    if user.groups:
        info["groups"] = list(user.groups)
    if user.extra:
        info["extra"] = {k: list(v) for k, v in user.extra.items()}
    return info


def source_ips(headers: CIMultiDictProxy[str], remote: str | None) -> list[str]:
    """X-Forwarded-For, then X-Real-Ip if new, then the peer if not already last
    (k8s.io/apimachinery/pkg/util/net.SourceIPs)."""
    ips: list[str] = []
    forwarded = headers.get("X-Forwarded-For")
    if forwarded:
        ips += [part.strip() for part in forwarded.split(",") if is_ip(part.strip())]
    real = headers.get("X-Real-Ip", "").strip()
    if real and is_ip(real) and real not in ips:
        ips.append(real)
    if remote and (not ips or ips[-1] != remote):  # the peer's address, always an IP
        ips.append(remote)
    return ips


def is_long_running(attrs: Attributes) -> bool:
    return attrs.verb in LONG_RUNNING_VERBS or (
        attrs.resource_request and attrs.subresource in LONG_RUNNING_SUBRESOURCES)


def object_ref(attrs: Attributes) -> dict[str, str] | None:
    if not attrs.resource_request:
        return None
    ref = {"resource": attrs.resource, "namespace": attrs.namespace, "name": attrs.name,
           "uid": "", "apiGroup": attrs.api_group, "apiVersion": attrs.api_version,
           "resourceVersion": "", "subresource": attrs.subresource}
    return ref


def decode(raw: bytes, content_type: str | None) -> Any:
    """A request body as JSON-native data (JSON, YAML or protobuf); None when it is none
    of them (the handler has already refused it)."""
    if codec.media_type(content_type) in ("application/json", "application/merge-patch+json",
                                          "application/strategic-merge-patch+json",
                                          "application/json-patch+json"):
        try:  # the handler has decoded it already: no need for codec's checks again
            return orjson.loads(raw)
        except orjson.JSONDecodeError:
            return None
    try:
        return codec.decode_body(raw, content_type)
    except ApiError:
        return None


def without_managed_fields(obj: Any) -> Any:
    """A copy without metadata.managedFields, in the object and in a list's items."""
    if not isinstance(obj, dict):
        return obj
    out = dict(obj)
    meta = out.get("metadata")
    if isinstance(meta, dict) and "managedFields" in meta:
        out["metadata"] = {k: v for k, v in meta.items() if k != "managedFields"}
    items = out.get("items")
    if isinstance(items, list):
        out["items"] = [without_managed_fields(i) for i in items]
    return out


def response_status(code: int, body: Any) -> dict[str, Any]:
    """The bounded fields of a Status response, or just the code for anything else."""
    status: dict[str, Any] = {"metadata": {}}
    if isinstance(body, dict) and body.get("kind") == "Status":
        for key in ("status", "message", "reason", "details"):
            if body.get(key):
                status[key] = body[key]
        code = body.get("code") or code
    status["code"] = code
    return status


@dataclass
class Record:
    """The event of one request, mutated as it proceeds, rendered per stage."""

    config: RequestConfig
    audit_id: str
    received: float
    request_uri: str
    verb: str
    user: dict[str, Any]
    source_ips: list[str]
    user_agent: str
    object_ref: dict[str, str] | None
    long_running: bool = False
    impersonated_user: dict[str, Any] | None = None
    response_status: dict[str, Any] | None = None
    request_object: Any = None
    response_object: Any = None
    annotations: dict[str, str] = field(default_factory=dict)
    stages: set[str] = field(default_factory=set)

    def fill_object_ref(self, meta: Mapping[str, Any]) -> None:
        """Empty reference fields from the request object's metadata (as LogRequestObject)."""
        if self.object_ref is None:
            return
        for ref_key, meta_key in (("namespace", "namespace"), ("name", "name"),
                                  ("uid", "uid"), ("resourceVersion", "resourceVersion")):
            value = meta.get(meta_key)
            if not self.object_ref[ref_key] and isinstance(value, str):
                self.object_ref[ref_key] = value

    def authorized(self, allowed: bool, reason: str) -> None:
        self.annotations[DECISION] = "allow" if allowed else "forbid"
        self.annotations[REASON] = reason

    def line(self, stage: str, now: float) -> bytes:
        """The JSON line for `stage`; RequestReceived's stageTimestamp is the receipt."""
        event: dict[str, Any] = {
            "kind": "Event", "apiVersion": "audit.k8s.io/v1", "level": self.config.level.wire,
            "auditID": self.audit_id, "stage": stage, "requestURI": self.request_uri,
            "verb": self.verb, "user": self.user}
        if self.impersonated_user is not None:
            event["impersonatedUser"] = self.impersonated_user
        if self.source_ips:
            event["sourceIPs"] = self.source_ips
        if self.user_agent:
            event["userAgent"] = self.user_agent
        if self.object_ref is not None:
            event["objectRef"] = {k: v for k, v in self.object_ref.items() if v}
        if self.response_status is not None:
            event["responseStatus"] = self.response_status
        if self.request_object is not None and self.config.level >= Level.REQUEST:
            event["requestObject"] = self.request_object
        if self.response_object is not None and \
                self.config.level >= Level.REQUEST_RESPONSE:
            event["responseObject"] = self.response_object
        event["requestReceivedTimestamp"] = micro_time(self.received)
        event["stageTimestamp"] = micro_time(self.received if stage == "RequestReceived"
                                             else now)
        if self.annotations:
            event["annotations"] = self.annotations
        return orjson.dumps(event) + b"\n"


def truncated_user_agent(agent: str) -> str:
    return agent if len(agent) <= MAX_USER_AGENT else agent[:MAX_USER_AGENT] + "...TRUNCATED"
