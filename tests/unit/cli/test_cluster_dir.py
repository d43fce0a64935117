"""The data directory: created once, and refused when it is of another format."""

from __future__ import annotations

from pathlib import Path

import pytest

from kybernetes.cli.cluster_dir import DATA_DIR_FORMAT, ClusterDir
from kybernetes.cli.errors import CliError


def test_new_data_dir_is_laid_out(tmp_path: Path) -> None:
    cdir = ClusterDir(tmp_path / "kyb")
    cdir.prepare()
    assert (cdir.root / "VERSION").read_text().strip() == DATA_DIR_FORMAT
    assert cdir.logs.is_dir() and cdir.run.is_dir()
    assert cdir.supervisor_pid() is None


def test_data_dir_of_another_format_is_refused(tmp_path: Path) -> None:
    cdir = ClusterDir(tmp_path)
    (tmp_path / "VERSION").write_text("999\n")
    with pytest.raises(CliError, match="format '999'"):
        cdir.prepare()


def test_stale_pid_file_means_no_supervisor(tmp_path: Path) -> None:
    cdir = ClusterDir(tmp_path)
    cdir.prepare()
    cdir.pid_file.write_text("999999999")
    assert cdir.supervisor_pid() is None
