"""Auditing a request through the middleware, in kube-apiserver's stages.

As Kubernetes orders its filters (authentication → audit → impersonation →
authorization), the policy is evaluated on the authenticated user and the
RequestReceived event carries neither the impersonated user nor the authorization
annotations; later stages carry both. A request no authenticator accepted gets one
event, ResponseStarted with the 401 and ``user: {}`` (WithFailedAuthenticationAudit).
Long-running requests (watch, exec, logs, proxy) get ResponseStarted when their
response begins and ResponseComplete when it ends; others only ResponseComplete.

The middleware calls :meth:`Auditor.receive` first, :meth:`Auditor.complete` with
the response; the app's response-prepare signal calls :meth:`Auditor.started`.
What the guard learnt is read from the request: ``requester`` (the authenticated
user), ``attributes`` (as which user, doing what) and ``decision``; the body a handler
read is ``request["body"]``.
"""

from __future__ import annotations

import logging
import os
import time
from typing import Any

import orjson
from aiohttp import web

from kybernetes.apiserver.audit import event as ev
from kybernetes.apiserver.audit.policy import Level, Policy
from kybernetes.apiserver.audit.sink import LogSink
from kybernetes.apiserver.authn import User
from kybernetes.apiserver.authz.attributes import request_attributes

log = logging.getLogger("kybernetes.apiserver.audit")

AUDIT_ID_HEADER = "Audit-ID"  # sent back as Go canonicalises it: Audit-Id
NOBODY = User("")
CLOSED_EARLY = {"metadata": {}, "status": "Success", "message": "Connection closed early",
                "code": 200}


def new_uuid() -> str:
    """A random (version 4) UUID, as uuid.uuid4() but in a fraction of its time: every
    response gets one."""
    b = bytearray(os.urandom(16))
    b[6] = (b[6] & 0x0F) | 0x40
    b[8] = (b[8] & 0x3F) | 0x80
    h = b.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def audit_id(request: web.Request) -> str:
    """The request's audit ID, the same in the event and the response header: the one a
    front server sent in Audit-ID, else a new UUID (as WithAuditInit)."""
    found: str | None = request.get("audit_id")
    if found is None:
        found = request["audit_id"] = request.headers.get(AUDIT_ID_HEADER) or new_uuid()
    return found


def _auth_failure_message(request: web.Request) -> str:
    """Kubernetes' getAuthMethods: which credentials were tried and failed."""
    methods = []
    auth = request.headers.get("Authorization", "").strip()
    scheme = auth.split(" ", 1)[0].lower() if " " in auth else ""
    if scheme == "basic":
        methods.append("basic")
    if scheme == "bearer":
        methods.append("bearer")
    if request.query.get("access_token", "").strip():
        methods.append("access_token")
    if request.transport is not None and request.transport.get_extra_info("peercert"):
        methods.append("x509")
    if methods:
        return f"Authentication failed, attempted: {', '.join(methods)}"
    return "Authentication failed, no credentials provided"


def _response_json(response: web.StreamResponse) -> Any:
    """The JSON object a plain (not streamed) response carries, else None."""
    if response.content_type != "application/json":
        return None
    body = getattr(response, "body", None)  # a list's parts are joined only here
    if not isinstance(body, bytes | bytearray):
        return None
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        return None


