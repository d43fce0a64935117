"""Fixtures for the API server's tests: one real `kyb apiserver` per module."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import pytest
from kubernetes import client as k8s
from kubernetes import config as k8s_config

from tests.support.apiserver import ApiServer, started
from tests.support.etcd import Etcd, etcd_available


@pytest.fixture(scope="module", params=["sqlite", pytest.param("etcd", marks=pytest.mark.etcd)])
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
           ) -> Iterator[ApiServer]:
    """A real API server shared by the tests of one module, once per store: SQLite,
    and a private etcd (skipped when etcd is not installed)."""
    with contextlib.ExitStack() as stack:
        store = None
        if request.param == "etcd":
            if not etcd_available():
                pytest.skip("etcd is not installed")
            etcd = Etcd(tmp_path_factory.mktemp("etcd")).start()
            stack.callback(etcd.stop)
            store = etcd.url
        srv = ApiServer(tmp_path_factory.mktemp("apiserver"), store=store).start()
        stack.callback(srv.stop)
        yield srv


@pytest.fixture(scope="module")
def sqlite_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    """A real API server on SQLite only (for tests too slow to repeat per store)."""
    with started(ApiServer(tmp_path_factory.mktemp("apiserver"))) as srv:
        yield srv


@pytest.fixture(scope="module")
def api_client(server: ApiServer) -> Iterator[k8s.ApiClient]:
    """The official Python client, configured from the kubeconfig the server wrote."""
    api = k8s_config.new_client_from_config(config_file=str(server.kubeconfig))
    try:
        yield api
    finally:
        api.close()


@pytest.fixture
def core(api_client: k8s.ApiClient) -> k8s.CoreV1Api:
    return k8s.CoreV1Api(api_client)


@pytest.fixture
def namespace(core: k8s.CoreV1Api, request: pytest.FixtureRequest) -> str:
    """A fresh namespace per test, named after it."""
    name = request.node.name.lower().replace("_", "-")[:50].strip("-")
    name = "".join(c for c in name if c.isalnum() or c == "-")
    core.create_namespace(k8s.V1Namespace(metadata=k8s.V1ObjectMeta(name=name)))
    return name
