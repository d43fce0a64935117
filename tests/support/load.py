"""Load on a cluster while faults happen: a writer that records every acknowledged
write, and samplers that record what they see (pods, the etcd leader) with the time.

Each runs in a thread of its own with its own HTTP session, talking to the cluster
through the admin kubeconfig's load balancer as a client-go user would: one
keep-alive connection, a bounded request, and on any error a retry (on a fresh
connection when the old one broke).
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

import requests

T = TypeVar("T")
TIMEOUT = (2.0, 5.0)  # connect, read: a stalled server costs one read timeout


class AdminApi:
    """The admin user's view of a `kyb up` cluster, one session per thread."""

    def __init__(self, data_dir: Path) -> None:
        from kybernetes.apiserver import pki
        from kybernetes.cli import cluster_dir

        cdir = cluster_dir.resolve(str(data_dir))
        status = cdir.read_status() or {}
        self.base = status["server"]
        cert, key = pki.admin_cert(cdir.root)
        self.cert = (str(cert), str(key))
        self.ca = str(pki.pki_dir(cdir.root) / "ca.crt")

    def session(self) -> requests.Session:
        session = requests.Session()
        session.cert = self.cert
        return session

    def request(self, session: requests.Session, method: str, path: str,
                **kwargs: Any) -> requests.Response:
        # verify per request: REQUESTS_CA_BUNDLE would win over the session's
        return session.request(method, self.base + path, timeout=TIMEOUT, verify=self.ca,
                               **kwargs)


@dataclass(frozen=True)
class Ack:
    """One write the API acknowledged (201), at `at` (monotonic)."""
    seq: int
    name: str
    phase: str
    at: float


class Writer(threading.Thread):
    """Creates ConfigMaps `w-<seq>` (labelled with the current phase, the sequence
    number in their data) one after another and records each acknowledged one. A
    failed or timed-out create is not acknowledged (it may still have been stored)
    and the next attempt takes a new sequence number."""

    def __init__(self, api: AdminApi, namespace: str, *, pause: float = 0.05) -> None:
        super().__init__(name="fault-writer", daemon=True)
        self.api = api
        self.namespace = namespace
        self.pause = pause
        self.phase = "warmup"
        self.acks: list[Ack] = []
        self.failures: list[tuple[float, str]] = []  # (monotonic time, what went wrong)
        self._halt = threading.Event()
        self._lock = threading.Lock()

    def run(self) -> None:
        session = self.api.session()
        path = f"/api/v1/namespaces/{self.namespace}/configmaps"
        seq = 0
        while not self._halt.is_set():
            seq += 1
            phase, name = self.phase, f"w-{seq}"
            body = {"apiVersion": "v1", "kind": "ConfigMap",
                    "metadata": {"name": name, "labels": {"fault-phase": phase}},
                    "data": {"seq": str(seq)}}
            try:
                code = self.api.request(session, "POST", path, json=body).status_code
                failure = "" if code == 201 else f"HTTP {code}"
            except requests.RequestException as e:
                failure = type(e).__name__
                session.close()  # the next try dials again, through the balancer
            ok = not failure
            with self._lock:
                if ok:
                    self.acks.append(Ack(seq, name, phase, time.monotonic()))
                else:
                    self.failures.append((time.monotonic(), failure))
            self._halt.wait(self.pause if ok else 0.1)

    def stop(self) -> None:
        self._halt.set()
        self.join(timeout=15)

    def acked(self, phase: str | None = None) -> list[Ack]:
        with self._lock:
            return [a for a in self.acks if phase is None or a.phase == phase]

    def acked_since(self, start: float) -> bool:
        with self._lock:
            return bool(self.acks) and self.acks[-1].at >= start

    def failed(self, start: float, end: float) -> dict[str, int]:
        """The failed writes in [start, end], counted by what went wrong."""
        with self._lock:
            found = [what for at, what in self.failures if start <= at <= end]
        return {what: found.count(what) for what in sorted(set(found))}

    def longest_gap(self, start: float, end: float) -> float:
        """The longest time without an acknowledged write in [start, end], counting
        from the last acknowledgement before `start`."""
        times = [a.at for a in self.acked()]
        before = [t for t in times if t < start]
        points = [before[-1] if before else start,
                  *(t for t in times if start <= t <= end), end]
        return max(b - a for a, b in itertools.pairwise(points))


