"""Pod creates under RBAC beside the same run under AlwaysAllow, and TokenRequests/s.

Run from the repo root: ``.venv/bin/python bench/rbac.py [--seconds 5]``.
Prints one JSON object. Two real ``kyb apiserver`` processes (SQLite) are
started, one with ``--authorization-mode RBAC,Node`` and one with
``AlwaysAllow``. On each, as the admin: a namespace, 50 Roles and 200
RoleBindings and ClusterRoleBindings naming other users and groups (so every
request's rule resolution has bindings to look through), and one RoleBinding
giving the user ``bench-user`` the ``edit`` ClusterRole in the namespace. Then
``--workers`` clients with ``bench-user``'s client certificate (never
``system:masters``, which skips authorization) create pods in a loop:

- ``pod_creates_per_s`` under each mode, best of ``--rounds`` interleaved runs,
  and ``rbac_to_always_allow`` their ratio (the aim: ≥ 0.9);
- ``token_requests_per_s``: TokenRequests (``serviceaccounts/default/token``)
  by ``bench-user`` under RBAC (the aim: ≥ 500/s).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import ssl
import sys
import tempfile
from pathlib import Path
from typing import Any

import aiohttp
import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.apiserver import pod, ssl_context  # noqa: E402
from bench.server_side_apply import Step, arguments, rate  # noqa: E402
from tests.support.apiserver import ApiServer  # noqa: E402

from kybernetes.apiserver import pki  # noqa: E402

NS = "bench"
USER = "bench-user"
RBAC = "/apis/rbac.authorization.k8s.io/v1"
NAMES = itertools.count()  # pod names, unique across rounds


def user_ssl(server: ApiServer, directory: Path) -> ssl.SSLContext:
    """A TLS context presenting a client certificate for USER (group developers)."""
    cert, key = pki.issue_client_cert(server.data_dir, USER, ("developers",))
    (directory / "user.crt").write_bytes(cert)
    (directory / "user.key").write_bytes(key)
    ctx = ssl.create_default_context(cafile=str(server.data_dir / "pki" / "ca.crt"))
    ctx.load_cert_chain(directory / "user.crt", directory / "user.key")
    return ctx


def role(i: int) -> dict[str, Any]:
    return {"metadata": {"name": f"role-{i}"},
            "rules": [{"apiGroups": [""], "resources": ["configmaps", f"things{i}"],
                       "verbs": ["get", "list"]},
                      {"apiGroups": ["apps"], "resources": ["deployments"],
                       "verbs": ["get"], "resourceNames": [f"d{i}"]}]}


def binding(i: int, *, cluster: bool = False) -> dict[str, Any]:
    kind = "ClusterRole" if cluster else "Role"
    return {"metadata": {"name": f"binding-{i}"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": kind,
                        "name": "view" if cluster else f"role-{i % 50}"},
            "subjects": [{"kind": "User", "name": f"user-{i}",
                          "apiGroup": "rbac.authorization.k8s.io"},
                         {"kind": "Group", "name": f"group-{i}",
                          "apiGroup": "rbac.authorization.k8s.io"}]}


async def populate(http: aiohttp.ClientSession) -> None:
    async def post(path: str, body: dict[str, Any]) -> None:
        async with http.post(path, data=orjson.dumps(body)) as r:
            assert r.status == 201, await r.text()

    await post("/api/v1/namespaces", {"metadata": {"name": NS}})
    for i in range(50):
        await post(f"{RBAC}/namespaces/{NS}/roles", role(i))
    for i in range(150):
        await post(f"{RBAC}/namespaces/{NS}/rolebindings", binding(i))
    for i in range(150, 200):
        await post(f"{RBAC}/clusterrolebindings", binding(i, cluster=True))
    await post(f"{RBAC}/namespaces/{NS}/rolebindings", {
        "metadata": {"name": "bench-user-edits"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                    "name": "edit"},
        "subjects": [{"kind": "User", "name": USER, "apiGroup": "rbac.authorization.k8s.io"}]})
    for _ in range(100):  # the default ServiceAccount comes from a controller: make it here
        async with http.post(f"/api/v1/namespaces/{NS}/serviceaccounts",
                             data=orjson.dumps({"metadata": {"name": "default"}})) as r:
            if r.status in (201, 409):
                break


async def creates_per_s(url: str, ctx: ssl.SSLContext, *, workers: int,
                        seconds: float) -> float:
    connector = aiohttp.TCPConnector(limit=workers, ssl=ctx)
    async with aiohttp.ClientSession(url, connector=connector,
                                     headers={"Content-Type": "application/json"}) as http:
        async def create(_: int) -> None:
            async with http.post(f"/api/v1/namespaces/{NS}/pods",
                                 data=orjson.dumps(pod(f"p{next(NAMES)}"))) as r:
                body = await r.read()
                assert r.status == 201, body
        steps: list[Step] = [create for _ in range(workers)]
        return await rate(steps, seconds)


async def tokens_per_s(url: str, ctx: ssl.SSLContext, *, workers: int,
                       seconds: float) -> float:
    request = orjson.dumps({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
                            "spec": {"expirationSeconds": 3600}})
    connector = aiohttp.TCPConnector(limit=workers, ssl=ctx)
    async with aiohttp.ClientSession(url, connector=connector,
                                     headers={"Content-Type": "application/json"}) as http:
        async def token(_: int) -> None:
            async with http.post(f"/api/v1/namespaces/{NS}/serviceaccounts/default/token",
                                 data=request) as r:
                body = await r.read()
                assert r.status == 201, body
        return await rate([token for _ in range(workers)], seconds)


def main() -> int:
    args = arguments(__doc__ or "").parse_args()
    with tempfile.TemporaryDirectory(prefix="kyb-bench-rbac-") as tmp:
        servers = {mode: ApiServer(Path(tmp) / mode,
                                   extra_args=("--authorization-mode", mode)).start()
                   for mode in ("RBAC,Node", "AlwaysAllow")}
        try:
            contexts = {mode: user_ssl(s, Path(tmp) / mode) for mode, s in servers.items()}

            async def measure() -> dict[str, Any]:
                for server in servers.values():
                    connector = aiohttp.TCPConnector(ssl=ssl_context(server.kubeconfig))
                    async with aiohttp.ClientSession(
                            server.url, connector=connector,
                            headers={"Content-Type": "application/json"}) as admin:
                        await populate(admin)
                best = dict.fromkeys(servers, 0.0)
                for _ in range(args.rounds):
                    for mode, server in servers.items():
                        best[mode] = max(best[mode], await creates_per_s(
                            server.url, contexts[mode], workers=args.workers,
                            seconds=args.seconds))
                rbac = servers["RBAC,Node"]
                tokens = await tokens_per_s(rbac.url, contexts["RBAC,Node"],
                                            workers=args.workers, seconds=args.seconds)
                return {"pod_creates_per_s": {m: round(v, 1) for m, v in best.items()},
                        "rbac_to_always_allow": round(best["RBAC,Node"] / best["AlwaysAllow"],
                                                      2),
                        "token_requests_per_s": round(tokens, 1)}
            figures = asyncio.run(measure())
        finally:
            for server in servers.values():
                server.stop()
    print(json.dumps({"bench": "rbac", "cpus": os.cpu_count(), "store": "sqlite",
                      "workers": args.workers, "roles": 50, "bindings": 200, **figures}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
