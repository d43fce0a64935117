"""Projected volumes: the atomic ..data swap, the token refresh rule, and the per-pod
refresher (a stub TokenRequest client; everything else real files)."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
from pathlib import Path
from typing import Any

import pytest

from kybernetes.api.meta import now_rfc3339
from kybernetes.api.resources import Resource
from kybernetes.apiserver.serviceaccount.admission import token_volume
from kybernetes.kubelet.atomic_writer import PayloadError, write_atomic
from kybernetes.kubelet.env import ConfigError
from kybernetes.kubelet.pod_volumes import PodVolumes
from kybernetes.kubelet.tokens import Token, TokenManager, token_request
from kybernetes.kubelet.volumes import prepare
from tests.support.poll import eventually

HOUR = 3600.0


# -- the atomic writer -----------------------------------------------------------------

def test_payload_is_reached_through_the_data_symlink(tmp_path: Path) -> None:
    assert write_atomic(tmp_path, {"token": b"one", "dir/nested": b"n"}, 0o640)
    assert (tmp_path / "token").read_bytes() == b"one"
    assert os.readlink(tmp_path / "token") == "..data/token"
    assert os.readlink(tmp_path / "dir") == "..data/dir"
    assert (tmp_path / "dir" / "nested").read_bytes() == b"n"
    assert (tmp_path / "..data" / "token").stat().st_mode & 0o777 == 0o640
    first = os.readlink(tmp_path / "..data")
    assert first.startswith("..") and first != "..data"


def test_a_rewrite_swaps_the_whole_payload_and_removes_the_old(tmp_path: Path) -> None:
    write_atomic(tmp_path, {"token": b"one", "gone": b"x"})
    first = os.readlink(tmp_path / "..data")
    assert not write_atomic(tmp_path, {"token": b"one", "gone": b"x"})  # unchanged
    assert write_atomic(tmp_path, {"token": b"two"})
    assert (tmp_path / "token").read_bytes() == b"two"
    assert not (tmp_path / "gone").exists() and not (tmp_path / "gone").is_symlink()
    assert not (tmp_path / first).exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["..data", "token", os.readlink(tmp_path / "..data")])


@pytest.mark.parametrize("bad", ["/etc/passwd", "../up", "a/../../b", "..hidden", ""])
def test_paths_that_leave_the_volume_are_refused(tmp_path: Path, bad: str) -> None:
    with pytest.raises(PayloadError):
        write_atomic(tmp_path, {bad: b"x"})


# -- the refresh rule (pkg/kubelet/token's requiresRefresh) -----------------------------

def test_a_token_is_due_at_80_percent_of_its_lifetime_less_jitter() -> None:
    token = Token("t", issued_at=1000.0, expires_at=1000.0 + HOUR, jitter=0.0)
    assert token.refresh_at == 1000.0 + 0.8 * HOUR
    assert not token.needs_refresh(1000.0 + 0.8 * HOUR - 1)
    assert token.needs_refresh(1000.0 + 0.8 * HOUR)
    jittered = Token("t", issued_at=1000.0, expires_at=1000.0 + HOUR, jitter=7.0)
    assert jittered.refresh_at == 1000.0 + 0.8 * HOUR - 7.0


def test_a_long_token_is_due_after_24_hours() -> None:
    year = 365 * 24 * HOUR
    token = Token("t", issued_at=0.0, expires_at=year, jitter=3.0)
    assert token.refresh_at == 24 * HOUR - 3.0


def test_the_token_request_binds_the_pod() -> None:
    pod = {"metadata": {"name": "p", "uid": "u-1"}}
    assert token_request(pod, "", 3607)["spec"] == {
        "expirationSeconds": 3607,
        "boundObjectRef": {"apiVersion": "v1", "kind": "Pod", "name": "p", "uid": "u-1"}}
    assert token_request(pod, "vault", 600)["spec"]["audiences"] == ["vault"]


# -- projected volumes and the refresher ---------------------------------------------------

class StubTokenApi:
    """Issues numbered tokens living `lifetime` seconds (TokenRequest's answer shape)."""

    def __init__(self, lifetime: float) -> None:
        self.lifetime = lifetime
        self.requests: list[tuple[str, str | None, dict[str, Any]]] = []

    async def create_subresource(self, resource: Resource, name: str, subresource: str,
                                 body: dict[str, Any], *,
                                 namespace: str | None = None) -> dict[str, Any]:
        assert (resource.plural, subresource) == ("serviceaccounts", "token")
        self.requests.append((name, namespace, body))
        expiry = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=self.lifetime)
        return {**body, "spec": {**body["spec"], "expirationSeconds": int(self.lifetime)},
                "status": {"token": f"token-{len(self.requests)}",
                           "expirationTimestamp": now_rfc3339(expiry)}}


CA = {"apiVersion": "v1", "kind": "ConfigMap", "data": {"ca.crt": "PEM"}}


