"""Fuzzing a real API server: seeded malformed requests of every class (tests/support/
fuzz.py), slow uploads and a storm of idle connections. Throughout, no answer is a 5xx
and `/healthz` answers within 2 s; afterwards everything stored lists, reads back and
decodes with the official Python client's models; the storm's memory is bounded and
given back.

The seed is printed (and in every failure); set KYB_FUZZ_SEED to replay a run."""

from __future__ import annotations

import json
import os
import random
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import kubernetes.client
import pydantic
import pytest
import requests

from tests.support.apiserver import ApiServer, started
from tests.support.connections import idle_connections, rss_mib, trickle
from tests.support.fuzz import Case, Fuzzer, Kind
from tests.support.http import Http
from tests.support.poll import wait_for

NS = "fuzz"
CASES = 1200
WORKERS = 4
TIMEOUT = 3  # the server's body, header and handshake timeouts
IDLE_CONNECTIONS = 1000  # of each: TLS after the handshake, TCP to the TLS port
STORM_GROWTH_MIB = 250  # RSS over the pre-storm baseline while the storm lasts
RELEASED_MIB = 40  # ... and once it has passed
# Fields the official client's models require that Kubernetes' own validation leaves
# optional: kube stores a LimitRange without `limits` (ValidateLimitRange loops over
# none) and serves it with "limits": null, which the model refuses just the same.
KUBE_OPTIONAL = {("V1LimitRangeSpec", ("limits",))}


@pytest.fixture(scope="module")
def seed() -> int:
    value = int(os.environ.get("KYB_FUZZ_SEED") or random.randrange(2**32))
    print(f"fuzz seed: {value} (KYB_FUZZ_SEED={value} replays it)")
    return value


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    with started(ApiServer(tmp_path_factory.mktemp("apiserver"), extra_args=(
               "--request-timeout", f"{TIMEOUT}s", "--read-header-timeout", f"{TIMEOUT}s",
               "--tls-handshake-timeout", f"{TIMEOUT}s"))) as srv:
        yield srv


class HealthProbe:
    """GETs /healthz every 0.2 s in a thread; records every slow or failed answer."""

    def __init__(self, server: ApiServer) -> None:
        self.http = Http(server)
        self.problems: list[str] = []
        self.probes = 0
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self.stopped.wait(0.2):
            started = time.monotonic()
            try:
                status = self.http("GET", "/healthz").status_code
            except requests.RequestException as e:
                status = repr(e)  # type: ignore[assignment]
            took = time.monotonic() - started
            self.probes += 1
            if status != 200 or took > 2:
                self.problems.append(f"/healthz {status} after {took:.2f}s")

    def __enter__(self) -> HealthProbe:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopped.set()
        self.thread.join()
        self.http.session.close()


def served_kinds(http: Http) -> list[Kind]:
    """Every resource discovery lists (subresources aside)."""
    versions = ["v1"] + [v["groupVersion"] for g in http("GET", "/apis").json()["groups"]
                         for v in g["versions"]]
    kinds = []
    for gv in versions:
        listed = http("GET", "/api/v1" if gv == "v1" else f"/apis/{gv}").json()
        kinds += [Kind(gv, r["kind"], r["name"], r["namespaced"], frozenset(r["verbs"]))
                  for r in listed["resources"] if "/" not in r["name"]]
    return kinds


def send(http: Http, case: Case) -> requests.Response:
    return http.session.request(case.method, http.base + case.path, data=case.body,
                                params=case.params, timeout=30, verify=http.ca,
                                headers={"Content-Type": case.content_type})


def kube_answers_5xx(response: requests.Response) -> bool:
    """The one 5xx kube-apiserver gives for a client's input: a list or watch from a
    resourceVersion the store has not reached (504 Timeout, "Too large resource
    version", after waiting for it)."""
    return response.status_code == 504 and \
        "Too large resource version" in response.text


def run_cases(http: Http, cases: list[Case], seed: int) -> list[str]:
    """The cases answered with a 5xx (or not at all)."""
    def one(case: Case) -> str | None:
        try:
            response = send(http, case)
        except requests.RequestException as e:
            return f"no answer ({e!r}) to {case}"
        if response.status_code < 500 or kube_answers_5xx(response):
            return None
        return f"{response.status_code} for {case}: {response.text[:300]}"

    with ThreadPoolExecutor(WORKERS) as pool:
        return [f"seed {seed}: {p}" for p in pool.map(one, cases) if p]


def model_name(kind: Kind) -> str:
    version = kind.group_version.rsplit("/", 1)[-1]
    return version[0].upper() + version[1:] + kind.kind


def deserialize(client: kubernetes.client.ApiClient, text: str, model: str) -> None:
    """Decode `text` with the official client's `model`; only a missing field that
    Kubernetes itself leaves optional (KUBE_OPTIONAL) is let pass."""
    try:
        client.deserialize(text, model, "application/json")
    except pydantic.ValidationError as e:
        if not all((e.title, tuple(err["loc"])) in KUBE_OPTIONAL and err["input"] is None
                   for err in e.errors()):
            raise


