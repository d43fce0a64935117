"""Kubernetes' EncryptionConfiguration: parsed, checked, and turned into transformers.

The file ``--encryption-provider-config`` names (apiserver.config.k8s.io/v1, as
k8s.io/apiserver/pkg/server/options/encryptionconfig reads it)::

    apiVersion: apiserver.config.k8s.io/v1
    kind: EncryptionConfiguration
    resources:
      - resources: [secrets, configmaps]      # also "deployments.apps", "*.apps",
        providers:                            # "*." (the core group), "*.*" (all)
          - aescbc: {keys: [{name: key2, secret: <base64 of 32 bytes>}]}
          - aescbc: {keys: [{name: key1, secret: <base64>}]}
          - identity: {}

Per resource, the providers of every entry naming it are read in order and the
first one writes. A resource is looked up exactly, then as ``*.<group>``, then as
``*.*``; one no entry names is stored as is (and an encrypted value of it does not
read). The checks are Kubernetes' validation (key sizes 16/24/32 for AES, 32 for
secretbox; no ``*`` alone, no ``x.*``, no resource masked by an earlier wildcard,
…) plus unknown fields, so a typo is an error that names its field, not a silent
no-op. ``kms`` providers are refused: there is no KMS plugin here.

Every error is a :class:`ConfigError` whose message is one line of
``field: problem`` items, for the API server to print and exit on.
"""

from __future__ import annotations

import base64
import binascii
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import yaml

from kybernetes.storage.encryption.providers import (
    AESCBC,
    AESGCM,
    IDENTITY,
    PrefixTransformers,
    Secretbox,
    Transformer,
)

API_VERSION = "apiserver.config.k8s.io/v1"
KIND = "EncryptionConfiguration"
REGISTRY = "/registry/"
_KEY_SIZES = {"aescbc": (16, 24, 32), "aesgcm": (16, 24, 32), "secretbox": (32,)}
_NO_MATCHING_KEY = {"aescbc": "no matching key was found for the provided AES transformer",
                    "aesgcm": "no matching key was found for the provided AES transformer",
                    "secretbox": "no matching key was found for the provided Secretbox "
                                 "transformer"}
_MAKERS: dict[str, Callable[[bytes], Transformer]] = {
    "aescbc": AESCBC, "aesgcm": AESGCM, "secretbox": Secretbox}
_PROVIDERS = ("aescbc", "aesgcm", "secretbox", "identity", "kms")
_NOT_REST = ("apiserveripinfo", "serviceipallocations", "servicenodeportallocations")

GroupResource = tuple[str, str]  # (group, resource); "" is the core group, "*" any


class ConfigError(ValueError):
    """The encryption configuration is unusable (one line saying which field and why)."""


def parse_group_resource(text: str) -> GroupResource:
    """schema.ParseGroupResource: ``secrets`` → ("", "secrets"); ``deployments.apps`` →
    ("apps", "deployments"); ``*.`` → ("", "*"); ``*.*`` → ("*", "*")."""
    resource, dot, group = text.partition(".")
    return (group if dot else "", resource)


def _spelled(gr: GroupResource) -> str:
    group, resource = gr
    return f"{resource}.{group}" if group or resource == "*" else resource


class ResourceTransformers:
    """The transformer of each configured resource, with Kubernetes' wildcard lookup."""

    def __init__(self, by_resource: dict[GroupResource, PrefixTransformers]) -> None:
        self.by_resource = by_resource

    def for_resource(self, group: str, resource: str) -> Transformer | None:
        """The resource's transformer; None when no entry names it (stored as is)."""
        found = self.by_resource.get((group, resource))
        if found is None:
            found = self.by_resource.get((group, "*"))
        if found is None:
            found = self.by_resource.get(("*", "*"))
        return found

    def for_keys(self, builtin_groups: Mapping[str, str]
                 ) -> Callable[[str], Transformer | None]:
        """A lookup by storage key: ``/registry/<plural>/…`` for built-in kinds (their
        group from `builtin_groups`, plural → group) and ``/registry/<group>/<plural>/…``
        for custom resources (a group has a dot). Keys of anything else (the Service
        allocator's ranges) are never transformed. One answer is kept per prefix."""
        known: dict[str, Transformer | None] = {}

        def lookup(key: str) -> Transformer | None:
            end = key.find("/", len(REGISTRY))
            if end < 0 or not key.startswith(REGISTRY):
                return None
            first = key[len(REGISTRY):end]
            if "." in first:
                end = key.find("/", end + 1)
                if end < 0:
                    return None
            prefix = key[:end + 1]
            try:
                return known[prefix]
            except KeyError:
                pass
            if "." in first:
                found = self.for_resource(first, prefix[len(REGISTRY) + len(first) + 1:-1])
            else:
                group = builtin_groups.get(first)
                found = None if group is None else self.for_resource(group, first)
            known[prefix] = found
            return found

        return lookup

    def describe(self) -> str:
        """For the start-up log: which resources are written with which provider."""
        parts = []
        for gr, transformers in sorted(self.by_resource.items()):
            prefix, inner = transformers.entries[0]
            writer = "identity"
            if prefix and isinstance(inner, PrefixTransformers):
                key = inner.entries[0][0].decode()[:-1]
                writer = f'{prefix.decode().split(":")[2]} key "{key}"'
            parts.append(f"{_spelled(gr)}: {writer}")
        return ", ".join(parts)


