"""Registry credentials for an image from a pod's imagePullSecrets, as the kubelet's
keyring (credentialprovider) matches them.

A `kubernetes.io/dockerconfigjson` Secret holds `{"auths": {KEY: {...}}}`, a
`kubernetes.io/dockercfg` one `{KEY: {...}}`; each entry has `username`/`password`
or `auth` (base64 of `user:password`). KEY names a registry, optionally with a
scheme, a path prefix and Docker Hub's `/v1/` suffix (`https://index.docker.io/v1/`).
An image matches a key whose host is the image's registry (Docker Hub is
`docker.io` = `index.docker.io` = `registry-1.docker.io`) and whose path is a prefix
of the image's repository; the most specific key wins.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any

DOCKER_HUB = "docker.io"
_HUB_ALIASES = {"docker.io", "index.docker.io", "registry-1.docker.io"}


@dataclass(frozen=True)
class RegistryAuth:
    """What a runtime sends to the registry for one pull."""

    username: str
    password: str
    server: str


def _host(host: str) -> str:
    return DOCKER_HUB if host in _HUB_ALIASES else host


def image_location(image: str) -> tuple[str, str]:
    """(registry host, repository path) of an image reference."""
    name = image.split("@", 1)[0]
    first, sep, rest = name.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost"):
        host, path = first, rest
    else:
        host, path = DOCKER_HUB, name if sep else f"library/{name}"
    tail = path.rsplit("/", 1)
    if ":" in tail[-1]:  # the tag
        path = path[: len(path) - len(tail[-1]) + tail[-1].index(":")]
    return _host(host), path


def _key_location(key: str) -> tuple[str, str]:
    key = key.split("://", 1)[-1].rstrip("/")
    for suffix in ("/v1", "/v2"):
        key = key.removesuffix(suffix)
    host, _, path = key.partition("/")
    return _host(host), path


def _entries(secret: dict[str, Any]) -> dict[str, Any]:
    data = secret.get("data") or {}
    for field, nested in ((".dockerconfigjson", True), (".dockercfg", False)):
        if field in data:
            try:
                parsed = json.loads(base64.b64decode(data[field]))
            except (ValueError, binascii.Error):
                return {}
            entries = parsed.get("auths", {}) if nested else parsed
            return entries if isinstance(entries, dict) else {}
    return {}


def _auth(key: str, entry: Any) -> RegistryAuth | None:
    if not isinstance(entry, dict):
        return None
    user, password = str(entry.get("username") or ""), str(entry.get("password") or "")
    if not user and entry.get("auth"):
        try:
            user, _, password = base64.b64decode(entry["auth"]).decode().partition(":")
        except (ValueError, binascii.Error, UnicodeDecodeError):
            return None
    return RegistryAuth(user, password, key) if user else None


def credentials_for(image: str, secrets: list[dict[str, Any]]) -> RegistryAuth | None:
    """The best-matching credentials in the pod's pull secrets, or None."""
    host, path = image_location(image)
    best: tuple[int, RegistryAuth] | None = None
    for secret in secrets:
        for key, entry in _entries(secret).items():
            key_host, key_path = _key_location(str(key))
            if key_host != host or not (path == key_path or path.startswith(
                    f"{key_path}/") or not key_path):
                continue
            auth = _auth(str(key), entry)
            if auth is not None and (best is None or len(key_path) > best[0]):
                best = (len(key_path), auth)
    return best[1] if best else None
