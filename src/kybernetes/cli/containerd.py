"""`kyb containerd`: a containerd of the node's own, until SIGTERM.

What `kyb up --runtime containerd` runs for each node (in the node's network
namespace, so CNI's bridge and the pods' namespaces hang off the node's): the
configuration, root, state and CNI files under --root-dir, the pause and busybox
images imported offline. On SIGTERM every pod sandbox is removed through CRI,
containerd stops, and its mounts, shims and bridge are cleaned up.
"""

from __future__ import annotations

import argparse
import signal
import threading
from pathlib import Path
from types import FrameType

from kybernetes import log
from kybernetes.cli.errors import CliError

HELP = "run a containerd with its CRI plugin for one node (state under --root-dir)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--root-dir", required=True,
                        help="its config, root, state and CNI files (the socket's path is "
                        "printed and derived from this directory)")
    parser.add_argument("--registry-mirror", action="append", default=[], metavar="NAME=URL",
                        help="pull images named NAME/... (host:port) from the plain-HTTP "
                        "registry at URL (repeatable; `kyb up --registry` passes its own)")
    parser.add_argument("-v", "--verbose", action="count", default=0)


def run(args: argparse.Namespace) -> int:
    from kybernetes.kubelet.runtime.containerd_daemon import Containerd, ContainerdError

    log.setup(args.verbose)
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, on_signal)
    mirrors = {}
    for item in args.registry_mirror:
        name, _, url = item.partition("=")
        if not name or not url.startswith("http://"):
            raise CliError(f"--registry-mirror {item!r}: expected NAME=http://HOST:PORT")
        mirrors[name] = url
    daemon = Containerd(Path(args.root_dir), mirrors=mirrors)
    try:
        try:
            daemon.start()
        except ContainerdError as e:
            raise CliError(str(e)) from None
        print(f"containerd ready on {daemon.endpoint}", flush=True)
        while not stop.wait(1.0):
            if daemon.process is not None and daemon.process.poll() is not None:
                raise CliError(f"containerd exited with {daemon.process.returncode}")
    finally:
        daemon.stop()
    return 0
