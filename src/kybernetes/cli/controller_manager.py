"""`kyb controller-manager`: run the controllers against an API server.

Flags follow kube-controller-manager's names and duration syntax (`40s`, `5m`,
`1m30s`, `500ms`). SIGTERM or Ctrl-C stops the controllers, releases the leader
lease (so a standby takes over at once) and exits 0; losing the lease exits 1,
so a supervisor restarts this process as a standby.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ipaddress
import logging
import signal
from pathlib import Path

from aiohttp import web

from kybernetes import collector
from kybernetes import log as logsetup
from kybernetes.cli.durations import parse_duration
from kybernetes.cli.errors import CliError
from kybernetes.client import ApiClient, LeadershipLost
from kybernetes.client.kubeconfig import KubeconfigError, load_kubeconfig
from kybernetes.controllers.manager import (
    ControllerManager,
    Options,
    known_controllers,
    select_controllers,
)

HELP = "run the controllers (replication, endpoints, nodes, namespaces, garbage collector, …)"
log = logging.getLogger("kybernetes.cli.controller_manager")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--kubeconfig", required=True, help="kubeconfig of the API server")
    parser.add_argument("--controllers", default="*",
                        help="controllers to run: '*' for all, 'name' to add, '-name' to "
                        f"remove (known: {', '.join(known_controllers())})")
    parser.add_argument("--leader-elect", action="store_true",
                        help="campaign for the kube-system/kube-controller-manager Lease")
    parser.add_argument("--leader-elect-lease-duration", type=parse_duration, default=15.0)
    parser.add_argument("--leader-elect-renew-deadline", type=parse_duration, default=10.0)
    parser.add_argument("--leader-elect-retry-period", type=parse_duration, default=2.0)
    parser.add_argument("--leader-elect-resource-name", default="kube-controller-manager")
    parser.add_argument("--leader-elect-resource-namespace", default="kube-system")
    parser.add_argument("--cluster-cidr", default="10.244.0.0/16",
                        help="range of pod IPs; every node gets a slice (default 10.244.0.0/16)")
    parser.add_argument("--node-cidr-mask-size", type=int, default=24,
                        help="prefix length of each node's pod CIDR (default 24)")
    parser.add_argument("--node-monitor-grace-period", type=parse_duration, default=40.0,
                        help="how long a node may be silent before it is Unknown (default 40s)")
    parser.add_argument("--node-monitor-period", type=parse_duration, default=5.0,
                        help="how often node health is checked (default 5s)")
    parser.add_argument("--pod-eviction-timeout", type=parse_duration, default=300.0,
                        help="how long pods stay on a lost node before they are deleted "
                        "(default 5m; a pod's tolerationSeconds wins)")
    parser.add_argument("--cluster-signing-cert-file", default="",
                        help="CA certificate (PEM) that signs approved CSRs of the "
                        "kubernetes.io/kube-apiserver-client(-kubelet) signers")
    parser.add_argument("--cluster-signing-key-file", default="",
                        help="the CA's private key (PEM)")
    parser.add_argument("--cluster-signing-duration", type=parse_duration,
                        default=365 * 24 * 3600.0,
                        help="longest lifetime of a signed certificate (default 8760h)")
    parser.add_argument("--root-ca-file", default="",
                        help="CA bundle (PEM) published to every namespace as the "
                        "kube-root-ca.crt ConfigMap (default: the kubeconfig's CA)")
    parser.add_argument("--local-path-root", type=Path, default=None,
                        help="where the kyb.io/local-path provisioner makes a directory per "
                             "claim (default: $KYB_LOCAL_PATH_ROOT or "
                             "/var/lib/kybernetes/local-path)")
    parser.add_argument("--horizontal-pod-autoscaler-sync-period", type=parse_duration,
                        default=15.0, metavar="DURATION",
                        help="how often each HorizontalPodAutoscaler is evaluated (default 15s)")
    parser.add_argument("--concurrent-syncs", type=int, default=None,
                        help="workers per controller (default: each controller's own)")
    parser.add_argument("--healthz-port", type=int, default=0,
                        help="serve /healthz on this port (0 = off, the default)")
    parser.add_argument("--healthz-bind-address", default="127.0.0.1")
    parser.add_argument("-v", "--verbose", action="count", default=0)


def _options(args: argparse.Namespace) -> tuple[list[str], Options]:
    try:
        names = select_controllers(args.controllers)
    except ValueError as e:
        raise CliError(str(e)) from None
    try:
        cidr = ipaddress.ip_network(args.cluster_cidr, strict=False)
    except ValueError:
        raise CliError(f"--cluster-cidr {args.cluster_cidr!r} is not a CIDR") from None
    if not cidr.prefixlen < args.node_cidr_mask_size <= cidr.max_prefixlen:
        raise CliError(f"--node-cidr-mask-size {args.node_cidr_mask_size} must be longer than "
                       f"the cluster CIDR's /{cidr.prefixlen} and at most /{cidr.max_prefixlen}")
    le = (args.leader_elect_lease_duration, args.leader_elect_renew_deadline,
          args.leader_elect_retry_period)
    if args.leader_elect and not le[0] > le[1] > le[2] > 0:
        raise CliError("need --leader-elect-lease-duration > --leader-elect-renew-deadline > "
                       "--leader-elect-retry-period > 0")
    if args.horizontal_pod_autoscaler_sync_period <= 0:
        raise CliError("--horizontal-pod-autoscaler-sync-period must be longer than 0s")
    _check_signing(args)
    return names, Options(cluster_cidr=cidr, node_cidr_mask_size=args.node_cidr_mask_size,
                          node_monitor_grace_period=args.node_monitor_grace_period,
                          node_monitor_period=args.node_monitor_period,
                          pod_eviction_timeout=args.pod_eviction_timeout,
                          workers=args.concurrent_syncs,
                          horizontal_pod_autoscaler_sync_period=(
                              args.horizontal_pod_autoscaler_sync_period),
                          cluster_signing_cert_file=args.cluster_signing_cert_file,
                          cluster_signing_key_file=args.cluster_signing_key_file,
                          cluster_signing_duration=args.cluster_signing_duration,
                          **({"local_path_root": args.local_path_root}
                             if args.local_path_root else {}))


def _check_signing(args: argparse.Namespace) -> None:
    """Both signing files or neither, and readable: fail at start, not in a controller."""
    cert, key = args.cluster_signing_cert_file, args.cluster_signing_key_file
    if bool(cert) != bool(key):
        raise CliError("give both --cluster-signing-cert-file and --cluster-signing-key-file")
    if args.cluster_signing_duration <= 0:
        raise CliError("--cluster-signing-duration must be longer than 0")
    if cert:
        from kybernetes.controllers.csr_signing import CertificateAuthority

        try:
            CertificateAuthority(cert, key)
        except (OSError, ValueError, TypeError) as e:
            raise CliError(f"cannot load the cluster signing CA: {e}") from None


def _root_ca(path: str, kubeconfig_ca: bytes | None) -> str:
    """--root-ca-file's PEM, else the CA the kubeconfig trusts, as kube-controller-manager."""
    if not path:
        return (kubeconfig_ca or b"").decode()
    try:
        return Path(path).read_text()
    except OSError as e:
        raise CliError(f"--root-ca-file {path}: {e.strerror}") from None