# -- loading ---------------------------------------------------------------------------

def load_config(path: str | Path) -> ResourceTransformers:
    """The transformers a configuration file describes; ConfigError if it is unusable."""
    try:
        text = Path(path).read_bytes()
    except OSError as e:
        raise ConfigError(f"error opening encryption provider configuration file: "
                          f"{e.strerror or e}") from None
    return parse_config(text)


def parse_config(text: bytes | str) -> ResourceTransformers:
    if not text.strip():
        raise ConfigError("encryption provider configuration file is empty")
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise ConfigError("not YAML or JSON: " + " ".join(str(e).split())) from None
    checker = _Checker()
    by_resource = checker.document(doc)
    if checker.errors:
        raise ConfigError("; ".join(checker.errors))
    return ResourceTransformers(by_resource)


class _Checker:
    """Walks the document once, collecting every error (as ``field: problem``)."""

    def __init__(self) -> None:
        self.errors: list[str] = []

    def fail(self, path: str, problem: str) -> None:
        self.errors.append(f"{path}: {problem}")

    def fields(self, obj: Any, path: str, allowed: tuple[str, ...]) -> dict[str, Any]:
        if obj is None:
            return {}
        if not isinstance(obj, dict):
            self.fail(path or "(top level)", f"must be an object, got {type(obj).__name__}")
            return {}
        for name in obj:
            if name not in allowed:
                where = f"{path}.{name}" if path else str(name)
                self.fail(where, f"unknown field (known: {', '.join(allowed)})")
        return obj

    def items(self, obj: Any, path: str) -> list[Any]:
        if obj is None:
            return []
        if not isinstance(obj, list):
            self.fail(path, f"must be a list, got {type(obj).__name__}")
            return []
        return obj

    def document(self, doc: Any) -> dict[GroupResource, PrefixTransformers]:
        if not isinstance(doc, dict):
            self.fail("(top level)", f"must be an {KIND} object")
            return {}
        top = self.fields(doc, "", ("apiVersion", "kind", "resources"))
        if top.get("kind") != KIND:
            self.fail("kind", f'Unsupported value: {top.get("kind")!r}: supported values: '
                              f'"{KIND}"')
        if top.get("apiVersion") != API_VERSION:
            self.fail("apiVersion", f'Unsupported value: {top.get("apiVersion")!r}: '
                                    f'supported values: "{API_VERSION}"')
        entries = self.items(top.get("resources"), "resources")
        if not entries:
            self.fail("resources", "Required value: at least one resources is required")
        collected: dict[GroupResource, list[tuple[bytes, Transformer]]] = {}
        for i, entry in enumerate(entries):
            self.entry(entry, f"resources[{i}]", collected)
        if self.errors:
            return {}
        return {gr: PrefixTransformers(chain, "no matching prefix found")
                for gr, chain in collected.items()}

    def entry(self, entry: Any, path: str,
              collected: dict[GroupResource, list[tuple[bytes, Transformer]]]) -> None:
        fields = self.fields(entry, path, ("resources", "providers"))
        names = self.resource_names(fields.get("resources"), f"{path}.resources")
        providers = self.items(fields.get("providers"), f"{path}.providers")
        if not providers:
            self.fail(f"{path}.providers",
                      f"Required value: at least one {path}.providers is required")
        chain = [self.provider(p, f"{path}.providers[{j}]") for j, p in enumerate(providers)]
        built = [c for c in chain if c is not None]
        earlier = set(collected)
        for text in names:
            gr = parse_group_resource(text)
            for wider in ((gr[0], "*"), ("*", "*")):
                if wider != gr and wider in earlier:
                    self.fail(f"{path}.resources", f'resource "{_spelled(gr)}" is masked by '
                                                   f'earlier rule "{_spelled(wider)}"')
            collected.setdefault(gr, []).extend(built)

    def resource_names(self, obj: Any, path: str) -> list[str]:
        names = self.items(obj, path)
        if not names:
            self.fail(path, f"Required value: at least one {path} is required")
        good: list[str] = []
        for j, name in enumerate(names):
            problem = _resource_problem(name)
            if problem:
                self.fail(f"{path}[{j}]", f"Invalid value: {name!r}: {problem}")
            else:
                good.append(name)
        parsed = [parse_group_resource(n) for n in good]
        if len(set(parsed)) != len(parsed):
            self.fail(path, "Invalid value: the same resource cannot be specified multiple "
                            "times")
        elif len(parsed) > 1 and any(
                a == ("*", "*") or (a[0] == b[0] and "*" in (a[1], b[1]))
                for a in parsed for b in parsed if a is not b):
            self.fail(path, "Invalid value: using overlapping resources such as 'secrets' and "
                            "'*.' in the same resource list is not allowed as they will be "
                            "masked")
        return good

    def provider(self, obj: Any, path: str) -> tuple[bytes, Transformer] | None:
        fields = self.fields(obj, path, _PROVIDERS)
        named = [name for name in _PROVIDERS if name in fields]
        if len(named) != 1:
            self.fail(path, "more than one provider specified in a single element, should "
                            "split into different list elements" if named else
                      "provider does not contain any of the expected providers: aescbc, "
                      "aesgcm, secretbox, identity")
            return None
        name = named[0]
        if name == "kms":
            self.fail(f"{path}.kms", "KMS providers are not supported by kybernetes (use "
                                     "aescbc, aesgcm or secretbox)")
            return None
        if name == "identity":
            self.fields(fields[name], f"{path}.identity", ())
            return b"", IDENTITY
        return self.keyed(name, fields[name], f"{path}.{name}")

    def keyed(self, provider: str, obj: Any, path: str) -> tuple[bytes, Transformer] | None:
        keys = self.items(self.fields(obj, path, ("keys",)).get("keys"), f"{path}.keys")
        if not keys:
            self.fail(f"{path}.keys", "Required value: at least one keys is required")
        entries: list[tuple[bytes, Transformer]] = []
        for k, key in enumerate(keys):
            made = self.key(provider, key, f"{path}.keys[{k}]")
            if made is not None:
                entries.append(made)
        if len(entries) != len(keys) or not entries:
            return None
        prefix = f"k8s:enc:{provider}:v1:".encode()
        return prefix, PrefixTransformers(entries, _NO_MATCHING_KEY[provider])

    def key(self, provider: str, obj: Any, path: str) -> tuple[bytes, Transformer] | None:
        fields = self.fields(obj, path, ("name", "secret"))
        name, secret = fields.get("name"), fields.get("secret")
        ok = True
        if not isinstance(name, str) or not name:
            self.fail(f"{path}.name", "Required value: name is a mandatory field for a key")
            ok = False
        if not isinstance(secret, str) or not secret:
            self.fail(f"{path}.secret", "Required value: secret is a mandatory field for a key")
            return None
        try:
            raw = base64.b64decode(secret, validate=True)
        except (binascii.Error, ValueError):
            self.fail(f"{path}.secret", 'Invalid value: "REDACTED": secrets must be base64 '
                                        'encoded')
            return None
        sizes = _KEY_SIZES[provider]
        if len(raw) not in sizes:
            self.fail(f"{path}.secret", f'Invalid value: "REDACTED": secret is not of the '
                                        f'expected length, got {len(raw)}, expected one of '
                                        f'[{" ".join(map(str, sizes))}]')
            return None
        if not ok:
            return None
        try:
            transformer = _MAKERS[provider](raw)
        except ImportError:
            self.fail(path, "secretbox needs PyNaCl, which is not installed")
            return None
        return f"{name}:".encode(), transformer


