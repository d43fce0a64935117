"""Watch semantics: resume, 410, selectors, bookmarks, initial events, Table rows."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from kubernetes import client as k8s
from kubernetes import config as k8s_config
from kubernetes import watch as k8s_watch
from kubernetes.client.rest import ApiException

from tests.support.apiserver import ApiServer, started
from tests.support.http import admin_cert

CACHE_SIZE = 20


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    """A server whose watch cache keeps only a few events, so history runs out fast."""
    with started(ApiServer(tmp_path_factory.mktemp("watch"),
                           extra_args=("--default-watch-cache-size", str(CACHE_SIZE)))) as srv:
        yield srv


class Stream:
    def __init__(self, server: ApiServer) -> None:
        self.server = server
        self.session = requests.Session()
        self.session.cert = admin_cert(server)
        self.ca = str(Path(server.data_dir) / "pki" / "ca.crt")

    def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        response = self.session.post(self.server.url + path, json=body, verify=self.ca)
        assert response.status_code == 201, response.text
        return response.json()

    def patch(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        response = self.session.patch(
            self.server.url + path, data=json.dumps(body), verify=self.ca,
            headers={"Content-Type": "application/merge-patch+json"})
        assert response.status_code == 200, response.text
        return response.json()

    def events(self, path: str, *, count: int, headers: dict[str, str] | None = None,
               **params: Any) -> list[dict[str, Any]]:
        """The first `count` events of a watch (it is closed after them)."""
        params = {"watch": "true", "timeoutSeconds": 5, **params}
        out = []
        with self.session.get(self.server.url + path, params=params, stream=True, timeout=10,
                              verify=self.ca, headers=headers or {}) as response:
            assert response.status_code == 200, response.text
            for line in response.iter_lines():
                if line:
                    out.append(json.loads(line))
                if len(out) == count:
                    break
        return out


@pytest.fixture(scope="module")
def stream(server: ApiServer) -> Stream:
    s = Stream(server)
    s.post("/api/v1/namespaces", {"metadata": {"name": "w"}})
    return s


CMS = "/api/v1/namespaces/w/configmaps"


def cm(name: str, **labels: str) -> dict[str, Any]:
    return {"metadata": {"name": name, "labels": labels}}


def test_watch_from_a_forgotten_revision_is_410(stream: Stream, server: ApiServer) -> None:
    first = stream.post(CMS, cm("old-0"))
    for i in range(1, CACHE_SIZE + 5):
        stream.post(CMS, cm(f"old-{i}"))
    [event] = stream.events(CMS, count=1, resourceVersion=first["metadata"]["resourceVersion"])
    assert event["type"] == "ERROR"
    status = event["object"]
    assert (status["code"], status["reason"]) == (410, "Expired")
    assert status["message"].startswith("too old resource version: ")
    api = k8s_config.new_client_from_config(config_file=str(server.kubeconfig))
    try:
        core = k8s.CoreV1Api(api)
        with pytest.raises(ApiException) as e:
            for _ in k8s_watch.Watch().stream(core.list_namespaced_config_map, "w",
                                              resource_version=first["metadata"][
                                                  "resourceVersion"], timeout_seconds=5):
                pass
        assert e.value.status == 410
    finally:
        api.close()


def test_selector_transitions_become_added_and_deleted(stream: Stream) -> None:
    start = stream.post(CMS, cm("sel", app="b"))["metadata"]["resourceVersion"]
    stream.patch(f"{CMS}/sel", {"metadata": {"labels": {"app": "a"}}})
    stream.patch(f"{CMS}/sel", {"data": {"k": "v"}})
    stream.patch(f"{CMS}/sel", {"metadata": {"labels": {"app": "b"}}})
    events = stream.events(CMS, count=3, resourceVersion=start, labelSelector="app=a")
    assert [e["type"] for e in events] == ["ADDED", "MODIFIED", "DELETED"]
    assert all(e["object"]["metadata"]["name"] == "sel" for e in events)


def test_initial_state_then_bookmarks(stream: Stream) -> None:
    stream.post(CMS, cm("init", group="init"))
    events = stream.events(CMS, count=2, labelSelector="group=init", allowWatchBookmarks="true",
                           sendInitialEvents="true", resourceVersionMatch="NotOlderThan")
    assert [e["type"] for e in events] == ["ADDED", "BOOKMARK"]
    mark = events[1]["object"]
    assert mark["metadata"]["annotations"] == {"k8s.io/initial-events-end": "true"}
    assert int(mark["metadata"]["resourceVersion"]) >= int(
        events[0]["object"]["metadata"]["resourceVersion"])
    idle = stream.events(CMS, count=1, labelSelector="group=none", allowWatchBookmarks="true",
                         timeoutSeconds=3)
    assert idle[0]["type"] == "BOOKMARK" and idle[0]["object"]["kind"] == "ConfigMap"


def test_table_watch_sends_rows(stream: Stream) -> None:
    stream.post(CMS, cm("tabled", group="table"))
    accept = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"
    [event] = stream.events(CMS, count=1, labelSelector="group=table",
                            headers={"Accept": accept})
    table = event["object"]
    assert event["type"] == "ADDED" and table["kind"] == "Table"
    assert len(table["rows"]) == 1 and table["rows"][0]["cells"][0] == "tabled"
