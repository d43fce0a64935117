"""Pod volumes laid out on the node's disk, ready to be mounted into containers.

Each volume becomes a directory under `<root>/pods/<uid>/volumes/<name>` (or is
the host path itself for hostPath): emptyDir is an empty directory that lives
as long as the pod; configMap, secret and downwardAPI volumes are filled with
one file per key (honouring `items`, `defaultMode` and `optional`). The
runtime then bind-mounts these at each container's `mountPath`.
"""

from __future__ import annotations

import base64
import os
import shutil
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from kybernetes.kubelet.env import ConfigError, field_ref

Lookup = Callable[[str, str, str], Awaitable[dict[str, Any] | None]]


def pod_dir(root: Path, uid: str) -> Path:
    return root / "pods" / uid


def _write(target: Path, files: dict[str, bytes], mode: int) -> None:
    target.mkdir(parents=True, exist_ok=True)
    for rel, data in files.items():
        path = target / rel
        if not path.resolve().is_relative_to(target.resolve()):
            raise ConfigError(f"volume path {rel!r} escapes the volume")
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_bytes(data)
        os.chmod(tmp, mode)
        tmp.replace(path)


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


async def prepare(pod: dict[str, Any], root: Path, lookup: Lookup) -> dict[str, Path]:
    """Make every volume of `pod`; the host directory for each volume name."""
    uid = pod["metadata"]["uid"]
    namespace = pod["metadata"].get("namespace", "default")
    base = pod_dir(root, uid) / "volumes"
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
        if "configMap" in volume:
            src = volume["configMap"]
            files = await _from_object("ConfigMap", src, namespace, lookup)
            _write(target, files, int(src.get("defaultMode", 0o644)))
        elif "secret" in volume:
            src = volume["secret"]
            files = await _from_object("Secret", src, namespace, lookup)
            _write(target, files, int(src.get("defaultMode", 0o644)))
        elif "downwardAPI" in volume:
            src = volume["downwardAPI"]
            _write(target, _downward(pod, src), int(src.get("defaultMode", 0o644)))
        else:  # emptyDir, and any volume type we cannot provide becomes one
            target.mkdir(parents=True, exist_ok=True)
            os.chmod(target, 0o777)
        paths[name] = target
    return paths


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