def _resource_problem(name: Any) -> str:
    """Kubernetes' validateResourceNames, as one message (or "" when the name is fine)."""
    if not isinstance(name, str) or not name:
        return "must be a non-empty string"
    if name.lower() != name:
        return "resource name should not contain capital letters"
    if name == "*":
        return "use '*.' to encrypt all the resources from core API group or *.* to " \
               "encrypt all resources"
    if name in _NOT_REST:
        return "resources which do not have REST API/s cannot be encrypted"
    group, resource = parse_group_resource(name)
    if group == "events.k8s.io":
        return "'*.events.k8s.io' objects are stored using the 'events' API group in etcd. " \
               "Use 'events' instead in the config file"
    if group == "extensions":
        return "'extensions' group has been removed and cannot be used for encryption"
    if group == "*" and resource != "*":
        return "encrypting the same resource across groups is not supported"
    return ""


# -- the default -----------------------------------------------------------------------

DEFAULT_KEY_NAME = "key1"
_DEFAULT = """\
# Made by `kyb apiserver` on first start: Secrets are encrypted at rest with the
# aescbc key below (32 random bytes). Keep this file (mode 0600) with the store: the
# Secrets in it cannot be read without it. To rotate the key, copy this file, put a
# new key first and start with --encryption-provider-config COPY (see the README's
# "Security" section). identity, last, reads Secrets written before encryption.
apiVersion: {api_version}
kind: {kind}
resources:
  - resources:
      - secrets
    providers:
      - aescbc:
          keys:
            - name: {name}
              secret: {secret}
      - identity: {{}}
"""


def default_config(secret: bytes) -> str:
    return _DEFAULT.format(api_version=API_VERSION, kind=KIND, name=DEFAULT_KEY_NAME,
                           secret=base64.b64encode(secret).decode("ascii"))


def ensure_default_config(path: Path) -> Path:
    """The default configuration at `path`, made with a fresh key on first use (0600,
    never overwritten: it is written whole beside it and linked in, so a server
    starting at the same moment never reads half of it and the first one wins)."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(default_config(os.urandom(32)))
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    return path
