"""ClusterIP and NodePort allocation for Services, as the Kubernetes API server does it.

The services handlers call :meth:`ServiceAllocator.allocate` on create and update
(before the object is written) and :meth:`ServiceAllocator.release` after a delete
(or when the write that followed an allocate failed). Two persisted bitmaps
(:mod:`kybernetes.apiserver.range_allocation`) guarantee that no address or port is
given twice, even by racing requests or several API servers on one store.

Rules kept from Kubernetes (pkg/registry/core/service/ipallocator, portallocator,
storage/alloc.go):

- the first address of ``--service-cluster-ip-range`` is kept for the ``kubernetes``
  Service: only asked for by value, never handed out dynamically;
- a requested clusterIP or nodePort is honoured, or refused with 422 Invalid
  (``provided IP is already allocated`` / ``…not in the valid range``);
- ``clusterIP: None`` is a headless Service: no address; ExternalName gets none;
- NodePort and LoadBalancer Services get one nodePort per port (one port number
  shared by two protocols keeps one nodePort);
- on update, an omitted clusterIP or nodePort keeps the old one; a clusterIP may not
  change once set; a type change allocates what the new type needs and releases what
  it no longer does — released once the store shows the updated Service (checked
  shortly after), so a failed write never frees what the stored object still holds.

Repair: on :meth:`start` (before serving) the bitmaps are reconciled with the stored
Services: anything a Service holds is marked at once; offsets held by no Service
are released only when a later pass still finds them unheld, so that an allocation
in flight on another API server is never freed under it.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
from typing import Any

import orjson

from kybernetes.api.errors import InternalError, invalid
from kybernetes.apiserver.range_allocation import (
    AllocationError,
    AlreadyAllocated,
    RangeAllocation,
    RangeFull,
)
from kybernetes.storage.interface import Store
from kybernetes.tasks import cancel_and_wait, spawn

log = logging.getLogger("kybernetes.apiserver.service_allocation")

SERVICE_IPS_KEY = "/registry/ranges/serviceips"
NODE_PORTS_KEY = "/registry/ranges/servicenodeports"
SERVICES_PREFIX = "/registry/services/"  # the API server keeps /registry/services/<ns>/<name>
REPAIR_INTERVAL = 60.0
RELEASE_CHECKS = (0.05, 0.2, 1.0, 5.0)  # seconds between looks at an updated Service

Cause = tuple[str, str, str]


def _value(v: Any) -> str:
    return orjson.dumps(v).decode()


def _bad(service: dict[str, Any], causes: list[Cause]) -> Exception:
    return invalid("Service", service.get("metadata", {}).get("name", ""), causes)


def parse_port_range(text: str) -> tuple[int, int]:
    """`30000-32767` (or `30000+2767`) → (first, last); ValueError when malformed."""
    if "+" in text:
        base, _, extra = text.partition("+")
        first, last = int(base), int(base) + int(extra)
    else:
        base, sep, end = text.partition("-")
        first, last = int(base), int(end) if sep else int(base)
    if not 0 < first <= last <= 65535:
        raise ValueError(f"invalid port range {text!r}")
    return first, last


def needs_cluster_ip(service: dict[str, Any]) -> bool:
    spec = service.get("spec") or {}
    return spec.get("type", "ClusterIP") != "ExternalName"


def needs_node_ports(service: dict[str, Any]) -> bool:
    spec = service.get("spec") or {}
    kind = spec.get("type", "ClusterIP")
    if kind == "LoadBalancer":
        return spec.get("allocateLoadBalancerNodePorts", True) is not False
    return kind == "NodePort"


def needs_health_check_node_port(service: dict[str, Any]) -> bool:
    """kube's needsHCNodePort: a LoadBalancer whose external traffic stays local."""
    spec = service.get("spec") or {}
    return (spec.get("type") == "LoadBalancer"
            and spec.get("externalTrafficPolicy") == "Local")


