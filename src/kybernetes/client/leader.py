"""Leader election through a coordination.k8s.io/v1 Lease, as client-go does it.

Candidates share one Lease (`kube-system/<name>`). Its spec says who leads
(holderIdentity), for how long a renewal counts (leaseDurationSeconds), and
when leadership was taken and last renewed (acquireTime, renewTime, MicroTime);
leaseTransitions counts changes of holder. Every write is an update with the
resourceVersion that was read, so of two candidates racing for an expired lease
exactly one wins and the other gets a 409 Conflict.

A lease is expired when its record has not changed for leaseDurationSeconds
*by our own clock* (the time we last saw it change), as client-go, so clock
skew between machines does not matter. A leader renews every retry_period; if
it cannot renew for renew_deadline (a hanging attempt included) it stops leading
(the work coroutine is cancelled and :class:`LeadershipLost` raised) before
anyone else can take over.
When the work returns or the run is cancelled, the lease is released (holder
cleared, duration 1 s) so a successor takes over at once.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

from kybernetes.api import errors
from kybernetes.api.meta import now_rfc3339_micro
from kybernetes.api.resources import LEASES
from kybernetes.client.rest import ApiClient
from kybernetes.tasks import cancel_and_wait

log = logging.getLogger("kybernetes.client.leader")
T = TypeVar("T")


class LeadershipLost(Exception):
    """This candidate could not renew its lease in time and stopped leading."""


class LeaderElector:
    """Campaign for a Lease; run work only while holding it."""

    def __init__(self, client: ApiClient, *, namespace: str = "kube-system", name: str,
                 identity: str, lease_duration: float = 15, renew_deadline: float = 10,
                 retry_period: float = 2) -> None:
        if not lease_duration > renew_deadline > retry_period > 0:
            raise ValueError("need lease_duration > renew_deadline > retry_period > 0")
        self.client = client
        self.namespace = namespace
        self.name = name
        self.identity = identity
        self.lease_duration = lease_duration
        self.renew_deadline = renew_deadline
        self.retry_period = retry_period
        self._observed: dict[str, Any] | None = None  # last lease spec seen
        self._observed_at = 0.0  # monotonic time it was seen to change
        self.is_leader = False

    async def run(self, work: Callable[[], Coroutine[Any, Any, T]]) -> T:
        """Acquire, run `work()` while leading; raise LeadershipLost if it lapses."""
        await self._acquire()
        task = asyncio.create_task(work(), name=f"leader-{self.name}")
        renew = asyncio.create_task(self._renew_loop(), name=f"lease-renew-{self.name}")
        try:
            done, _ = await asyncio.wait({task, renew}, return_when=asyncio.FIRST_COMPLETED)
            if task in done:
                return task.result()
            renew.result()  # raises LeadershipLost
            raise LeadershipLost(f"lost lease {self.namespace}/{self.name}")
        finally:
            await cancel_and_wait(task, renew)
            if self.is_leader:
                await self._release()

    async def _acquire(self) -> None:
        log.info("attempting to acquire leader lease",
                 extra={"lease": f"{self.namespace}/{self.name}", "identity": self.identity})
        while not await self.try_acquire_or_renew():  # noqa: ASYNC110 - polling the API
            await asyncio.sleep(self.retry_period)
        log.info("acquired leader lease", extra={"lease": f"{self.namespace}/{self.name}",
                                                 "identity": self.identity})

    async def _renew_loop(self) -> None:
        """Renew every retry_period. Each attempt is bounded by what is left of the
        renew deadline, as client-go bounds its renewals by a RenewDeadline context:
        an attempt that hangs (an API server or etcd that stopped answering) must not
        keep us leading past the deadline, into the time another candidate may take
        the expired lease (renew_deadline < lease_duration keeps the two apart)."""
        last_renew = time.monotonic()
        while True:
            await asyncio.sleep(self.retry_period)
            renewed = False
            left = last_renew + self.renew_deadline - time.monotonic()
            if left > 0:
                try:
                    async with asyncio.timeout(left):
                        renewed = await self.try_acquire_or_renew()
                except TimeoutError:
                    pass
            if renewed:
                last_renew = time.monotonic()
            elif not self.is_leader or time.monotonic() - last_renew > self.renew_deadline:
                self.is_leader = False
                log.warning("lost leader lease", extra={
                    "lease": f"{self.namespace}/{self.name}", "identity": self.identity})
                raise LeadershipLost(f"failed to renew lease {self.namespace}/{self.name}")

    def _spec(self, *, acquire_time: str, transitions: int) -> dict[str, Any]:
        return {
            "holderIdentity": self.identity,
            "leaseDurationSeconds": max(1, round(self.lease_duration)),
            "acquireTime": acquire_time,
            "renewTime": now_rfc3339_micro(),
            "leaseTransitions": transitions,
        }

    def _observe(self, spec: dict[str, Any]) -> None:
        if spec != self._observed:
            self._observed = dict(spec)
            self._observed_at = time.monotonic()

    def _expired(self, spec: dict[str, Any]) -> bool:
        duration = spec.get("leaseDurationSeconds") or self.lease_duration
        return not spec.get("holderIdentity") or (
            self._observed_at + duration <= time.monotonic())

    async def try_acquire_or_renew(self) -> bool:
        """One attempt; True if we hold the lease afterwards."""
        try:
            lease = await self.client.get(LEASES, self.name, namespace=self.namespace)
        except errors.NotFound:
            return await self._create()
        except errors.ApiError as e:
            log.debug("cannot read lease", extra={"error": str(e)})
            return False
        spec = dict(lease.get("spec") or {})
        self._observe(spec)
        holder = spec.get("holderIdentity")
        if holder != self.identity and not self._expired(spec):
            self.is_leader = False
            return False
        if holder == self.identity:
            new = self._spec(acquire_time=spec.get("acquireTime") or now_rfc3339_micro(),
                             transitions=spec.get("leaseTransitions") or 0)
        else:
            new = self._spec(acquire_time=now_rfc3339_micro(),
                             transitions=(spec.get("leaseTransitions") or 0) + 1)
        lease["spec"] = new
        return await self._hold("update", new, self.client.update(LEASES, lease))

    async def _create(self) -> bool:
        spec = self._spec(acquire_time=now_rfc3339_micro(), transitions=0)
        body = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                "metadata": {"name": self.name, "namespace": self.namespace}, "spec": spec}
        return await self._hold("create", spec,
                                self.client.create(LEASES, body, namespace=self.namespace))

    async def _hold(self, verb: str, spec: dict[str, Any],
                    write: Awaitable[dict[str, Any]]) -> bool:
        """Await the lease write carrying `spec`; on success we lead."""
        try:
            written = await write
        except errors.ApiError as e:
            log.debug(f"cannot {verb} lease", extra={"error": str(e)})
            return False
        self._observe(written.get("spec") or spec)
        self.is_leader = True
        return True

    async def _release(self) -> None:
        """Give the lease up so a successor need not wait for it to expire."""
        self.is_leader = False
        try:
            lease = await self.client.get(LEASES, self.name, namespace=self.namespace)
            spec = lease.get("spec") or {}
            if spec.get("holderIdentity") != self.identity:
                return
            lease["spec"] = {**spec, "holderIdentity": None, "leaseDurationSeconds": 1,
                             "renewTime": now_rfc3339_micro(), "acquireTime": now_rfc3339_micro()}
            await self.client.update(LEASES, lease)
        except (errors.ApiError, OSError) as e:
            log.debug("cannot release lease", extra={"error": str(e)})
