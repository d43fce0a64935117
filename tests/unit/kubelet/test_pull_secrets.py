"""Matching a pod's imagePullSecrets to an image, as the kubelet's keyring does."""

from __future__ import annotations

import base64
import json
from typing import Any

from kybernetes.kubelet.pull_secrets import RegistryAuth, credentials_for, image_location


def _secret(auths: dict[str, Any], *, legacy: bool = False) -> dict[str, Any]:
    body = auths if legacy else {"auths": auths}
    field = ".dockercfg" if legacy else ".dockerconfigjson"
    return {"data": {field: base64.b64encode(json.dumps(body).encode()).decode()}}


def test_image_location() -> None:
    assert image_location("busybox") == ("docker.io", "library/busybox")
    assert image_location("kyb/busybox:1") == ("docker.io", "kyb/busybox")
    assert image_location("index.docker.io/kyb/x@sha256:ab") == ("docker.io", "kyb/x")
    assert image_location("localhost:5000/team/app:2") == ("localhost:5000", "team/app")
    assert image_location("registry.example/app") == ("registry.example", "app")


def test_best_match_wins() -> None:
    secrets = [_secret({"localhost:5000": {"username": "all", "password": "a"},
                        "http://localhost:5000/team": {"username": "team", "password": "t"}}),
               _secret({"https://index.docker.io/v1/": {
                   "auth": base64.b64encode(b"hub:secret").decode()}}, legacy=True)]
    assert credentials_for("localhost:5000/team/app:1", secrets) == \
        RegistryAuth("team", "t", "http://localhost:5000/team")
    assert credentials_for("localhost:5000/other:1", secrets).username == "all"  # type: ignore[union-attr]
    assert credentials_for("kyb/busybox:1", secrets) == \
        RegistryAuth("hub", "secret", "https://index.docker.io/v1/")
    assert credentials_for("quay.io/x:1", secrets) is None
    assert credentials_for("localhost:5000/teamster:1", [secrets[0]]).username == "all"  # type: ignore[union-attr]


def test_bad_secrets_are_skipped() -> None:
    assert credentials_for("x", [{"data": {".dockerconfigjson": "!!"}}, {"data": {}}, {}]) is None
