"""A pod's `eth0` configured over rtnetlink from the kubelet, instead of one `ip -n` process
per pod: its address, eth0 and lo up, the default route through the node bridge.

The netlink socket is opened inside the pod's network namespace by a thread that enters
it (`setns` changes only the calling thread's namespace) and goes straight back; the
requests then go over that socket, which stays bound to the pod's namespace. One
dedicated thread does this, so no other work ever runs in a pod's namespace.
"""

from __future__ import annotations

import ctypes
import os
import socket
import struct
from concurrent.futures import ThreadPoolExecutor

CLONE_NEWNET = 0x40000000
NETLINK_ROUTE = 0
RTM_NEWLINK, RTM_NEWADDR, RTM_NEWROUTE = 16, 20, 24
NLM_F_REQUEST, NLM_F_ACK, NLM_F_EXCL, NLM_F_CREATE = 0x1, 0x4, 0x200, 0x400
NLMSG_ERROR = 2
IFF_UP = 0x1
IFA_ADDRESS, IFA_LOCAL = 1, 2
RTA_GATEWAY = 5
RT_TABLE_MAIN, RTPROT_BOOT, RT_SCOPE_UNIVERSE, RTN_UNICAST = 254, 3, 0, 1
LOOPBACK_INDEX = 1  # in every new namespace

_libc = ctypes.CDLL(None, use_errno=True)
# the one thread that enters pod namespaces (see the module docstring)
NETNS_THREAD = ThreadPoolExecutor(max_workers=1, thread_name_prefix="pod-netns")


def _setns(fd: int) -> None:
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"setns: {os.strerror(err)}")


def _attr(kind: int, data: bytes) -> bytes:
    length = 4 + len(data)
    return struct.pack("HH", length, kind) + data + b"\0" * (-length % 4)


class _Rtnl:
    """Requests with acknowledgements over one NETLINK_ROUTE socket."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.seq = 0

    def request(self, kind: int, flags: int, body: bytes) -> None:
        """Send one request; OSError with the kernel's errno when it refuses it."""
        self.seq += 1
        self.sock.send(struct.pack("IHHII", 16 + len(body), kind,
                                   NLM_F_REQUEST | NLM_F_ACK | flags, self.seq, 0) + body)
        while True:
            data = self.sock.recv(65536)
            offset = 0
            while offset + 16 <= len(data):
                length, mtype, _, seq, _ = struct.unpack_from("IHHII", data, offset)
                if mtype == NLMSG_ERROR and seq == self.seq:
                    error = struct.unpack_from("i", data, offset + 16)[0]
                    if error:
                        raise OSError(-error, os.strerror(-error))
                    return
                offset += (length + 3) & ~3 or len(data)


def _open_in(netns: str) -> tuple[socket.socket, int]:
    """A NETLINK_ROUTE socket in the namespace at `netns`, and the index of its eth0."""
    own = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    try:
        target = os.open(netns, os.O_RDONLY)
        try:
            _setns(target)
            try:
                sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_ROUTE)
                try:
                    return sock, socket.if_nametoindex("eth0")
                except OSError:
                    sock.close()
                    raise
            finally:
                _setns(own)
        finally:
            os.close(target)
    finally:
        os.close(own)


def configure_pod_interface(netns: str, ip: str, prefix: int, gateway: str) -> None:
    """What `ip -n <ns>` did: `addr add <ip>/<prefix> dev eth0`, `link set eth0 up`,
    `link set lo up`, `route add default via <gateway>` (run it on NETNS_THREAD)."""
    sock, eth0 = _open_in(netns)
    with sock:
        rtnl = _Rtnl(sock)
        address = socket.inet_aton(ip)
        rtnl.request(RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL,
                     struct.pack("BBBBI", socket.AF_INET, prefix, 0, 0, eth0)
                     + _attr(IFA_LOCAL, address) + _attr(IFA_ADDRESS, address))
        for index in (eth0, LOOPBACK_INDEX):
            rtnl.request(RTM_NEWLINK, 0,
                         struct.pack("BxHiII", socket.AF_UNSPEC, 0, index, IFF_UP, IFF_UP))
        rtnl.request(RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL,
                     struct.pack("BBBBBBBBI", socket.AF_INET, 0, 0, 0, RT_TABLE_MAIN,
                                 RTPROT_BOOT, RT_SCOPE_UNIVERSE, RTN_UNICAST, 0)
                     + _attr(RTA_GATEWAY, socket.inet_aton(gateway)))
