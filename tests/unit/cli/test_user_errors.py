"""Mistakes a user can make end in one clear line and exit code 2, no traceback."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path


def kyb(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "kybernetes.cli.main", *args],
                          capture_output=True, text=True, timeout=60, check=False)


def test_port_in_use(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("0.0.0.0", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = kyb("up", "--data-dir", str(tmp_path), "--port", str(port),
                     "--runtime", "process")
    assert result.returncode == 2
    assert f"port {port} is in use" in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_data_dir_of_another_version(tmp_path: Path) -> None:
    (tmp_path / "VERSION").write_text("0\n")
    result = kyb("up", "--data-dir", str(tmp_path), "--runtime", "process")
    assert result.returncode == 2
    assert "format '0'" in result.stderr and "Traceback" not in result.stderr


def test_down_without_a_cluster(tmp_path: Path) -> None:
    result = kyb("down", "--data-dir", str(tmp_path))
    assert result.returncode == 0
    assert "no cluster is running" in result.stdout


def test_an_unknown_admission_plugin_to_turn_off(tmp_path: Path) -> None:
    result = kyb("apiserver", "--data-dir", str(tmp_path), "--disable-admission-plugins",
                 "LimitRanger,Bogus")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "kyb apiserver: error: --disable-admission-plugins: plugin 'Bogus' is unknown (known: "
        "LimitRanger, DefaultStorageClass, DefaultIngressClass, StorageObjectInUseProtection, "
        "Priority, ResourceQuota)"]


def test_the_cli_names_every_default_on_admission_plugin() -> None:
    from kybernetes.apiserver import (
        default_class,
        limit_ranger,
        priority_admission,
        quota_admission,
        storage_protection,
    )
    from kybernetes.cli.apiserver import DEFAULT_ON_ADMISSION_PLUGINS
    assert set(DEFAULT_ON_ADMISSION_PLUGINS) == {
        limit_ranger.NAME, default_class.STORAGE.plugin, default_class.INGRESS.plugin,
        storage_protection.NAME, priority_admission.NAME, quota_admission.NAME}
