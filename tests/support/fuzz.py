"""Malformed requests for the API server, drawn from one seeded RNG so a failing run
reproduces: random JSON shapes for each kind's create/update/patch (JSON, merge and
strategic merge patches, apply), hostile query parameters, random paths, wrong content
types, truncated and invalid UTF-8 bodies, YAML with anchors and tags, and protobuf
garbage behind the ``k8s\\x00`` magic."""

from __future__ import annotations

import json
import random
import string
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

PROTOBUF = "application/vnd.kubernetes.protobuf"
JSON_PATCH = "application/json-patch+json"
MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_PATCH = "application/strategic-merge-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"
CONTENT_TYPES = ["application/json", "application/yaml", PROTOBUF, JSON_PATCH, MERGE_PATCH,
                 STRATEGIC_PATCH, APPLY_PATCH, "text/plain", "", "application/json; charset=utf-16",
                 "multipart/form-data; boundary=x", "application/x-www-form-urlencoded",
                 "application/json;;;", "*/*", "application/\x7f"]
QUERY_KEYS = ["resourceVersion", "resourceVersionMatch", "limit", "continue", "timeoutSeconds",
              "labelSelector", "fieldSelector", "dryRun", "fieldManager", "fieldValidation",
              "force", "gracePeriodSeconds", "propagationPolicy", "orphanDependents", "pretty",
              "allowWatchBookmarks", "sendInitialEvents", "watch", "container", "tailLines"]
FIELDS = ["metadata", "spec", "status", "data", "stringData", "items", "kind", "apiVersion",
          "name", "namespace", "labels", "annotations", "finalizers", "ownerReferences",
          "generateName", "uid", "resourceVersion", "deletionTimestamp", "managedFields",
          "containers", "ports", "selector", "template", "replicas", "type", "rules",
          "subjects", "roleRef", "webhooks", "conditions", "$patch", "$retainKeys",
          "$setElementOrder/containers", "$deleteFromPrimitiveList/finalizers"]


