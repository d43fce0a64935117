"""kube-apiserver's --max-requests-inflight and --max-mutating-requests-inflight.

As kube's WithMaxInFlightLimit (which runs after authentication and impersonation,
before authorization): requests past the limit of their class (read-only: get, list,
watch; mutating: every other verb) are answered at once with 429, ``Retry-After: 1``
and kube's plain-text body; clients such as client-go wait and retry. Long-running
requests (watch, proxy; attach, exec, log, portforward and proxy subresources) are not
counted, and a member of system:masters is always served. A limit of 0 disables it.
This is kube's filter with --enable-priority-and-fairness=false; the default is
:mod:`.flowcontrol`, which shares the same total out between priority levels.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator
from typing import Protocol

from aiohttp import web

from kybernetes.apiserver.authz.attributes import Attributes

DEFAULT_MAX_REQUESTS = 400
DEFAULT_MAX_MUTATING = 200
READ_ONLY_VERBS = frozenset({"get", "list", "watch"})
LONG_RUNNING_VERBS = frozenset({"watch", "proxy"})
LONG_RUNNING_SUBRESOURCES = frozenset({"attach", "exec", "proxy", "log", "portforward"})
PRIVILEGED_GROUP = "system:masters"


def long_running(attributes: Attributes) -> bool:
    """kube's BasicLongRunningRequestCheck with kube-apiserver's verbs and subresources."""
    return attributes.verb in LONG_RUNNING_VERBS or (
        attributes.resource_request and attributes.subresource in LONG_RUNNING_SUBRESOURCES)


class TooManyRequests(Exception):
    """The request's class is at its limit; the client should wait `retry_after` s."""

    def __init__(self, retry_after: int = 1) -> None:
        super().__init__(retry_after)
        self.retry_after = retry_after


class RequestLimiter(Protocol):
    """What the API server's middleware asks before a request runs."""

    def enter(self, attributes: Attributes) -> contextlib.AbstractAsyncContextManager[None]:
        """Held while the request runs; raises TooManyRequests when it may not."""


def too_many_requests(retry_after: int = 1) -> web.Response:
    """kube's answer (both filters): Go's http.Error text, not a Status object."""
    response = web.Response(status=429, text="Too many requests, please try again later.\n",
                            content_type="text/plain", charset="utf-8")
    response.headers["Retry-After"] = str(retry_after)
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


class InflightLimit:
    def __init__(self, max_requests: int = DEFAULT_MAX_REQUESTS,
                 max_mutating: int = DEFAULT_MAX_MUTATING) -> None:
        self.limits = {False: max_requests, True: max_mutating}
        self.inflight = {False: 0, True: 0}

    @contextlib.asynccontextmanager
    async def enter(self, attributes: Attributes) -> AsyncIterator[None]:
        with self.admit(attributes):
            yield

    @contextlib.contextmanager
    def admit(self, attributes: Attributes) -> Iterator[None]:
        """Count the request while it runs; TooManyRequests when its class is full."""
        mutating = attributes.verb not in READ_ONLY_VERBS
        limit = self.limits[mutating]
        if not limit or long_running(attributes):
            yield
            return
        if self.inflight[mutating] >= limit:
            if PRIVILEGED_GROUP in attributes.user.groups:
                yield
                return
            raise TooManyRequests
        self.inflight[mutating] += 1
        try:
            yield
        finally:
            self.inflight[mutating] -= 1
