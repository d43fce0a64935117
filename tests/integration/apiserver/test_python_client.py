"""The official `kubernetes` Python client against a real API server."""

from __future__ import annotations

import threading

import pytest
from kubernetes import client as k8s
from kubernetes import watch as k8s_watch
from kubernetes.client.rest import ApiException


def pod(name: str, **labels: str) -> k8s.V1Pod:
    return k8s.V1Pod(metadata=k8s.V1ObjectMeta(name=name, labels=labels or None),
                     spec=k8s.V1PodSpec(containers=[k8s.V1Container(name="c", image="busybox")]))


def test_create_read_list_with_selectors(core: k8s.CoreV1Api, namespace: str) -> None:
    created = core.create_namespaced_pod(namespace, pod("a", app="web", tier="front"))
    assert created.metadata.uid and created.metadata.resource_version
    assert created.metadata.creation_timestamp is not None
    assert created.status.phase == "Pending"
    core.create_namespaced_pod(namespace, pod("b", app="db"))
    read = core.read_namespaced_pod("a", namespace)
    assert read.metadata.uid == created.metadata.uid
    names = lambda **kw: sorted(p.metadata.name for p in  # noqa: E731
                                core.list_namespaced_pod(namespace, **kw).items)
    assert names() == ["a", "b"]
    assert names(label_selector="app=web") == ["a"]
    assert names(label_selector="app in (web,db),tier!=front") == ["b"]
    assert names(field_selector="metadata.name=b") == ["b"]
    listed = core.list_namespaced_pod(namespace)
    assert int(listed.metadata.resource_version) >= int(read.metadata.resource_version)


def test_generate_name_gets_a_random_suffix(core: k8s.CoreV1Api, namespace: str) -> None:
    body = k8s.V1ConfigMap(metadata=k8s.V1ObjectMeta(generate_name="cfg-"))
    first = core.create_namespaced_config_map(namespace, body)
    second = core.create_namespaced_config_map(namespace, body)
    assert first.metadata.name.startswith("cfg-") and len(first.metadata.name) == 9
    assert first.metadata.name != second.metadata.name


def test_replace_with_stale_resource_version_is_409(core: k8s.CoreV1Api,
                                                   namespace: str) -> None:
    cm = core.create_namespaced_config_map(
        namespace, k8s.V1ConfigMap(metadata=k8s.V1ObjectMeta(name="c"), data={"a": "1"}))
    cm.data = {"a": "2"}
    updated = core.replace_namespaced_config_map("c", namespace, cm)
    assert updated.data == {"a": "2"}
    assert int(updated.metadata.resource_version) > int(cm.metadata.resource_version)
    cm.data = {"a": "3"}  # still carries the old resourceVersion
    with pytest.raises(ApiException) as e:
        core.replace_namespaced_config_map("c", namespace, cm)
    assert e.value.status == 409
    assert "the object has been modified" in e.value.body


def test_patch_and_delete(core: k8s.CoreV1Api, namespace: str) -> None:
    core.create_namespaced_pod(namespace, pod("p", app="x"))
    patched = core.patch_namespaced_pod("p", namespace, {"metadata": {"labels": {"new": "1"}}})
    assert patched.metadata.labels == {"app": "x", "new": "1"}
    core.delete_namespaced_pod("p", namespace)  # not on any node: gone at once
    with pytest.raises(ApiException) as e:
        core.read_namespaced_pod("p", namespace)
    assert e.value.status == 404


def test_watch_resumes_from_a_resource_version(core: k8s.CoreV1Api, namespace: str) -> None:
    first = core.create_namespaced_config_map(
        namespace, k8s.V1ConfigMap(metadata=k8s.V1ObjectMeta(name="one")))
    core.create_namespaced_config_map(
        namespace, k8s.V1ConfigMap(metadata=k8s.V1ObjectMeta(name="two")))
    core.delete_namespaced_config_map("one", namespace)
    seen = []
    w = k8s_watch.Watch()
    for event in w.stream(core.list_namespaced_config_map, namespace,
                          resource_version=first.metadata.resource_version,
                          timeout_seconds=5):
        seen.append((event["type"], event["object"].metadata.name))
        if len(seen) == 2:
            w.stop()
    assert seen == [("ADDED", "two"), ("DELETED", "one")]


def test_watch_delivers_new_events(core: k8s.CoreV1Api, namespace: str) -> None:
    listed = core.list_namespaced_config_map(namespace)
    events: list[tuple[str, str]] = []
    w = k8s_watch.Watch()

    def consume() -> None:
        for event in w.stream(core.list_namespaced_config_map, namespace,
                              resource_version=listed.metadata.resource_version,
                              timeout_seconds=5):
            events.append((event["type"], event["object"].metadata.name))
            if len(events) == 2:
                w.stop()

    t = threading.Thread(target=consume)
    t.start()
    core.create_namespaced_config_map(namespace,
                                      k8s.V1ConfigMap(metadata=k8s.V1ObjectMeta(name="w")))
    core.patch_namespaced_config_map("w", namespace, {"data": {"k": "v"}})
    t.join(10)
    assert events == [("ADDED", "w"), ("MODIFIED", "w")]