@dataclass
class Case:
    """One request; `reads` are safe to repeat (they never write)."""

    method: str
    path: str
    body: bytes | None = None
    content_type: str = "application/json"
    params: dict[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        body = self.body[:200] if self.body else b""
        return f"{self.method} {self.path} {self.params} [{self.content_type}] {body!r}"


@dataclass(frozen=True)
class Kind:
    """A served resource, as discovery lists it."""

    group_version: str
    kind: str
    plural: str
    namespaced: bool
    verbs: frozenset[str]

    def collection(self, namespace: str) -> str:
        prefix = "/api/v1" if self.group_version == "v1" else f"/apis/{self.group_version}"
        return f"{prefix}/namespaces/{namespace}/{self.plural}" if self.namespaced \
            else f"{prefix}/{self.plural}"


class Fuzzer:
    def __init__(self, seed: int, kinds: list[Kind], namespace: str) -> None:
        self.rng = random.Random(seed)
        self.kinds = kinds
        self.namespace = namespace

    # values -------------------------------------------------------------------------

    def text(self) -> str:
        r = self.rng
        return r.choice([
            "", "x", "a" * r.randint(1, 300), "Ünïcödé-✓", "\x00", "../../etc", "%2F",
            "-bad-", "UPPER", "a.b.c", "1234", "true", "null", "{}", "*", " ", "\ud7ff",
            "".join(r.choice(string.printable) for _ in range(r.randint(1, 40))),
        ])

    def number(self) -> Any:
        return self.rng.choice([0, -1, 1, 2**31, 2**63, -(2**63) - 1, 10**30, 1.5, -0.0,
                                1e308, 2**53 + 1, 3])

    def value(self, depth: int = 0) -> Any:
        r = self.rng
        choice = r.randrange(8 if depth < 4 else 4)
        if choice == 0:
            return None
        if choice == 1:
            return r.choice([True, False])
        if choice == 2:
            return self.number()
        if choice == 3:
            return self.text()
        if choice in (4, 5):
            return {r.choice([*FIELDS, self.text()]): self.value(depth + 1)
                    for _ in range(r.randint(0, 4))}
        return [self.value(depth + 1) for _ in range(r.randint(0, 4))]

    def mutate(self, obj: Any, depth: int = 0) -> Any:
        """`obj` with a few random fields replaced, added or removed."""
        r = self.rng
        if not isinstance(obj, dict) or depth > 3 or r.random() < 0.2:
            return self.value(depth)
        out = dict(obj)
        for _ in range(r.randint(1, 3)):
            key = r.choice(list(out) + FIELDS) if out else r.choice(FIELDS)
            action = r.randrange(4)
            if action == 0:
                out.pop(key, None)
            elif action == 1 and isinstance(out.get(key), dict):
                out[key] = self.mutate(out[key], depth + 1)
            else:
                out[key] = self.value(depth + 1)
        return out

    def base(self, kind: Kind, name: str) -> dict[str, Any]:
        return {"apiVersion": kind.group_version, "kind": kind.kind,
                "metadata": {"name": name}}

    # request bodies -----------------------------------------------------------------

    def json_patch(self) -> Any:
        r = self.rng
        ops = [{"op": r.choice(["add", "remove", "replace", "move", "copy", "test", "bad"]),
                "path": r.choice(["/metadata/labels/a", "/spec", "/metadata", "", "/",
                                  "/metadata/name", "/kind", "/a/b/c", "/spec/-", "~1",
                                  "/metadata/finalizers/-", "/data/x", "/status"]),
                "value": self.value(1), "from": r.choice(["/spec", "/metadata/labels", "x"])}
               for _ in range(r.randint(0, 4))]
        return r.choice([ops, ops[:1], {"op": "add"}, self.value()])

    def yaml_body(self, kind: Kind, name: str) -> bytes:
        r = self.rng
        head = f"apiVersion: {kind.group_version}\nkind: {kind.kind}\nmetadata:\n  name: {name}\n"
        tail = r.choice([
            "x: &a {b: 1}\ny: *a\nz: {<<: *a, c: 2}\n",
            "data: !!python/object/apply:os.system ['true']\n",
            "data: !!binary aGVsbG8=\n", "spec: !custom {a: 1}\n", "spec: *undefined\n",
            "metadata: &m {name: x}\nspec: *m\n", "data:\n  a: !!int 99999999999999999999\n",
            "--- \n---\nkind: Pod\n", "spec: [\n", "\t- tab\n", "data: {a: 1, a: 2}\n",
            "%YAML 9.9\n---\n", "? [complex, key]\n: v\n", "data: !!set {a, b}\n",
        ])
        return (head + tail).encode()

    def protobuf_body(self) -> bytes:
        r = self.rng
        tail = bytes(r.randrange(256) for _ in range(r.randint(0, 64)))
        return r.choice([b"k8s\x00", b"k8s\x00\x0a", b"k8s"]) + tail

    def broken(self, raw: bytes) -> bytes:
        """Truncated, or with bytes that are not UTF-8."""
        r = self.rng
        if r.random() < 0.5 and raw:
            return raw[:r.randrange(len(raw))]
        at = r.randrange(len(raw) + 1)
        return raw[:at] + r.choice([b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\x00"]) + raw[at:]

    # requests -----------------------------------------------------------------------

    def params(self) -> dict[str, str]:
        r = self.rng
        out = {}
        for _ in range(r.randint(0, 3)):
            key = r.choice([*QUERY_KEYS, self.text()])
            out[key] = r.choice([str(self.number()), self.text(), "-5", "1e3", "0x10",
                                 "9" * 25, "true", "", "NaN"])
        if out.get("watch") not in (None, "", "false", "0"):
            out["timeoutSeconds"] = "1"  # a watch that ends: the case must finish
        return out

    def random_path(self) -> str:
        r = self.rng
        segments = [r.choice(["api", "apis", "v1", "namespaces", self.namespace, "pods",
                              "configmaps", "status", "scale", "..", ".", "%00", "x" * 300,
                              quote(self.text(), safe=""), "watch", "apps", "proxy", "log"])
                    for _ in range(r.randint(0, 8))]
        return "/" + "/".join(segments)

    def write(self) -> Case:
        """A create, update or patch of a random kind, usually malformed."""
        r = self.rng
        writable = [k for k in self.kinds if "create" in k.verbs or "patch" in k.verbs]
        kind = r.choice(writable)
        name = f"fz{r.randrange(40)}"
        collection = kind.collection(self.namespace)
        obj = self.base(kind, name)
        shaped = obj if r.random() < 0.15 else self.mutate(obj)
        method, path = r.choice([("POST", collection), ("PUT", f"{collection}/{name}"),
                                 ("PATCH", f"{collection}/{name}")])
        content_type = "application/json"
        params = self.params() if r.random() < 0.3 else {}
        if method == "PATCH":
            content_type = r.choice([JSON_PATCH, MERGE_PATCH, STRATEGIC_PATCH, APPLY_PATCH])
            if content_type == JSON_PATCH:
                shaped = self.json_patch()
            if content_type == APPLY_PATCH:
                params.setdefault("fieldManager", "fuzz")
        body = json.dumps(shaped).encode()
        roll = r.random()
        if roll < 0.15:
            body = self.broken(body)
        elif roll < 0.25:
            body, content_type = self.yaml_body(kind, name), r.choice(
                ["application/yaml", APPLY_PATCH])
        elif roll < 0.3:
            body, content_type = self.protobuf_body(), PROTOBUF
        elif roll < 0.35:
            content_type = r.choice(CONTENT_TYPES)
        return Case(method, path, body, content_type, params)

    def read(self) -> Case:
        r = self.rng
        kind = r.choice(self.kinds)
        path = r.choice([kind.collection(self.namespace),
                         f"{kind.collection(self.namespace)}/fz{r.randrange(40)}"])
        return Case(r.choice(["GET", "GET", "HEAD", "DELETE", "OPTIONS"]), path,
                    params=self.params())

    def odd(self) -> Case:
        r = self.rng
        body = r.choice([None, b"", self.protobuf_body(), b"{", b"\xff\xfe",
                         json.dumps(self.value()).encode()])
        return Case(r.choice(["GET", "POST", "PUT", "PATCH", "DELETE", "TRACE", "FOO"]),
                    self.random_path(), body, r.choice(CONTENT_TYPES), self.params())

    def cases(self, count: int) -> list[Case]:
        """`count` cases: mostly writes, then reads (deletes of our own names included)
        and requests to random paths."""
        makers: list[Callable[[], Case]] = [self.write] * 6 + [self.read] * 2 + [self.odd] * 2
        cases = [self.rng.choice(makers)() for _ in range(count)]
        return [c for c in cases if not _deletes_the_namespace(c, self.namespace)]


def _deletes_the_namespace(case: Case, namespace: str) -> bool:
    return case.method == "DELETE" and case.path.rstrip("/").endswith(f"namespaces/{namespace}")
