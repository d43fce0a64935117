"""Pod IPs from the node's pod CIDR (host-local IPAM, in memory).

The first address is the bridge's gateway; pods get the following ones. The
kubelet rebuilds the pool at start from the sandboxes the runtime still has,
so adopted pods keep their addresses and new pods never reuse them.
"""

from __future__ import annotations

import ipaddress


class IpPool:
    """Hands out the addresses of one IPv4 network, keyed by pod UID."""

    def __init__(self, cidr: str) -> None:
        self.network = ipaddress.ip_network(cidr, strict=False)
        hosts = self.network.hosts()
        self.gateway = str(next(hosts))
        self._free = (str(ip) for ip in hosts)
        self._by_uid: dict[str, str] = {}
        self._released: list[str] = []
        self._used: set[str] = {self.gateway}

    @property
    def prefix(self) -> int:
        return self.network.prefixlen

    def assign(self, uid: str, ip: str) -> None:
        """Record an address already in use (an adopted sandbox)."""
        self._by_uid[uid] = ip
        self._used.add(ip)

    def allocate(self, uid: str) -> str:
        """The pod's address, allocating one the first time; ValueError when none is left."""
        if uid in self._by_uid:
            return self._by_uid[uid]
        for ip in self._free:  # fresh addresses first: a reused one may linger in ARP caches
            if ip not in self._used:
                return self._take(uid, ip)
        while self._released:
            ip = self._released.pop(0)
            if ip not in self._used:
                return self._take(uid, ip)
        raise ValueError(f"no free address left in {self.network}")

    def _take(self, uid: str, ip: str) -> str:
        self._by_uid[uid] = ip
        self._used.add(ip)
        return ip

    def release(self, uid: str) -> None:
        ip = self._by_uid.pop(uid, None)
        if ip is not None:
            self._used.discard(ip)
            self._released.append(ip)
