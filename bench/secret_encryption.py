"""Secret creates through the API server with encryption at rest against identity.

Run from the repo root: ``.venv/bin/python bench/secret_encryption.py [--seconds 5]``.
Prints one JSON object. One real ``kyb apiserver`` (SQLite) per provider is started,
each with an EncryptionConfiguration for ``secrets`` whose only provider is that one:

- ``identity_creates_per_s``: Secrets stored as they are (the baseline);
- ``aescbc_creates_per_s``, ``aesgcm_creates_per_s``, ``secretbox_creates_per_s``:
  the same Secrets encrypted (each create is encrypted once on its way to the
  store and decrypted once when the watch cache reads its event);

``--workers`` clients, each on its own keep-alive connection, create Secrets with
fresh names in a loop; each rate is the best of ``--rounds`` runs (12 of 2 s), the
providers interleaved in a rotating order so load from elsewhere on the machine hurts
them alike.
``<provider>_to_identity`` is the ratio (the aim: ≥ 0.9). Wall-clock rates move
with whatever else the machine runs, so beside them ``server_cpu_us_per_create`` is
the API server process's own CPU time (user + system, from /proc) per create, summed
over all rounds, and ``<provider>_cpu_to_identity`` the ratio of creates per
CPU-second, which load elsewhere hardly moves. ``transform_us`` is the in-process
cost of one encrypt and one decrypt of the same Secret's stored bytes.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.apiserver import ssl_context  # noqa: E402
from bench.server_side_apply import Step, arguments, rate  # noqa: E402
from tests.support.apiserver import ApiServer  # noqa: E402

from kybernetes.storage.encryption import parse_config  # noqa: E402

NS = "bench"
SECRETS = f"/api/v1/namespaces/{NS}/secrets"
PROVIDERS = ("identity", "aescbc", "aesgcm", "secretbox")
KEY = base64.b64encode(bytes(range(32))).decode()


def configuration(provider: str) -> str:
    entry = {} if provider == "identity" else {"keys": [{"name": "bench", "secret": KEY}]}
    return json.dumps({"apiVersion": "apiserver.config.k8s.io/v1",
                       "kind": "EncryptionConfiguration",
                       "resources": [{"resources": ["secrets"],
                                      "providers": [{provider: entry}]}]})


def secret(name: str) -> dict[str, Any]:
    """A typical credentials Secret: a user, a password, a token (≈ 0.6 KB stored)."""
    def b64(text: str) -> str:
        return base64.b64encode(text.encode()).decode()
    return {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
            "metadata": {"name": name, "labels": {"app": "web"}},
            "data": {"username": b64("service-account-web"), "password": b64("p" * 32),
                     "token": b64("t" * 256)}}


def transform_us(stored: bytes) -> dict[str, dict[str, float]]:
    """µs per encrypt and per decrypt of `stored` with each provider, in-process."""
    figures = {}
    for provider in PROVIDERS:
        transformer = parse_config(configuration(provider)).for_resource("", "secrets")
        assert transformer is not None
        key = b"/registry/secrets/bench/s"
        count = 20000
        started = time.perf_counter()
        for _ in range(count):
            encrypted = transformer.to_storage(stored, key)
        encrypt = (time.perf_counter() - started) / count * 1e6
        started = time.perf_counter()
        for _ in range(count):
            transformer.from_storage(encrypted, key)
        decrypt = (time.perf_counter() - started) / count * 1e6
        figures[provider] = {"encrypt": round(encrypt, 2), "decrypt": round(decrypt, 2)}
    return figures


def cpu_seconds(server: ApiServer) -> float:
    """User + system CPU time the server process has used so far."""
    assert server.proc is not None and server.proc.popen is not None
    fields = Path(f"/proc/{server.proc.popen.pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def measure(servers: dict[str, ApiServer], *, workers: int, seconds: float,
                  rounds: int) -> tuple[dict[str, float], dict[str, float]]:
    """(best creates/s, server CPU µs per create) per provider."""
    sessions: dict[str, aiohttp.ClientSession] = {}
    names = itertools.count()
    best = dict.fromkeys(PROVIDERS, 0.0)
    cpu, done = dict.fromkeys(PROVIDERS, 0.0), dict.fromkeys(PROVIDERS, 0)
    try:
        for provider, server in servers.items():
            connector = aiohttp.TCPConnector(limit=workers, ssl=ssl_context(server.kubeconfig))
            http = sessions[provider] = aiohttp.ClientSession(
                server.url, connector=connector, headers={"Content-Type": "application/json"})
            async with http.post("/api/v1/namespaces", json={"metadata": {"name": NS}}) as r:
                assert r.status == 201, await r.text()

        def creator(provider: str) -> Step:
            http = sessions[provider]

            async def create(_: int) -> None:
                async with http.post(SECRETS, data=orjson.dumps(secret(f"s{next(names)}"))
                                     ) as r:
                    body = await r.read()
                    assert r.status == 201, body
                done[provider] += 1
            return create

        for round_ in range(rounds):  # each round in another order: none always follows
            for provider in PROVIDERS[round_ % 4:] + PROVIDERS[:round_ % 4]:
                steps = [creator(provider) for _ in range(workers)]
                before = cpu_seconds(servers[provider])
                best[provider] = max(best[provider], await rate(steps, seconds))
                cpu[provider] += cpu_seconds(servers[provider]) - before
    finally:
        for http in sessions.values():
            await http.close()
    return best, {p: cpu[p] / done[p] * 1e6 for p in PROVIDERS}


def stored_size(server: ApiServer) -> int:
    import sqlite3

    with sqlite3.connect(f"file:{server.data_dir / 'state.db'}?mode=ro", uri=True) as db:
        row = db.execute("SELECT length(value) FROM kv WHERE name LIKE '/registry/secrets/%' "
                         "ORDER BY id DESC LIMIT 1").fetchone()
    return int(row[0]) if row else 0


def main() -> int:
    parser = arguments(__doc__ or "")
    parser.set_defaults(rounds=12, seconds=2.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="kyb-bench-secret-encryption-") as tmp:
        servers: dict[str, ApiServer] = {}
        try:
            for provider in PROVIDERS:
                path = Path(tmp) / f"{provider}.json"
                path.write_text(configuration(provider))
                servers[provider] = ApiServer(Path(tmp) / provider, extra_args=(
                    "--encryption-provider-config", str(path))).start()
            best, cpu = asyncio.run(measure(servers, workers=args.workers,
                                            seconds=args.seconds, rounds=args.rounds))
            sizes = {p: stored_size(s) for p, s in servers.items()}
        finally:
            for server in servers.values():
                server.stop()
    plain = orjson.dumps(secret("s0"))
    figures: dict[str, Any] = {f"{p}_creates_per_s": round(best[p], 1) for p in PROVIDERS}
    for provider in PROVIDERS[1:]:
        figures[f"{provider}_to_identity"] = round(best[provider] / best["identity"], 3)
    figures["server_cpu_us_per_create"] = {p: round(cpu[p], 1) for p in PROVIDERS}
    for provider in PROVIDERS[1:]:
        figures[f"{provider}_cpu_to_identity"] = round(cpu["identity"] / cpu[provider], 3)
    figures["stored_bytes"] = sizes
    figures["transform_us"] = transform_us(plain * 2)  # ≈ a stored Secret with metadata
    print(json.dumps({"bench": "secret_encryption", "cpus": os.cpu_count(), "store": "sqlite",
                      "workers": args.workers, **figures,
                      "baseline": {"identity_creates_per_s": round(best["identity"], 1)}}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
