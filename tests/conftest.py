"""Fixtures shared by every test: real API servers on real stores."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.apiserver import ApiServer


@pytest.fixture
def apiserver(tmp_path: Path) -> Iterator[ApiServer]:
    """A fresh `kyb apiserver` on the SQLite store, stopped after the test."""
    server = ApiServer(tmp_path / "apiserver").start()
    try:
        yield server
    finally:
        server.stop()