def _node_ports(service: dict[str, Any] | None) -> set[int]:
    """Every port `service` holds in the node-port range (nodePorts and its
    healthCheckNodePort, which kube allocates from the same range)."""
    if not service:
        return set()
    spec = service.get("spec") or {}
    ports = {int(p["nodePort"]) for p in spec.get("ports") or [] if p.get("nodePort")}
    if isinstance(spec.get("healthCheckNodePort"), int) and spec["healthCheckNodePort"]:
        ports.add(spec["healthCheckNodePort"])
    return ports


def _same_port(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return (a.get("port") == b.get("port")
            and a.get("protocol", "TCP") == b.get("protocol", "TCP"))


def patch_allocated_values(service: dict[str, Any], old: dict[str, Any]) -> None:
    """On update: keep the clusterIP and nodePorts the client left out, and drop
    the ones the new type cannot have if they are unchanged (Kubernetes'
    patchAllocatedValues and dropTypeDependentFields). Pure; idempotent; the API
    server calls it before validating an update."""
    spec = service["spec"] = service.get("spec") or {}  # `spec: null` decodes as empty
    old_spec = old.get("spec") or {}
    if needs_cluster_ip(service) and needs_cluster_ip(old) and old_spec.get("clusterIP"):
        if not spec.get("clusterIP") and not spec.get("clusterIPs"):
            spec["clusterIP"] = old_spec["clusterIP"]
            spec["clusterIPs"] = list(old_spec.get("clusterIPs") or [old_spec["clusterIP"]])
    elif not needs_cluster_ip(service) and spec.get("clusterIP") == old_spec.get("clusterIP"):
        for name in ("clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy"):
            spec.pop(name, None)  # ExternalName has no address (dropTypeDependentFields)
    old_check = old_spec.get("healthCheckNodePort")
    if old_check and needs_health_check_node_port(old):
        if needs_health_check_node_port(service) and not spec.get("healthCheckNodePort"):
            spec["healthCheckNodePort"] = old_check
        elif (not needs_health_check_node_port(service)
              and spec.get("healthCheckNodePort") == old_check):
            spec.pop("healthCheckNodePort", None)  # no longer Local: given back
    old_ports = old_spec.get("ports") or []
    for port in spec.get("ports") or []:
        match = next((o for o in old_ports if _same_port(o, port) and o.get("nodePort")),
                     None)
        if match is None:
            continue
        if needs_node_ports(service) and needs_node_ports(old) and not port.get("nodePort"):
            port["nodePort"] = match["nodePort"]
        elif not needs_node_ports(service) and port.get("nodePort") == match["nodePort"]:
            port.pop("nodePort", None)  # the type no longer has nodePorts


class ServiceAllocator:
    """Hands out ClusterIPs and NodePorts; one per API server process."""

    def __init__(self, store: Store, cluster_ip_range: str = "10.96.0.0/12",
                 node_port_range: str = "30000-32767", *,
                 services_prefix: str = SERVICES_PREFIX,
                 repair_interval: float = REPAIR_INTERVAL) -> None:
        self.network = ipaddress.ip_network(cluster_ip_range, strict=False)
        self.ip_range_text = str(self.network)
        self.port_first, self.port_last = parse_port_range(node_port_range)
        self.port_range_text = f"{self.port_first}-{self.port_last}"
        self.services_prefix = services_prefix
        self.repair_interval = repair_interval
        ip_size = max(self.network.num_addresses - 2, 0)  # neither network nor broadcast
        port_size = self.port_last - self.port_first + 1
        self.ips = RangeAllocation(store, SERVICE_IPS_KEY, range_text=self.ip_range_text,
                                   size=ip_size, band=min(max(16, ip_size // 16), 256),
                                   reserved=(0,))
        self.ports = RangeAllocation(store, NODE_PORTS_KEY,
                                     range_text=self.port_range_text, size=port_size,
                                     band=min(max(16, port_size // 32), 128))
        self.store = store
        self._suspect_ips = 0
        self._suspect_ports = 0
        self._repair_task: asyncio.Task[Any] | None = None
        self._pending: set[asyncio.Task[Any]] = set()

    @property
    def kubernetes_service_ip(self) -> str:
        """The address kept for the `kubernetes` Service in `default`."""
        return str(self.network.network_address + 1)

    # -- lifecycle -------------------------------------------------------------------

    async def start(self) -> None:
        """Reconcile with the stored Services, then keep doing so in the background."""
        await self.repair()
        if self.repair_interval > 0:
            self._repair_task = spawn(self._repair_loop(), name="service-allocation-repair")

    async def aclose(self) -> None:
        await cancel_and_wait(self._repair_task, *self._pending)

    async def _repair_loop(self) -> None:
        while True:
            await asyncio.sleep(self.repair_interval)
            try:
                await self.repair()
            except asyncio.CancelledError:
                raise
            except Exception:  # a failed pass is retried on the next one
                log.warning("service allocation repair failed", exc_info=True)

    async def repair(self) -> None:
        """One pass: mark what Services hold; free what stayed unheld since the last."""
        held_ips, held_ports = 0, 0
        result = await self.store.list(self.services_prefix)
        for kv in result.kvs:
            service = orjson.loads(kv.value)
            ip = self._ip_offset(service.get("spec", {}).get("clusterIP"))
            if ip is not None:
                held_ips |= 1 << ip
            for port in _node_ports(service):
                if self.port_first <= port <= self.port_last:
                    held_ports |= 1 << (port - self.port_first)
        self._suspect_ips = await self._reconcile(self.ips, held_ips, self._suspect_ips)
        self._suspect_ports = await self._reconcile(self.ports, held_ports,
                                                    self._suspect_ports)

    @staticmethod
    async def _reconcile(rng: RangeAllocation, held: int, suspects: int) -> int:
        """Set `held` bits; clear bits unheld now and in the previous pass.

        Returns the bits found unheld this time (the next pass's suspects)."""
        await rng.load()
        leaked_before = suspects & ~held

        def fix(bits: int) -> int:
            return (bits | held) & ~(leaked_before & bits)

        bits = await rng.change(fix)
        if leaked_before:
            log.info("released leaked allocations", extra={"range": rng.key,
                                                          "count": leaked_before.bit_count()})
        return bits & ~held

    # -- the API --------------------------------------------------------------------

    async def allocate(self, service: dict[str, Any], old: dict[str, Any] | None, *,
                       dry_run: bool = False) -> None:
        """Fill in spec.clusterIP(s) and ports[].nodePort; raise Invalid when refused.

        On update (`old` given) keeps what the client omitted, allocates what the new
        spec needs and releases what it no longer holds (unless `dry_run`).
        """
        spec = service.setdefault("spec", {})
        if old is not None:
            patch_allocated_values(service, old)
        new_ip = await self._allocate_ip(service, old, dry_run=dry_run)
        try:
            await self._allocate_node_ports(service, old, dry_run=dry_run)
        except BaseException:
            if new_ip is not None and not dry_run:
                await self.ips.release([new_ip])
            raise
        if old is not None and not dry_run:
            self._release_after_write(old, service)
        if spec.get("clusterIP") and needs_cluster_ip(service):
            spec.setdefault("ipFamilies", ["IPv4"])
            spec.setdefault("ipFamilyPolicy", "SingleStack")

    async def release(self, service: dict[str, Any]) -> None:
        """Give back the Service's clusterIP and nodePorts (after a delete)."""
        ips, ports = self._held(service)
        await self.ips.release(ips)
        await self.ports.release(ports)

    # -- clusterIP -------------------------------------------------------------------

    def _ip_offset(self, text: Any) -> int | None:
        """The bitmap offset of an address in range, else None."""
        if not text or text == "None":
            return None
        try:
            address = ipaddress.ip_address(text)
        except ValueError:
            return None
        offset = int(address) - int(self.network.network_address) - 1
        return offset if 0 <= offset < self.ips.size else None

    def _requested_ip(self, service: dict[str, Any]) -> str:
        spec = service["spec"]
        ip = spec.get("clusterIP") or ""
        ips = spec.get("clusterIPs") or []
        if ips and ip and ips[0] != ip:
            raise _bad(service, [("spec.clusterIPs", "FieldValueInvalid",
                                  f"Invalid value: {_value(ips)}: first value must match "
                                  "`clusterIP`")])
        return ip or (ips[0] if ips else "")

    async def _allocate_ip(self, service: dict[str, Any], old: dict[str, Any] | None, *,
                           dry_run: bool) -> int | None:
        """Set the clusterIP; returns the offset newly taken (to undo), if any."""
        spec = service["spec"]
        if not needs_cluster_ip(service):
            return None
        ip = self._requested_ip(service)
        old_ip = (old or {}).get("spec", {}).get("clusterIP") if old else None
        if old is not None and needs_cluster_ip(old) and old_ip:
            if ip != old_ip:
                raise _bad(service, [("spec.clusterIPs[0]", "FieldValueInvalid",
                                      f"Invalid value: {_value(ip)}: may not change once set")])
            return None
        if ip == "None":
            spec["clusterIP"], spec["clusterIPs"] = "None", ["None"]
            return None
        if ip:
            offset = self._requested_ip_offset(service, ip)
            try:
                await self.ips.allocate([offset], 0, dry_run=dry_run)
            except AlreadyAllocated:
                raise self._ip_error(service, ip, "provided IP is already allocated") from None
        else:
            try:
                (offset,) = await self.ips.allocate([], 1, dry_run=dry_run)
            except RangeFull:
                raise InternalError("failed to allocate a serviceIP: range is full") from None
            ip = str(self.network.network_address + 1 + offset)
        spec["clusterIP"], spec["clusterIPs"] = ip, [ip]
        return None if dry_run else offset

    def _requested_ip_offset(self, service: dict[str, Any], ip: str) -> int:
        try:
            ipaddress.ip_address(ip)
        except ValueError:
            raise _bad(service, [("spec.clusterIPs[0]", "FieldValueInvalid",
                                  f"Invalid value: {_value(ip)}: must be a valid IP address, "
                                  "(e.g. 10.9.8.7 or 2001:db8::ffff)")]) from None
        offset = self._ip_offset(ip)
        if offset is None:
            raise self._ip_error(service, ip, "provided IP is not in the valid range. "
                                 f"The range of valid IPs is {self.ip_range_text}")
        return offset

    def _ip_error(self, service: dict[str, Any], ip: str, why: str) -> Exception:
        return _bad(service, [("spec.clusterIPs", "FieldValueInvalid",
                               f"Invalid value: {_value([ip])}: failed to allocate IP {ip}: "
                               f"{why}")])

    # -- nodePorts -------------------------------------------------------------------

    async def _allocate_node_ports(self, service: dict[str, Any],
                                   old: dict[str, Any] | None, *, dry_run: bool) -> None:
        spec = service["spec"]
        ports = spec.get("ports") or []
        check = spec.get("healthCheckNodePort")
        if check and not needs_health_check_node_port(service):
            raise _bad(service, [("spec.healthCheckNodePort", "FieldValueInvalid",
                                  f"Invalid value: {_value(check)}: may only be set when "
                                  "`type` is 'LoadBalancer' and `externalTrafficPolicy` is "
                                  "'Local'")])
        if not needs_node_ports(service):
            kind = spec.get("type", "ClusterIP")
            for i, port in enumerate(ports):
                if port.get("nodePort"):
                    raise _bad(service, [(f"spec.ports[{i}].nodePort", "FieldValueForbidden",
                                          f"Forbidden: may not be used when `type` is '{kind}'")])
            ports = []  # a LoadBalancer without nodePorts may still need a health check
            if not needs_health_check_node_port(service):
                return
        held = _node_ports(old) if old is not None else set()
        requested: dict[int, str] = {}  # port number → the field asking for it
        for i, port in enumerate(ports):
            number = port.get("nodePort")
            if number and number not in held:
                self._check_port_range(service, f"spec.ports[{i}].nodePort", int(number))
                requested.setdefault(int(number), f"spec.ports[{i}].nodePort")
        dynamic: list[dict[str, Any]] = [port for port in ports if not port.get("nodePort")]
        wants_check = needs_health_check_node_port(service)
        if wants_check and isinstance(check, int) and check and check not in held:
            self._check_port_range(service, "spec.healthCheckNodePort", check)
            requested.setdefault(check, "spec.healthCheckNodePort")
        try:
            picked = await self.ports.allocate(
                [n - self.port_first for n in requested],
                len(dynamic) + (wants_check and not check), dry_run=dry_run)
        except AlreadyAllocated as e:
            number = e.offset + self.port_first
            raise _bad(service, [(requested[number], "FieldValueInvalid",
                                  f"Invalid value: {number}: provided port is already "
                                  "allocated")]) from None
        except RangeFull:
            raise InternalError("failed to allocate a nodePort: range is full") from None
        for port, offset in zip(dynamic, picked, strict=False):
            port["nodePort"] = offset + self.port_first
        if wants_check and not check:
            spec["healthCheckNodePort"] = picked[-1] + self.port_first

    def _check_port_range(self, service: dict[str, Any], field: str, number: int) -> None:
        if not self.port_first <= number <= self.port_last:
            raise _bad(service, [(field, "FieldValueInvalid",
                                  f"Invalid value: {number}: provided port is not in the "
                                  f"valid range. The range of valid ports is "
                                  f"{self.port_range_text}")])

    async def abandon(self, service: dict[str, Any], old: dict[str, Any] | None) -> None:
        """Give back what `allocate` took for `service` beyond what `old` holds, when
        the write that would have kept it lost its compare-and-swap (it is retried
        from the fresh object, which allocates again)."""
        ips, ports = self._held(service)
        old_ips, old_ports = self._held(old)
        await self.ips.release(ips - old_ips)
        await self.ports.release(ports - old_ports)

    # -- WriteHooks: how the Service kind's writes reach the allocator ----------------

    async def before_write(self, new: dict[str, Any], old: dict[str, Any] | None, *,
                           dry_run: bool) -> None:
        await self.allocate(new, old, dry_run=dry_run)

    async def write_failed(self, new: dict[str, Any], old: dict[str, Any] | None) -> None:
        await self.abandon(new, old)

    async def after_delete(self, obj: dict[str, Any]) -> None:
        await self.release(obj)

    def _held(self, service: dict[str, Any] | None) -> tuple[set[int], set[int]]:
        """(ip offsets, nodePort offsets) that `service` holds in our ranges."""
        if not service:
            return set(), set()
        ip = self._ip_offset((service.get("spec") or {}).get("clusterIP"))
        ports = {p - self.port_first for p in _node_ports(service)
                 if self.port_first <= p <= self.port_last}
        return ({ip} if ip is not None else set()), ports

    def _release_after_write(self, old: dict[str, Any], new: dict[str, Any]) -> None:
        """After an update: give back what `old` held and `new` does not — but only
        once the store shows the new object, so a write that failed (a lost race, a
        conflict) never leaves a stored Service holding a freed address."""
        old_ips, old_ports = self._held(old)
        new_ips, new_ports = self._held(new)
        ips, ports = old_ips - new_ips, old_ports - new_ports
        meta = old.get("metadata") or {}
        if (ips or ports) and meta.get("name"):
            key = f"{self.services_prefix}{meta.get('namespace') or 'default'}/{meta['name']}"
            task = spawn(self._release_when_written(key, ips, ports),
                         name=f"service-allocation-release {key}")
            self._pending.add(task)
            task.add_done_callback(self._pending.discard)

    async def _release_when_written(self, key: str, ips: set[int], ports: set[int]) -> None:
        for delay in RELEASE_CHECKS:
            await asyncio.sleep(delay)
            _, kv = await self.store.get(key)
            held_ips, held_ports = self._held(orjson.loads(kv.value) if kv else None)
            if held_ips & ips or held_ports & ports:
                continue  # not written (yet): the stored object still holds them
            await self.ips.release(ips)
            await self.ports.release(ports)
            return
        # still held: the update never landed; the values stay with the stored object


__all__ = ["AllocationError", "ServiceAllocator", "needs_cluster_ip",
           "needs_health_check_node_port", "needs_node_ports", "parse_port_range",
           "patch_allocated_values"]
