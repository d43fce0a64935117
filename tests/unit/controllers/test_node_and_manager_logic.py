"""Taints, tolerations, controller selection and durations."""

from __future__ import annotations

import argparse

import pytest

from kybernetes.cli.controller_manager import _options, add_arguments, parse_duration
from kybernetes.cli.errors import CliError
from kybernetes.controllers.manager import select_controllers
from kybernetes.controllers.node_lifecycle import (
    NOT_READY,
    UNREACHABLE,
    desired_taints,
    toleration_seconds,
)

TAINT = {"key": UNREACHABLE, "effect": "NoExecute"}


def test_taints_follow_ready_status() -> None:
    assert desired_taints("Unknown") == {(UNREACHABLE, "NoSchedule"), (UNREACHABLE, "NoExecute")}
    assert desired_taints("False") == {(NOT_READY, "NoSchedule"), (NOT_READY, "NoExecute")}
    assert desired_taints("True") == set()


@pytest.mark.parametrize("tolerations, expected", [
    ([], -1),
    ([{"key": UNREACHABLE, "operator": "Exists", "effect": "NoExecute",
       "tolerationSeconds": 30}], 30),
    ([{"key": UNREACHABLE, "operator": "Exists", "effect": "NoExecute"}], None),
    ([{"operator": "Exists"}], None),
    ([{"key": NOT_READY, "operator": "Exists", "tolerationSeconds": 5}], -1),
    ([{"key": UNREACHABLE, "operator": "Exists", "effect": "NoExecute",
       "tolerationSeconds": 300}], -1),  # the admission default: the flag decides
    ([{"key": UNREACHABLE, "operator": "Exists", "effect": "NoSchedule"}], -1),
    ([{"key": UNREACHABLE, "operator": "Exists", "tolerationSeconds": 9},
      {"operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 4}], 4),
])
def test_toleration_seconds(tolerations: list, expected: float | None) -> None:
    assert toleration_seconds({"spec": {"tolerations": tolerations}}, TAINT) == expected


def test_select_controllers() -> None:
    everything = select_controllers("*")
    assert "replicationcontroller" in everything and "garbagecollector" in everything
    assert "nodeipam" not in select_controllers("*,-nodeipam")
    # off by default, as in kube-controller-manager; kubeadm (and `kyb up`) name them
    assert "bootstrapsigner" not in everything and "tokencleaner" not in everything
    assert select_controllers("*,bootstrapsigner,tokencleaner")[-2:] == [
        "bootstrapsigner", "tokencleaner"]
    assert select_controllers("endpoint,namespace") == ["endpoint", "namespace"]
    with pytest.raises(ValueError, match="unknown controller 'nope'"):
        select_controllers("nope")


@pytest.mark.parametrize("text, seconds", [
    ("40s", 40), ("5m", 300), ("1m30s", 90), ("500ms", 0.5), ("2", 2), ("1h", 3600)])
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "5x", "m5", "1m 2s"])
def test_parse_duration_rejects(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError):
        parse_duration(text)


def test_hpa_sync_period_flag() -> None:
    """kube's --horizontal-pod-autoscaler-sync-period reaches the HPA controller's options."""
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    base = ["--kubeconfig", "k"]
    assert _options(parser.parse_args(base))[1].horizontal_pod_autoscaler_sync_period == 15
    args = parser.parse_args([*base, "--horizontal-pod-autoscaler-sync-period", "3s"])
    assert _options(args)[1].horizontal_pod_autoscaler_sync_period == 3
    with pytest.raises(CliError, match="must be longer than 0s"):
        _options(parser.parse_args([*base, "--horizontal-pod-autoscaler-sync-period", "0"]))
