"""The proxy's counters and their Prometheus text form.

Per service port (label ``service="ns/name:port"``): connections accepted,
bytes each way and errors (no endpoint, dial failures), plus sync counts and the
time of the last successful sync, which /healthz also reads. In iptables mode no
byte passes through the process: connections come from the rule counters and
bytes are not reported.
"""

from __future__ import annotations

import time
from collections import defaultdict


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


class Metrics:
    """Plain counters; the event loop is the only writer, so no locks."""

    def __init__(self) -> None:
        self.connections: defaultdict[str, int] = defaultdict(int)
        self.bytes_in: defaultdict[str, int] = defaultdict(int)  # client → endpoint
        self.bytes_out: defaultdict[str, int] = defaultdict(int)  # endpoint → client
        self.errors: defaultdict[str, int] = defaultdict(int)
        self.active: defaultdict[str, int] = defaultdict(int)
        self.syncs = 0
        self.sync_errors = 0
        self.last_sync = 0.0  # wall clock of the last successful sync; 0 = never
        self.last_sync_seconds = 0.0

    def synced(self, duration: float) -> None:
        self.syncs += 1
        self.last_sync = time.time()
        self.last_sync_seconds = duration

    def render(self, *, connections: dict[str, int] | None = None) -> str:
        """Prometheus text exposition; `connections` overrides the counted ones."""
        conns = connections if connections is not None else self.connections
        lines: list[str] = []
        families = (
            ("kyb_proxy_connections_total", "counter", "Connections to a service port.",
             conns),
            ("kyb_proxy_active_connections", "gauge", "Open connections (userspace).",
             self.active),
            ("kyb_proxy_received_bytes_total", "counter",
             "Bytes from clients to endpoints (userspace).", self.bytes_in),
            ("kyb_proxy_sent_bytes_total", "counter",
             "Bytes from endpoints to clients (userspace).", self.bytes_out),
            ("kyb_proxy_errors_total", "counter",
             "Connections that found no ready endpoint or could not reach one.", self.errors),
        )
        for name, kind, help_text, values in families:
            lines += [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}"]
            lines += [f'{name}{{service="{_escape(k)}"}} {v}' for k, v in sorted(values.items())]
        lines += [
            "# HELP kyb_proxy_sync_proxy_rules_total Syncs of the proxy rules.",
            "# TYPE kyb_proxy_sync_proxy_rules_total counter",
            f"kyb_proxy_sync_proxy_rules_total {self.syncs}",
            "# HELP kyb_proxy_sync_proxy_rules_errors_total Syncs that failed.",
            "# TYPE kyb_proxy_sync_proxy_rules_errors_total counter",
            f"kyb_proxy_sync_proxy_rules_errors_total {self.sync_errors}",
            "# HELP kyb_proxy_sync_proxy_rules_last_timestamp_seconds Last successful sync.",
            "# TYPE kyb_proxy_sync_proxy_rules_last_timestamp_seconds gauge",
            f"kyb_proxy_sync_proxy_rules_last_timestamp_seconds {self.last_sync:.3f}",
            "# HELP kyb_proxy_sync_proxy_rules_duration_seconds Duration of the last sync.",
            "# TYPE kyb_proxy_sync_proxy_rules_duration_seconds gauge",
            f"kyb_proxy_sync_proxy_rules_duration_seconds {self.last_sync_seconds:.6f}",
        ]
        return "\n".join(lines) + "\n"
