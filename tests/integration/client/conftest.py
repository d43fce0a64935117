"""Fixtures for client tests: one API server per module."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from kybernetes.client import ApiClient
from tests.support.apiserver import ApiServer


@pytest.fixture(scope="module")
def shared_apiserver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    server = ApiServer(tmp_path_factory.mktemp("apiserver")).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
async def client(shared_apiserver: ApiServer) -> AsyncIterator[ApiClient]:
    api = ApiClient.from_kubeconfig(shared_apiserver.kubeconfig)
    try:
        yield api
    finally:
        await api.aclose()