def check_stored(http: Http, kinds: list[Kind], seed: int) -> int:
    """Every listable kind lists, each item reads back, and (where the official client
    has a model for the kind) both decode with it; else the fields every client needs
    have their types. The number of objects checked."""
    client = kubernetes.client.ApiClient()
    checked = 0
    for kind in kinds:
        if "list" not in kind.verbs:
            continue
        prefix = "/api/v1" if kind.group_version == "v1" else f"/apis/{kind.group_version}"
        listed = http("GET", f"{prefix}/{kind.plural}")
        assert listed.status_code == 200, f"seed {seed}: list {kind.plural}: {listed.text}"
        model = model_name(kind)
        known = hasattr(kubernetes.client.models, model)
        if known:
            deserialize(client, listed.text, f"{model}List")
        for item in listed.json()["items"]:
            meta = item["metadata"]
            assert isinstance(meta["name"], str) and isinstance(meta["uid"], str), item
            assert isinstance(meta["resourceVersion"], str), item
            assert isinstance(meta["creationTimestamp"], str), item
            assert all(isinstance(v, str) for v in (meta.get("labels") or {}).values()), item
            namespace = meta.get("namespace", "")
            path = kind.collection(namespace) if kind.namespaced else kind.collection("")
            got = http("GET", f"{path}/{meta['name']}")
            assert got.status_code == 200, f"seed {seed}: GET {path}/{meta['name']}: {got.text}"
            if known:
                deserialize(client, got.text, model)
            checked += 1
    return checked


def slow_uploads_are_cut_off(server: ApiServer, count: int) -> None:
    for _ in range(count):
        slow_upload_is_cut_off(server)


def slow_upload_is_cut_off(server: ApiServer) -> None:
    """A body trickled a byte every 0.3 s gets 408 (or the connection closed)."""
    context = ssl.create_default_context(cafile=str(server.data_dir / "pki" / "ca.crt"))
    context.load_cert_chain(str(server.data_dir / "pki" / "admin.crt"),
                            str(server.data_dir / "pki" / "admin.key"))
    body = json.dumps({"apiVersion": "v1", "kind": "ConfigMap",
                       "metadata": {"name": "slow"}}).encode()
    with context.wrap_socket(socket.create_connection(("127.0.0.1", server.port)),
                             server_hostname="127.0.0.1") as sock:
        sock.sendall(f"POST /api/v1/namespaces/{NS}/configmaps HTTP/1.1\r\nHost: x\r\n"
                     f"Content-Length: {len(body)}\r\nContent-Type: application/json\r\n\r\n"
                     .encode())
        answer = trickle(sock, body, interval=0.3, limit=5 * TIMEOUT)
    assert answer == b"" or answer.startswith(b"HTTP/1.1 408 "), answer[:200]


def idle_storm(server: ApiServer) -> dict[str, float]:
    """RSS before, during and after IDLE_CONNECTIONS TLS and as many TCP connections
    that never send."""
    assert server.proc is not None and server.proc.popen is not None
    pid = server.proc.popen.pid
    ca = Path(server.data_dir) / "pki" / "ca.crt"
    before = rss_mib(pid)
    with idle_connections(server.port, IDLE_CONNECTIONS, tls=True, ca=ca) as tls, \
            idle_connections(server.port, IDLE_CONNECTIONS) as tcp:
        assert len(tls) + len(tcp) >= IDLE_CONNECTIONS, "the storm did not connect"
        during = rss_mib(pid)
    after = wait_for(lambda: (r := rss_mib(pid)) < before + RELEASED_MIB and r,
                     within=30, interval=1, what=f"RSS back near {before:.0f} MiB")
    return {"before": before, "during": during, "after": after}


def test_fuzzing_finds_no_5xx_and_stores_nothing_invalid(fuzzed: ApiServer, seed: int) -> None:
    http = Http(fuzzed)
    ns = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}}
    assert http("POST", "/api/v1/namespaces", ns).status_code == 201
    kinds = served_kinds(http)
    fuzzer = Fuzzer(seed, kinds, NS)
    started = time.monotonic()
    with HealthProbe(fuzzed) as health, ThreadPoolExecutor(1) as slow:
        uploads = slow.submit(slow_uploads_are_cut_off, fuzzed, 2)
        failures = run_cases(http, fuzzer.cases(CASES), seed)
        uploads.result()
        memory = idle_storm(fuzzed)
    took = time.monotonic() - started
    print(f"fuzz seed {seed}: {CASES} cases, RSS {memory}, {health.probes} health probes, "
          f"{took:.1f}s")
    assert not failures, "\n".join(failures[:20])
    assert not health.problems, f"seed {seed}: {health.problems[:10]}"
    assert memory["during"] < memory["before"] + STORM_GROWTH_MIB, memory
    assert check_stored(http, kinds, seed) > 0


def test_the_fuzzer_is_deterministic() -> None:
    kinds = [Kind("v1", "ConfigMap", "configmaps", True, frozenset({"create", "list"}))]
    first = [str(c) for c in Fuzzer(7, kinds, NS).cases(50)]
    assert first == [str(c) for c in Fuzzer(7, kinds, NS).cases(50)]
    assert first != [str(c) for c in Fuzzer(8, kinds, NS).cases(50)]