class Auditor:
    """The policy and the log, applied to each request the middleware sees."""

    def __init__(self, policy: Policy, sink: LogSink) -> None:
        self.policy = policy
        self.sink = sink

    def receive(self, request: web.Request) -> None:
        request["audit_received"] = time.time()

    def _record(self, request: web.Request) -> ev.Record | None:
        """The request's event (made once), or None when the policy says level None."""
        if "audit" in request:
            record: ev.Record | None = request["audit"]
            return record
        requester: User | None = request.get("requester")
        attrs = request.get("attributes")
        if attrs is None:
            attrs = request_attributes(requester or NOBODY, request.method, request.path,
                                       request.query)
        subject = attrs if requester is None or attrs.user is requester \
            else attrs.with_user(requester)
        config = self.policy.evaluate(subject)
        record = None
        if config.level is not Level.NONE:
            record = ev.Record(
                config, audit_id(request), request["audit_received"], request.raw_path,
                attrs.verb, ev.user_info(requester),
                ev.source_ips(request.headers, request.remote),
                ev.truncated_user_agent(request.headers.get("User-Agent", "")),
                ev.object_ref(attrs), long_running=ev.is_long_running(attrs))
            if requester is not None:
                self._emit(record, "RequestReceived")
        request["audit"] = record
        return record

    def _emit(self, record: ev.Record, stage: str) -> None:
        record.stages.add(stage)
        if stage not in record.config.omit_stages:
            self.sink.write(record.line(stage, time.time()))

    @staticmethod
    def _admitted(record: ev.Record, request: web.Request) -> None:
        """What impersonation and authorization decided (ResponseStarted onwards)."""
        attrs = request.get("attributes")
        if attrs is not None and attrs.user is not request.get("requester"):
            record.impersonated_user = ev.user_info(attrs.user)
        decision = request.get("decision")
        if decision is not None:
            record.authorized(decision.allowed, decision.reason)

    def started(self, request: web.Request, response: web.StreamResponse) -> None:
        """The response's headers are going out: ResponseStarted for long-running ones."""
        try:
            record = self._record(request)
            if record is None or not record.long_running or record.stages & {
                    "ResponseStarted", "ResponseComplete"} or "requester" not in request:
                return
            self._admitted(record, request)
            record.response_status = ev.response_status(response.status, None)
            self._emit(record, "ResponseStarted")
        except Exception:  # auditing never fails a request
            log.exception("audit failed", extra={"path": request.path})

    def complete(self, request: web.Request, response: web.StreamResponse) -> None:
        """The handler returned: fill in the request and response, ResponseComplete."""
        try:
            self._complete(request, response)
        except Exception:  # auditing never fails a request
            log.exception("audit failed", extra={"path": request.path})

    def _complete(self, request: web.Request, response: web.StreamResponse) -> None:
        record = self._record(request)
        if record is None or "ResponseComplete" in record.stages:
            return
        if "requester" not in request:  # authentication failed: one event, no user
            record.response_status = {"metadata": {}, "message": _auth_failure_message(request),
                                      "code": response.status}
            self._emit(record, "ResponseStarted")
            return
        self._admitted(record, request)
        level = record.config.level
        body: bytes | None = request.get("body")
        patch = request.method == "PATCH"
        if body and record.object_ref is not None and (level >= Level.REQUEST or not patch):
            obj = ev.decode(body, request.headers.get("Content-Type"))
            meta = obj.get("metadata") if isinstance(obj, dict) else None
            if isinstance(meta, dict) and not patch:
                record.fill_object_ref(meta)
            if level >= Level.REQUEST:
                record.request_object = obj if patch or not record.config.omit_managed_fields \
                    else ev.without_managed_fields(obj)
        returned = None
        if response.status >= 300 or request.method == "DELETE" \
                or level >= Level.REQUEST_RESPONSE:
            returned = _response_json(response)
        record.response_status = ev.response_status(response.status, returned)
        if level >= Level.REQUEST_RESPONSE and record.object_ref is not None:
            record.response_object = ev.without_managed_fields(returned) \
                if record.config.omit_managed_fields else returned
        if record.long_running and "ResponseStarted" not in record.stages:
            self._emit(record, "ResponseStarted")
        self._emit(record, "ResponseComplete")

    def cancelled(self, request: web.Request) -> None:
        """The handler was cancelled (the client went away): end the event anyway."""
        record = self._record(request)
        if record is None or "ResponseComplete" in record.stages or "requester" not in request:
            return
        self._admitted(record, request)
        if record.response_status is None:
            record.response_status = CLOSED_EARLY
        if record.long_running and "ResponseStarted" not in record.stages:
            self._emit(record, "ResponseStarted")
        self._emit(record, "ResponseComplete")

    def close(self) -> None:
        self.sink.close()