async def lookup(kind: str, namespace: str, name: str) -> dict[str, Any] | None:
    return CA if (kind, name) == ("ConfigMap", "kube-root-ca.crt") else None


def _pod(volume: dict[str, Any]) -> dict[str, Any]:
    return {"metadata": {"name": "p", "namespace": "team", "uid": "uid-1"},
            "spec": {"serviceAccountName": "robot", "volumes": [volume],
                     "containers": [{"name": "c"}]}}


async def test_the_kube_api_access_volume_holds_token_ca_and_namespace(tmp_path: Path) -> None:
    api = StubTokenApi(lifetime=HOUR)
    pod = _pod(token_volume("kube-api-access-abcde"))
    paths = await prepare(pod, tmp_path, lookup, TokenManager(api))
    volume = paths["kube-api-access-abcde"]
    assert {p.name for p in volume.iterdir() if not p.name.startswith("..")} == \
        {"token", "ca.crt", "namespace"}
    assert (volume / "token").read_text() == "token-1"
    assert (volume / "ca.crt").read_text() == "PEM"
    assert (volume / "namespace").read_text() == "team"
    assert (volume / "..data" / "token").stat().st_mode & 0o777 == 0o644
    name, namespace, body = api.requests[0]
    assert (name, namespace) == ("robot", "team")
    assert body["spec"]["expirationSeconds"] == 3607
    assert body["spec"]["boundObjectRef"]["uid"] == "uid-1"


async def test_a_missing_configmap_source_is_a_config_error(tmp_path: Path) -> None:
    volume = {"name": "v", "projected": {"sources": [{"configMap": {"name": "absent"}}]}}
    with pytest.raises(ConfigError, match='configmap "absent" not found'):
        await prepare(_pod(volume), tmp_path, lookup, TokenManager(StubTokenApi(HOUR)))


async def test_tokens_are_renewed_in_the_background_until_teardown(tmp_path: Path) -> None:
    api = StubTokenApi(lifetime=2.0)  # due 0.4 s before it expires (whole seconds)
    volumes = PodVolumes(tmp_path, lookup, TokenManager(api, jitter=lambda: 0.0),
                         retry_seconds=0.05)
    pod = _pod(token_volume("kube-api-access-abcde"))
    paths = await volumes.setup(lambda: pod)
    token = paths["kube-api-access-abcde"] / "token"
    assert token.read_text() == "token-1"

    async def renewed() -> bool:
        return token.read_text() != "token-1"
    await eventually(renewed, within=5, what="a renewed token")
    assert token.read_text() in ("token-2", "token-3")
    await volumes.teardown("uid-1")
    issued = len(api.requests)
    await asyncio.sleep(2.2)
    assert len(api.requests) == issued
    assert not (tmp_path / "pods" / "uid-1" / "volumes").exists()


async def test_configmap_and_downward_volumes_follow_their_sources(tmp_path: Path) -> None:
    """A changed ConfigMap (and pod label) reaches the running pod's files within a sync;
    the token-carrying volume is left to its refresher; teardown stops the syncing."""
    settings: dict[str, Any] = {"data": {"mode": "busy"}}
    lookups: list[str] = []

    async def live_lookup(kind: str, namespace: str, name: str) -> dict[str, Any] | None:
        lookups.append(name)
        if (kind, name) == ("ConfigMap", "settings"):
            return None if settings.get("gone") else settings
        return await lookup(kind, namespace, name)

    pod = _pod({"name": "conf", "configMap": {"name": "settings"}})
    pod["metadata"]["labels"] = {"tier": "a"}
    pod["spec"]["volumes"] += [
        {"name": "info", "downwardAPI": {"items": [
            {"path": "tier", "fieldRef": {"fieldPath": "metadata.labels['tier']"}}]}},
        token_volume("kube-api-access-abcde")]
    volumes = PodVolumes(tmp_path, live_lookup, TokenManager(StubTokenApi(HOUR)),
                         sync_seconds=0.05)
    paths = await volumes.setup(lambda: pod)
    assert (paths["conf"] / "mode").read_text() == "busy"
    settings["data"] = {"mode": "idle"}
    pod["metadata"]["labels"] = {"tier": "b"}

    async def updated() -> bool:
        return (paths["conf"] / "mode").read_text() == "idle" and \
            (paths["info"] / "tier").read_text() == "b"
    await eventually(updated, within=5, what="volumes rewritten from their sources")
    assert lookups.count("kube-root-ca.crt") == 1  # read again with a renewed token only
    settings["gone"] = True  # deleted: the last files stay
    await asyncio.sleep(0.2)
    assert (paths["conf"] / "mode").read_text() == "idle"
    await volumes.teardown("uid-1")
    seen = len(lookups)
    await asyncio.sleep(0.2)
    assert len(lookups) == seen
