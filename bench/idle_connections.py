"""What idle connections cost the API server: its RSS before, with and after a storm of
connections that never send a request.

Run from the repo root: ``.venv/bin/python bench/idle_connections.py [--count 2000]``.
Prints one JSON object. One real ``kyb apiserver`` (SQLite, plain HTTP on a second
loopback port as well). Three storms, each of ``--count`` connections held for
``--hold`` seconds and then closed by the client, RSS (MiB, /proc/<pid>/status) read
while they are open and ``--settle`` seconds after they are closed:

- ``tls``: TLS connections that complete their handshake, then send nothing;
- ``tcp_to_tls``: TCP connections to the TLS port that never begin a handshake;
- ``plain``: TCP connections to the plain HTTP port that never send;
- ``server_closed``: how many of one more storm's connections the server itself closed
  within ``--read-header-timeout`` + 5 s (the timeouts at work, not the client).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support.apiserver import ApiServer  # noqa: E402
from tests.support.connections import closed_by_peer, idle_connections, rss_mib  # noqa: E402
from tests.support.net import free_port  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--hold", type=float, default=2.0)
    parser.add_argument("--settle", type=float, default=3.0)
    parser.add_argument("--read-header-timeout", type=float, default=5.0)
    parser.add_argument("--baseline", action="store_true",
                        help="no timeout flags (for a server without them)")
    args = parser.parse_args()
    extra = () if args.baseline else ("--read-header-timeout", str(args.read_header_timeout))
    plain = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        server = ApiServer(Path(tmp), extra_args=(
            "--insecure-port", str(plain), *extra)).start()
        try:
            assert server.proc is not None and server.proc.popen is not None
            pid = server.proc.popen.pid
            ca = Path(tmp) / "pki" / "ca.crt"
            result: dict[str, object] = {"count": args.count, "baseline": rss_mib(pid)}
            for name, port, tls in (("tls", server.port, True),
                                    ("tcp_to_tls", server.port, False),
                                    ("plain", plain, False)):
                with idle_connections(port, args.count, tls=tls, ca=ca) as opened:
                    time.sleep(args.hold)
                    during = rss_mib(pid)
                time.sleep(args.settle)
                result[name] = {"opened": len(opened), "during": round(during, 1),
                                "after": round(rss_mib(pid), 1)}
            with idle_connections(server.port, args.count, tls=True, ca=ca) as opened:
                deadline = time.monotonic() + args.read_header_timeout + 5
                result["server_closed"] = sum(
                    closed_by_peer(s, max(0.01, deadline - time.monotonic())) for s in opened)
            time.sleep(args.settle)
            result["final"] = round(rss_mib(pid), 1)
            print(json.dumps(result))
        finally:
            server.stop()


if __name__ == "__main__":
    main()
