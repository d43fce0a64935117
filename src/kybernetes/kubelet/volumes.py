"""Pod volumes laid out on the node's disk, ready to be mounted into containers.

Each volume becomes a directory under `<root>/pods/<uid>/volumes/<name>` (or is
the host path itself for hostPath): emptyDir is an empty directory that lives
as long as the pod; configMap, secret, downwardAPI and projected volumes are
filled with one file per key (honouring `items`, `defaultMode` and `optional`),
written atomically (atomic_writer) so that a rewrite is never seen half done.
A projected `serviceAccountToken` source is a token for the pod's
ServiceAccount from a :class:`TokenSource`; :func:`refresh` rewrites those
volumes when their tokens are renewed, :func:`sync_sources` the others when
their ConfigMaps, Secrets or pod fields change (not subPath mounts of them, as
in Kubernetes: a bind-mounted file does not see the ..data swap). The runtime
then bind-mounts these at each container's `mountPath`.
"""

from __future__ import annotations

import asyncio
import base64
import os
import shutil
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, Protocol

from kybernetes.api.errors import ApiError
from kybernetes.kubelet.atomic_writer import PayloadError, write_atomic
from kybernetes.kubelet.env import ConfigError, field_ref
from kybernetes.kubelet.tokens import DEFAULT_EXPIRATION_SECONDS, Token

Lookup = Callable[[str, str, str], Awaitable[dict[str, Any] | None]]
ATOMIC = ("configMap", "secret", "downwardAPI", "projected")


class TokenSource(Protocol):
    """Where a projected serviceAccountToken comes from (the kubelet's TokenManager)."""

    async def pod_token(self, pod: dict[str, Any], audience: str,
                        expiration_seconds: int) -> Token: ...


def pod_dir(root: Path, uid: str) -> Path:
    return root / "pods" / uid


def _write(target: Path, files: dict[str, bytes], mode: int) -> None:
    try:
        write_atomic(target, files, mode)
    except PayloadError as e:
        raise ConfigError(str(e)) from None


def _select(data: dict[str, bytes], source: dict[str, Any], what: str) -> dict[str, bytes]:
    items = source.get("items")
    if not items:
        return data
    out = {}
    for item in items:
        if item["key"] not in data:
            if source.get("optional"):
                continue
            raise ConfigError(f"configmap references non-existent config key: {item['key']}"
                              if what == "ConfigMap" else
                              f"references non-existent secret key: {item['key']}")
        out[item.get("path") or item["key"]] = data[item["key"]]
    return out


async def _from_object(kind: str, source: dict[str, Any], namespace: str,
                       lookup: Lookup) -> dict[str, bytes]:
    name = source.get("name") or source.get("secretName") or ""
    obj = await lookup(kind, namespace, name)
    if obj is None:
        if source.get("optional"):
            return {}
        raise ConfigError(f'{kind.lower()} "{name}" not found')
    if kind == "Secret":
        data = {k: base64.b64decode(v) for k, v in (obj.get("data") or {}).items()}
    else:
        data = {k: str(v).encode() for k, v in (obj.get("data") or {}).items()}
        data.update({k: base64.b64decode(v) for k, v in (obj.get("binaryData") or {}).items()})
    return _select(data, source, kind)


def _downward(pod: dict[str, Any], source: dict[str, Any]) -> dict[str, bytes]:
    out = {}
    for item in source.get("items") or []:
        if "fieldRef" in item:
            out[item["path"]] = field_ref(pod, item["fieldRef"]["fieldPath"]).encode()
    return out


async def _token(pod: dict[str, Any], source: dict[str, Any],
                 tokens: TokenSource | None) -> bytes:
    if tokens is None:
        raise ConfigError("this node cannot issue service account tokens")
    try:
        token = await tokens.pod_token(pod, str(source.get("audience") or ""), int(
            source.get("expirationSeconds") or DEFAULT_EXPIRATION_SECONDS))
    except ApiError as e:
        account = pod["spec"].get("serviceAccountName") or "default"
        raise ConfigError(f"failed to fetch token: serviceaccounts \"{account}\": "
                          f"{e.message}") from None
    return token.value.encode()


async def _projected(pod: dict[str, Any], source: dict[str, Any], namespace: str,
                     lookup: Lookup, tokens: TokenSource | None) -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    for projection in source.get("sources") or []:
        if "serviceAccountToken" in projection:
            token_source = projection["serviceAccountToken"]
            files[token_source["path"]] = await _token(pod, token_source, tokens)
        elif "configMap" in projection:
            files.update(await _from_object("ConfigMap", projection["configMap"], namespace,
                                            lookup))
        elif "secret" in projection:
            files.update(await _from_object("Secret", projection["secret"], namespace, lookup))
        elif "downwardAPI" in projection:
            files.update(_downward(pod, projection["downwardAPI"]))
    return files


async def _contents(pod: dict[str, Any], volume: dict[str, Any], lookup: Lookup,
                    tokens: TokenSource | None) -> tuple[dict[str, bytes], int]:
    """The files of a configMap, secret, downwardAPI or projected volume, and their mode."""
    namespace = pod["metadata"].get("namespace", "default")
    kind = next(k for k in ATOMIC if k in volume)
    src = volume[kind]
    mode = int(src.get("defaultMode", 0o644))
    if kind == "configMap":
        return await _from_object("ConfigMap", src, namespace, lookup), mode
    if kind == "secret":
        return await _from_object("Secret", src, namespace, lookup), mode
    if kind == "downwardAPI":
        return _downward(pod, src), mode
    return await _projected(pod, src, namespace, lookup, tokens), mode