class PodTracker(threading.Thread):
    """Watches a set of pods (list, then watch from its resourceVersion; resumed from
    the last event after a broken stream, listed again after 410 Gone) and records
    after every change how many exist that are not terminating: an extra pod that
    lives for a moment is seen, where polling would miss it."""

    def __init__(self, api: AdminApi, namespace: str, selector: str) -> None:
        super().__init__(name="fault-pods", daemon=True)
        self.api = api
        self.path = f"/api/v1/namespaces/{namespace}/pods"
        self.selector = selector
        # (monotonic time, the names of the pods not terminating then)
        self.timeline: list[tuple[float, frozenset[str]]] = []
        self._pods: dict[str, bool] = {}  # name -> terminating
        self._version = ""  # of the last event applied
        self._halt = threading.Event()
        self._session = api.session()

    def run(self) -> None:
        while not self._halt.is_set():
            try:
                if not self._version:
                    self._list()
                self._watch()
            except (requests.RequestException, ValueError, KeyError):
                # a fault broke the stream: resume after the last event applied (from
                # an older version, events already applied would be replayed over a
                # newer state: a pod long gone would count again for a moment)
                self._halt.wait(0.2)

    def _list(self) -> None:
        response = self.api.request(self._session, "GET", self.path,
                                    params={"labelSelector": self.selector})
        response.raise_for_status()
        page = response.json()
        self._pods = {p["metadata"]["name"]: bool(p["metadata"].get("deletionTimestamp"))
                      for p in page["items"]}
        self._record()
        self._version = str(page["metadata"]["resourceVersion"])

    def _watch(self) -> None:
        """Follow events until the stream ends, keeping the version to resume from
        ('' after 410 Gone: list again)."""
        params = {"labelSelector": self.selector, "watch": "1",
                  "resourceVersion": self._version, "allowWatchBookmarks": "true"}
        with self._session.get(self.api.base + self.path, params=params, stream=True,
                               timeout=TIMEOUT, verify=self.api.ca) as response:
            response.raise_for_status()
            for line in response.iter_lines():
                if self._halt.is_set():
                    break
                if not line:
                    continue
                event = json.loads(line)
                obj = event["object"]
                if event["type"] == "ERROR":
                    if obj.get("code") == 410:
                        self._version = ""
                    return
                if event["type"] != "BOOKMARK":  # one a second while idle: alive
                    name = obj["metadata"]["name"]
                    if event["type"] == "DELETED":
                        self._pods.pop(name, None)
                    else:
                        self._pods[name] = bool(obj["metadata"].get("deletionTimestamp"))
                    self._record()
                self._version = obj["metadata"]["resourceVersion"]

    def _record(self) -> None:
        active = frozenset(name for name, terminating in self._pods.items()
                           if not terminating)
        self.timeline.append((time.monotonic(), active))

    def most(self, start: float, end: float) -> frozenset[str]:
        """The largest set of pods not terminating at once in [start, end] (counting
        the state at `start`)."""
        timeline = list(self.timeline)
        before = [names for at, names in timeline if at < start][-1:]
        return max([*before, *(names for at, names in timeline if start <= at <= end)],
                   key=len, default=frozenset())

    def stop(self) -> None:
        self._halt.set()
        self._session.close()
        self.join(timeout=15)


def missing_writes(api: AdminApi, namespace: str, acks: list[Ack]) -> list[str]:
    """The acknowledged writes that cannot be read back (absent or with other data),
    from a list of the namespace's ConfigMaps, paged."""
    session = api.session()
    found: dict[str, str] = {}
    params: dict[str, Any] = {"limit": 500}
    while True:
        response = api.request(session, "GET", f"/api/v1/namespaces/{namespace}/configmaps",
                               params=params)
        response.raise_for_status()
        page = response.json()
        found.update({i["metadata"]["name"]: (i.get("data") or {}).get("seq", "")
                      for i in page.get("items", [])})
        token = page.get("metadata", {}).get("continue")
        if not token:
            break
        params = {"limit": 500, "continue": token}
    return [a.name for a in acks if found.get(a.name) != str(a.seq)]


@dataclass(frozen=True)
class Sample(Generic[T]):
    at: float
    value: T


class Sampler(threading.Thread, Generic[T]):
    """Calls `probe` every `interval` seconds and keeps what it returns with the time
    (a probe that raises or returns None is a missed sample, not a stop)."""

    def __init__(self, probe: Callable[[], T | None], interval: float) -> None:
        super().__init__(name="fault-sampler", daemon=True)
        self.probe = probe
        self.interval = interval
        self.samples: list[Sample[T]] = []
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.is_set():
            value: T | None = None
            try:
                value = self.probe()
            except Exception:  # a fault may break any probe: sample again
                pass
            if value is not None:
                self.samples.append(Sample(time.monotonic(), value))
            self._halt.wait(self.interval)

    def stop(self) -> None:
        self._halt.set()
        self.join(timeout=15)

    def between(self, start: float, end: float) -> list[T]:
        return [s.value for s in list(self.samples) if start <= s.at <= end]

    def first_after(self, start: float, accept: Callable[[T], bool]) -> float | None:
        """Seconds from `start` to the first sample after it that `accept`s."""
        for s in list(self.samples):
            if s.at >= start and accept(s.value):
                return s.at - start
        return None
