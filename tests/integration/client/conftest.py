"""Fixtures for client tests: one API server per module."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from kybernetes.client import ApiClient
from tests.support.apiserver import ApiServer, connected


@pytest.fixture
async def client(shared_apiserver: ApiServer) -> AsyncIterator[ApiClient]:
    async with connected(shared_apiserver) as api:
        yield api
