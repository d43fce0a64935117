"""Choosing an endpoint for a new connection in the userspace proxy.

One :class:`LoadBalancer` per service port (kube-proxy's LoadBalancerRR): the
ready endpoints in a fixed order, a cursor for round-robin (or a random pick), and
for ClientIP session affinity a table client IP → (endpoint, last used). A client
with a live affinity entry goes back to its endpoint; the entry expires after the
Service's timeout without use. When a dial fails the caller asks again with the
failed endpoints in `exclude`, which moves the client (and the cursor) on.

Updating the endpoints keeps the cursor and the affinity entries whose endpoint is
still ready, so a change in Endpoints never reshuffles healthy clients.
Pure logic with an injectable clock; no I/O.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass

from kybernetes.proxy.model import Endpoint


@dataclass(slots=True)
class _Affinity:
    endpoint: Endpoint
    last_used: float


class LoadBalancer:
    """Round-robin (default) or random choice among ready endpoints."""

    def __init__(self, *, mode: str = "round-robin", affinity_timeout: float = 0,
                 clock: Callable[[], float] = time.monotonic,
                 rng: random.Random | None = None) -> None:
        if mode not in ("round-robin", "random"):
            raise ValueError(f"unknown load balancing mode {mode!r}")
        self.mode = mode
        self.affinity_timeout = affinity_timeout
        self.endpoints: list[Endpoint] = []
        self._cursor = 0
        self._affinity: dict[str, _Affinity] = {}
        self._clock = clock
        self._rng = rng or random.Random()

    def update(self, endpoints: list[Endpoint], *, affinity_timeout: float | None = None
               ) -> None:
        """Take a new list of ready endpoints (and affinity timeout)."""
        if affinity_timeout is not None:
            self.affinity_timeout = affinity_timeout
            if not affinity_timeout:
                self._affinity.clear()
        if endpoints == self.endpoints:
            return
        live = set(endpoints)
        self._affinity = {ip: a for ip, a in self._affinity.items() if a.endpoint in live}
        self.endpoints = list(endpoints)
        if self._cursor >= len(self.endpoints):
            self._cursor = 0

    def next_endpoint(self, client_ip: str, *, exclude: Collection[Endpoint] = ()
                      ) -> Endpoint | None:
        """The endpoint for a new connection from `client_ip`, or None if none is left."""
        candidates = [e for e in self.endpoints if e not in exclude] if exclude \
            else self.endpoints  # a first dial excludes nothing: no copy per connection
        if not candidates:
            return None
        now = self._clock()
        if self.affinity_timeout:
            held = self._affinity.get(client_ip)
            if (held is not None and held.endpoint not in exclude
                    and now - held.last_used <= self.affinity_timeout):
                held.last_used = now
                return held.endpoint
        chosen = self._pick(candidates)
        if self.affinity_timeout:
            self._affinity[client_ip] = _Affinity(chosen, now)
            if len(self._affinity) > 1024:
                self._expire(now)
        return chosen

    def _pick(self, candidates: list[Endpoint]) -> Endpoint:
        if self.mode == "random":
            return self._rng.choice(candidates)
        for _ in range(len(self.endpoints)):
            endpoint = self.endpoints[self._cursor]
            self._cursor = (self._cursor + 1) % len(self.endpoints)
            if endpoint in candidates:
                return endpoint
        return candidates[0]

    def _expire(self, now: float) -> None:
        self._affinity = {ip: a for ip, a in self._affinity.items()
                          if now - a.last_used <= self.affinity_timeout}
