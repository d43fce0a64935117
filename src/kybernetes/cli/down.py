"""`kyb down`: stop the cluster that `kyb up` runs from a data directory.

The objects stay in the store, so `kyb up` on the same directory brings them back.
"""

from __future__ import annotations

import argparse
import os
import signal
import time

from kybernetes.cli import cluster_dir
from kybernetes.cli.errors import CliError

HELP = "stop the cluster started by `kyb up` (its objects are kept)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-dir", help="the cluster's data directory (default ~/.kyb)")
    parser.add_argument("--timeout", type=float, default=90.0,
                        help="seconds to wait for a clean stop before killing (default 90)")


def run(args: argparse.Namespace) -> int:
    cdir = cluster_dir.resolve(args.data_dir)
    pid = cdir.supervisor_pid()
    if pid is None:
        print(f"no cluster is running from {cdir.root}")
        return 0
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + args.timeout
    while time.monotonic() < deadline:
        if cdir.supervisor_pid() is None:
            print(f"stopped the cluster in {cdir.root}")
            return 0
        time.sleep(0.2)
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        return 0
    raise CliError(f"the cluster did not stop within {args.timeout:.0f}s and was killed; "
                   f"its components may still run: see {cdir.run}/status.json")