def has_tokens(pod: dict[str, Any]) -> bool:
    """Whether a projected volume of `pod` carries a service-account token."""
    return any("serviceAccountToken" in projection
               for volume in pod["spec"].get("volumes") or []
               for projection in (volume.get("projected") or {}).get("sources") or [])


def follows_sources(volume: dict[str, Any]) -> bool:
    """Whether `volume`'s files are re-read from their sources every sync: configMap,
    secret, downwardAPI, and projected volumes without a token (those are rewritten
    whenever their token is renewed, see :func:`refresh`)."""
    kind = next((k for k in ATOMIC if k in volume), None)
    return kind is not None and not has_tokens({"spec": {"volumes": [volume]}})


async def sync_sources(pod: dict[str, Any], root: Path, lookup: Lookup) -> None:
    """Rewrite the volumes that follow their sources with what the ConfigMaps, Secrets
    and the pod hold now (an unchanged volume is left alone); every volume is tried
    before the first error is raised."""
    base = pod_dir(root, pod["metadata"]["uid"]) / "volumes"
    error: Exception | None = None
    for volume in pod["spec"].get("volumes") or []:
        if follows_sources(volume):
            try:
                _write(base / volume["name"], *await _contents(pod, volume, lookup, None))
            except (ConfigError, ApiError, OSError, ValueError) as e:
                error = error or e
    if error is not None:
        raise error


async def claim_path(pod: dict[str, Any], source: dict[str, Any], lookup: Lookup) -> Path:
    """The directory of a bound claim's PersistentVolume (hostPath or local), made when
    the volume asks for it (DirectoryOrCreate: the local-path provisioner's volumes)."""
    namespace = pod["metadata"].get("namespace", "default")
    claim_name = str(source.get("claimName", ""))
    pvc = await lookup("PersistentVolumeClaim", namespace, claim_name)
    if pvc is None:
        raise ConfigError(f'persistentvolumeclaim "{claim_name}" not found')
    if (pvc.get("metadata") or {}).get("deletionTimestamp"):  # as kube's volume manager
        raise ConfigError(f"can't start pod because PVC {namespace}/{claim_name} is being "
                          "deleted")
    volume_name = (pvc.get("spec") or {}).get("volumeName")
    if not volume_name or (pvc.get("status") or {}).get("phase") != "Bound":
        raise ConfigError(f'PersistentVolumeClaim is not bound: "{claim_name}"')
    pv = await lookup("PersistentVolume", "", volume_name)
    if pv is None:
        raise ConfigError(f'persistentvolume "{volume_name}" not found')
    spec = pv.get("spec") or {}
    host = spec.get("hostPath") or spec.get("local")
    if not isinstance(host, dict) or not host.get("path"):
        raise ConfigError(f"persistentvolume {volume_name!r}: only hostPath and local "
                          "volumes can be mounted on this node")
    path = Path(str(host["path"]))
    if host.get("type") == "DirectoryOrCreate":
        os.makedirs(path, exist_ok=True)
        os.chmod(path, 0o777)
    return path


async def prepare(pod: dict[str, Any], root: Path, lookup: Lookup,
                  tokens: TokenSource | None = None) -> dict[str, Path]:
    """Make every volume of `pod`; the host directory for each volume name."""
    base = pod_dir(root, pod["metadata"]["uid"]) / "volumes"
    paths: dict[str, Path] = {}
    for volume in pod["spec"].get("volumes") or []:
        name = volume["name"]
        target = base / name
        if "hostPath" in volume:
            spec = volume["hostPath"]
            path = Path(spec["path"])
            if spec.get("type") == "DirectoryOrCreate":
                os.makedirs(path, exist_ok=True)
            paths[name] = path
            continue
        if "persistentVolumeClaim" in volume:
            paths[name] = await claim_path(pod, volume["persistentVolumeClaim"], lookup)
            continue
        if any(k in volume for k in ATOMIC):  # files written in a worker thread
            await asyncio.to_thread(_write, target, *await _contents(pod, volume, lookup,
                                                                      tokens))
        else:  # emptyDir, and any volume type we cannot provide becomes one
            target.mkdir(parents=True, exist_ok=True)
            os.chmod(target, 0o777)
        paths[name] = target
    return paths


async def refresh(pod: dict[str, Any], root: Path, lookup: Lookup, tokens: TokenSource) -> None:
    """Rewrite the projected volumes that carry tokens (a due token is fetched anew)."""
    base = pod_dir(root, pod["metadata"]["uid"]) / "volumes"
    for volume in pod["spec"].get("volumes") or []:
        if has_tokens({"spec": {"volumes": [volume]}}):
            await asyncio.to_thread(_write, base / volume["name"],
                                    *await _contents(pod, volume, lookup, tokens))


def mounts_for(container: dict[str, Any], volumes: dict[str, Path]) -> list[tuple[str, str, bool]]:
    """(host path, container path, read only) for each volumeMount of `container`."""
    out = []
    for mount in container.get("volumeMounts") or []:
        host = volumes.get(mount["name"])
        if host is None:
            raise ConfigError(f"volume {mount['name']!r} is not defined in the pod")
        if mount.get("subPath"):
            host = host / mount["subPath"]
            host.mkdir(parents=True, exist_ok=True)
        out.append((str(host), mount["mountPath"], bool(mount.get("readOnly"))))
    return out


def remove(root: Path, uid: str) -> None:
    """Delete everything the pod had on disk (hostPath volumes are left alone)."""
    shutil.rmtree(pod_dir(root, uid) / "volumes", ignore_errors=True)
