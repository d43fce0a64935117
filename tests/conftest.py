"""Fixtures shared by every test: real API servers on real stores."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.apiserver import ApiServer, started
from tests.support.etcd import Etcd, etcd_available


@pytest.fixture
def apiserver(tmp_path: Path) -> Iterator[ApiServer]:
    """A fresh `kyb apiserver` on the SQLite store, stopped after the test."""
    with started(ApiServer(tmp_path / "apiserver")) as server:
        yield server


@pytest.fixture(scope="module")
def shared_apiserver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    """One `kyb apiserver` for a whole test module (starting one takes seconds)."""
    with started(ApiServer(tmp_path_factory.mktemp("apiserver"))) as server:
        yield server


@pytest.fixture(scope="session")
def etcd_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real single-member etcd for the session (``etcd://127.0.0.1:PORT``).

    Shared by the tests of one worker: use keys under a prefix of your own.
    Skips the test when /usr/bin/etcd is not installed."""
    if not etcd_available():
        pytest.skip("etcd is not installed")
    etcd = Etcd(tmp_path_factory.mktemp("etcd")).start()
    try:
        yield etcd.url
    finally:
        etcd.stop()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, exitstatus: int) -> None:
    """In CI every prerequisite is installed by .ci/run, so a skipped test means a
    missing install step, not an optional one: fail the run instead of hiding it."""
    skipped = terminalreporter.stats.get("skipped", [])
    if os.environ.get("CI") == "true" and skipped:
        terminalreporter.write_line(
            f"CI=true: {len(skipped)} test(s) skipped; .ci/run must install what they need",
            red=True)
        session = terminalreporter._session
        assert session is not None  # the run is ending: its session exists
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
