"""The `kyb` command: one subcommand per component, plus `up`, `down` and `status`.

Each subcommand lives in its own module under :mod:`kybernetes.cli` and exposes
``HELP`` (one line), ``add_arguments(parser)`` and ``run(args) -> int``. A user
error raises :class:`CliError`, which ends in one clear line and exit code 2.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from kybernetes import __version__
from kybernetes.cli.errors import CliError

SUBCOMMANDS = (
    "up", "down", "status", "apiserver", "controller_manager", "scheduler", "kubelet",
    "containerd", "image",
    "proxy", "dns", "pod_network", "network_policy", "hollow_nodes", "kubeconfig", "dashboard",
    "dashboard_url",
    "api_lb", "token", "join", "backup", "restore",
)


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The `kyb` parser; with `only`, just that subcommand's module is imported (a
    component starts without importing every other one: seconds on a busy machine)."""
    parser = argparse.ArgumentParser(prog="kyb", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"kybernetes {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in (only,) if only else SUBCOMMANDS:
        module = importlib.import_module(f"kybernetes.cli.{name}")
        command = name.replace("_", "-")
        p = sub.add_parser(command, help=module.HELP, description=module.HELP)
        module.add_arguments(p)
        p.set_defaults(_run=module.run)
    return parser


def _chosen(argv: list[str]) -> str | None:
    """The subcommand module `argv` names first, if it names one (else all are loaded,
    so `kyb --help` lists every command and a wrong one gets argparse's choices)."""
    first = argv[0] if argv else ""
    return next((name for name in SUBCOMMANDS if name.replace("_", "-") == first), None)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser(_chosen(sys.argv[1:] if argv is None else argv))
    args = parser.parse_args(argv)
    if not getattr(args, "_run", None):
        parser.print_help()
        return 2
    try:
        return int(args._run(args) or 0)
    except CliError as e:
        print(f"kyb {args.command}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
