"""Fixtures for controller tests.

One API server per test module (starting one takes seconds) and a fresh
namespace per test keep the tests independent and fast; tests that need a
cluster of their own (nodes are cluster-scoped) use the `apiserver` fixture.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from kybernetes.api.resources import NAMESPACES
from kybernetes.client import ApiClient
from tests.support.apiserver import ApiServer, connected
from tests.support.kubectl import Kubectl

_names = itertools.count()


@pytest.fixture
async def client(shared_apiserver: ApiServer) -> AsyncIterator[ApiClient]:
    async with connected(shared_apiserver) as api:
        yield api


@pytest.fixture
async def ns(client: ApiClient) -> str:
    """A new namespace for this test."""
    name = f"t{next(_names)}"
    await client.create(NAMESPACES, {"apiVersion": "v1", "kind": "Namespace",
                                     "metadata": {"name": name}})
    return name


@pytest.fixture
def kubectl(shared_apiserver: ApiServer, tmp_path: Path) -> Kubectl:
    """The default kubectl as the shared API server's admin."""
    return Kubectl("kubectl", shared_apiserver, tmp_path)
