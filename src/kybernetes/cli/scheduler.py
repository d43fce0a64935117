"""`kyb scheduler`: place pending pods on nodes, through the API only.

`--config` takes a KubeSchedulerConfiguration-like file (profiles, plugins,
weights; see kybernetes.scheduler.config). With `--leader-elect` several
schedulers may run; one holds the kube-system/kube-scheduler Lease and works, the
others keep warm caches and take over when it goes. The lease defaults (10 s /
7 s / 2 s, shorter than kube-scheduler's 15/10/2) make a standby take over
within 15 s of the leader dying; SIGTERM releases the lease so the hand-over is
immediate. Losing the lease exits 1 so a supervisor restarts the process.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import socket
import uuid

from kybernetes import collector
from kybernetes import log as logsetup
from kybernetes.cli.errors import CliError
from kybernetes.client import ApiClient, LeaderElector, LeadershipLost
from kybernetes.client.kubeconfig import KubeconfigError, load_kubeconfig
from kybernetes.scheduler.config import ConfigError, SchedulerConfig, load_config
from kybernetes.scheduler.scheduler import Scheduler
from kybernetes.scheduler.server import HealthServer

HELP = "assign pending pods to nodes (filters, scores, profiles, leader election)"
log = logging.getLogger("kybernetes.cli.scheduler")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--kubeconfig", required=True, help="kubeconfig of the API server")
    parser.add_argument("--config", help="KubeSchedulerConfiguration file (profiles, plugins)")
    parser.add_argument("--leader-elect", action="store_true",
                        help="campaign for the kube-system/kube-scheduler Lease")
    parser.add_argument("--leader-elect-lease-duration", type=float, default=10.0,
                        help="seconds (default 10)")
    parser.add_argument("--leader-elect-renew-deadline", type=float, default=7.0,
                        help="seconds (default 7)")
    parser.add_argument("--leader-elect-retry-period", type=float, default=2.0,
                        help="seconds (default 2)")
    parser.add_argument("--leader-elect-resource-name", default="kube-scheduler")
    parser.add_argument("--leader-elect-resource-namespace", default="kube-system")
    parser.add_argument("--bind-concurrency", type=int, default=64,
                        help="binding requests in flight at once (default 64)")
    parser.add_argument("--healthz-port", type=int, default=0,
                        help="serve /healthz and /metrics on this port (0 = off, the default)")
    parser.add_argument("--healthz-bind-address", default="127.0.0.1")
    parser.add_argument("-v", "--verbose", action="count", default=0)


def _config(args: argparse.Namespace) -> SchedulerConfig:
    try:
        config = load_config(args.config)
    except ConfigError as e:
        raise CliError(f"--config: {e}") from None
    le = (args.leader_elect_lease_duration, args.leader_elect_renew_deadline,
          args.leader_elect_retry_period)
    if args.leader_elect and not le[0] > le[1] > le[2] > 0:
        raise CliError("need --leader-elect-lease-duration > --leader-elect-renew-deadline > "
                       "--leader-elect-retry-period > 0")
    if args.bind_concurrency < 1:
        raise CliError("--bind-concurrency must be at least 1")
    return config


async def _main(args: argparse.Namespace, config: SchedulerConfig) -> int:
    client = ApiClient.from_kubeconfig(args.kubeconfig)
    try:
        scheduler = Scheduler(client, config, bind_concurrency=args.bind_concurrency)
    except ValueError as e:  # a plugin refused its args
        await client.aclose()
        raise CliError(f"--config: {e}") from None
    server = None
    main = asyncio.current_task()
    assert main is not None
    for sig in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(sig, main.cancel)
    try:
        if args.healthz_port:
            server = HealthServer(scheduler.metrics, host=args.healthz_bind_address,
                                  port=args.healthz_port)
            try:
                await server.start()
            except OSError as e:
                raise CliError(f"cannot serve /healthz on {args.healthz_bind_address}:"
                               f"{args.healthz_port}: {e.strerror}") from None
        await scheduler.start()
        log.info("scheduler started", extra={"profiles": ",".join(scheduler.profiles)})
        if args.leader_elect:
            elector = LeaderElector(
                client, namespace=args.leader_elect_resource_namespace,
                name=args.leader_elect_resource_name,
                identity=f"{socket.gethostname()}_{os.getpid()}_{uuid.uuid4().hex[:8]}",
                lease_duration=args.leader_elect_lease_duration,
                renew_deadline=args.leader_elect_renew_deadline,
                retry_period=args.leader_elect_retry_period)
            await elector.run(scheduler.run)
        else:
            await scheduler.run()
    except asyncio.CancelledError:
        log.info("scheduler stopping")
        return 0
    except LeadershipLost as e:
        log.error("leader election lost", extra={"error": str(e)})
        return 1
    finally:
        await scheduler.aclose()
        if server is not None:
            await server.aclose()
        await client.aclose()
    return 0


def run(args: argparse.Namespace) -> int:
    logsetup.setup(args.verbose)
    config = _config(args)
    try:
        load_kubeconfig(args.kubeconfig)
    except KubeconfigError as e:
        raise CliError(str(e)) from None
    collector.tune_for_serving()
    with contextlib.suppress(KeyboardInterrupt):
        return asyncio.run(_main(args, config))
    return 0
