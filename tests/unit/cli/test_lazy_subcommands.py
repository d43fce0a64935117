"""`kyb <component>` imports only that component's module; `kyb --help` lists them all."""

from __future__ import annotations

import subprocess
import sys

import pytest

from kybernetes.cli.durations import parse_duration
from kybernetes.cli.main import SUBCOMMANDS, _chosen, build_parser


def test_the_named_subcommand_alone_is_chosen() -> None:
    assert _chosen(["kubelet", "--node-name", "n"]) == "kubelet"
    assert _chosen(["controller-manager"]) == "controller_manager"
    assert _chosen(["controller_manager"]) is None  # not a command name: argparse says so
    assert _chosen(["--help"]) is None
    assert _chosen([]) is None


def test_help_lists_every_command_with_its_help_line() -> None:
    text = build_parser().format_help()
    for name in SUBCOMMANDS:
        assert name.replace("_", "-") in text


def test_a_component_starts_without_importing_the_others() -> None:
    probe = ("import sys\nfrom kybernetes.cli.main import build_parser, _chosen\n"
             "build_parser(_chosen(['kubelet']))\n"
             "print(sorted(m for m in sys.modules if m.startswith('kybernetes.cli.')))\n")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         check=True).stdout
    assert "'kybernetes.cli.kubelet'" in out
    for other in ("controller_manager", "apiserver", "up", "dashboard", "scheduler"):
        assert f"'kybernetes.cli.{other}'" not in out


def test_durations() -> None:
    assert parse_duration("1m30s") == 90.0
    assert parse_duration("500ms") == 0.5
    assert parse_duration("7") == 7.0
    with pytest.raises(Exception, match="invalid duration"):
        parse_duration("5 minutes")