async def _serve_healthz(manager: ControllerManager, host: str, port: int) -> web.AppRunner:
    async def healthz(_: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def readyz(_: web.Request) -> web.Response:
        ok = manager.running.is_set()
        return web.Response(text="ok" if ok else "not leading or not synced",
                            status=200 if ok else 503)

    app = web.Application()
    app.add_routes([web.get("/healthz", healthz), web.get("/livez", healthz),
                    web.get("/readyz", readyz)])
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
    except OSError as e:
        await runner.cleanup()
        raise CliError(f"cannot serve /healthz on {host}:{port}: {e.strerror}") from None
    return runner


async def _main(args: argparse.Namespace, names: list[str], options: Options) -> int:
    try:
        client = ApiClient.from_kubeconfig(args.kubeconfig, user_agent="kyb-controller-manager")
    except KubeconfigError as e:
        raise CliError(str(e)) from None
    manager = ControllerManager(client, names, options)
    runner = None
    main = asyncio.current_task()
    assert main is not None
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, main.cancel)
    try:
        if args.healthz_port:
            runner = await _serve_healthz(manager, args.healthz_bind_address, args.healthz_port)
        log.info("controller manager starting", extra={"controllers": ",".join(names)})
        if args.leader_elect:
            await manager.run_with_leader_election(
                namespace=args.leader_elect_resource_namespace,
                name=args.leader_elect_resource_name,
                lease_duration=args.leader_elect_lease_duration,
                renew_deadline=args.leader_elect_renew_deadline,
                retry_period=args.leader_elect_retry_period)
        else:
            await manager.run()
    except asyncio.CancelledError:
        log.info("controller manager stopping")
        return 0
    except LeadershipLost as e:
        log.error("leader election lost", extra={"error": str(e)})
        return 1
    except CliError:
        raise
    except Exception:
        log.exception("controller manager failed")
        return 1
    finally:
        if runner is not None:
            await runner.cleanup()
        await client.aclose()
    return 0


def run(args: argparse.Namespace) -> int:
    logsetup.setup(args.verbose)
    names, options = _options(args)
    try:
        kubeconfig = load_kubeconfig(args.kubeconfig)
    except KubeconfigError as e:
        raise CliError(str(e)) from None
    options.root_ca = _root_ca(args.root_ca_file, kubeconfig.ca_pem)
    collector.tune_for_serving()
    with contextlib.suppress(KeyboardInterrupt):
        return asyncio.run(_main(args, names, options))
    return 0
