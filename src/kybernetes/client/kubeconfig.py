"""Kubeconfig files: read the parts a client needs, and write one for a cluster.

A kubeconfig names clusters, users and contexts; a client uses the current
context (or one it names) to find the server URL, how to trust it
(certificate-authority file or -data, or insecure-skip-tls-verify) and how to
prove who it is (client certificate and key, file or -data, or a bearer token,
inline or from tokenFile). :func:`load_kubeconfig` resolves all of that into one
:class:`KubeConfig` of PEM bytes, so the REST client never touches the file
format. Relative file paths are resolved against the kubeconfig's directory, as
kubectl does.

:func:`write_kubeconfig` writes (or merges into) a file that the real kubectl
reads: the API server writes its admin kubeconfig with it and `kyb up` writes
component kubeconfigs. Merging replaces only the named cluster, user and context
and makes that context current, so other entries a user added survive. The file
is written atomically with mode 0600 because it holds keys.
"""

from __future__ import annotations

import base64
import os
import ssl
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml


class KubeconfigError(ValueError):
    """The kubeconfig is missing, unreadable, or does not say what a client needs."""


@dataclass(frozen=True)
class KubeConfig:
    """What one context of a kubeconfig resolves to."""

    server: str
    ca_pem: bytes | None = None
    cert_pem: bytes | None = None
    key_pem: bytes | None = None
    token: str | None = None
    insecure: bool = False
    tls_server_name: str | None = None
    namespace: str = "default"

    def ssl_context(self) -> ssl.SSLContext | None:
        """The TLS settings for this server; None for plain http."""
        if not self.server.startswith("https"):
            return None
        if self.insecure:
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        elif self.ca_pem:
            ctx = ssl.create_default_context(cadata=self.ca_pem.decode())
        else:
            ctx = ssl.create_default_context()
        if self.cert_pem and self.key_pem:
            _load_cert_chain(ctx, self.cert_pem, self.key_pem)
        return ctx


def _load_cert_chain(ctx: ssl.SSLContext, cert_pem: bytes, key_pem: bytes) -> None:
    # The ssl module only loads a certificate from a file: use a private temp dir.
    with tempfile.TemporaryDirectory(prefix="kyb-tls-") as tmp:
        cert, key = Path(tmp, "tls.crt"), Path(tmp, "tls.key")
        cert.write_bytes(cert_pem)
        key.touch(mode=0o600)
        key.write_bytes(key_pem)
        try:
            ctx.load_cert_chain(cert, key)
        except ssl.SSLError as e:
            raise KubeconfigError(f"bad client certificate or key: {e}") from e


def default_path() -> Path:
    """$KUBECONFIG (first entry) or ~/.kube/config, as kubectl looks."""
    env = os.environ.get("KUBECONFIG", "")
    first = next((p for p in env.split(os.pathsep) if p), "")
    return Path(first) if first else Path.home() / ".kube" / "config"


def _named(entries: list[dict[str, Any]] | None, name: str, what: str) -> dict[str, Any]:
    for entry in entries or []:
        if entry.get("name") == name:
            return dict(entry.get(what) or {})
    raise KubeconfigError(f"{what} {name!r} not found in kubeconfig")


def _data_or_file(section: dict[str, Any], key: str, base: Path) -> bytes | None:
    data = section.get(f"{key}-data")
    if data:
        try:
            return base64.b64decode(data, validate=False)
        except ValueError as e:
            raise KubeconfigError(f"{key}-data is not base64: {e}") from e
    path = section.get(key)
    if not path:
        return None
    full = Path(path) if os.path.isabs(path) else base / path
    try:
        return full.read_bytes()
    except OSError as e:
        raise KubeconfigError(f"cannot read {key} {full}: {e.strerror}") from e


def parse_kubeconfig(doc: dict[str, Any], *, base: Path, context: str | None = None) -> KubeConfig:
    """Resolve one context of an already-parsed kubeconfig document."""
    if not isinstance(doc, dict):
        raise KubeconfigError("kubeconfig is not a mapping")
    name = context or doc.get("current-context")
    if not name:
        raise KubeconfigError("kubeconfig has no current-context")
    ctx = _named(doc.get("contexts"), name, "context")
    cluster = _named(doc.get("clusters"), ctx.get("cluster", ""), "cluster")
    user = _named(doc.get("users"), ctx["user"], "user") if ctx.get("user") else {}
    server = cluster.get("server")
    if not server:
        raise KubeconfigError(f"cluster {ctx.get('cluster')!r} has no server")
    token = user.get("token")
    if not token and user.get("tokenFile"):
        raw = _data_or_file({"tokenFile": user["tokenFile"]}, "tokenFile", base)
        token = raw.decode().strip() if raw else None
    return KubeConfig(
        server=str(server).rstrip("/"),
        ca_pem=_data_or_file(cluster, "certificate-authority", base),
        cert_pem=_data_or_file(user, "client-certificate", base),
        key_pem=_data_or_file(user, "client-key", base),
        token=token or None,
        insecure=bool(cluster.get("insecure-skip-tls-verify", False)),
        tls_server_name=cluster.get("tls-server-name"),
        namespace=ctx.get("namespace") or "default",
    )


def load_kubeconfig(path: str | Path | None = None, *, context: str | None = None) -> KubeConfig:
    """Read a kubeconfig file and resolve its current (or named) context."""
    file = Path(path) if path else default_path()
    try:
        doc = yaml.safe_load(file.read_text())
    except OSError as e:
        raise KubeconfigError(f"cannot read kubeconfig {file}: {e.strerror}") from e
    except yaml.YAMLError as e:
        raise KubeconfigError(f"kubeconfig {file} is not valid YAML: {e}") from e
    return parse_kubeconfig(doc or {}, base=file.parent, context=context)


def _b64(pem: bytes | str) -> str:
    return base64.b64encode(pem.encode() if isinstance(pem, str) else pem).decode()


def _upsert(entries: list[dict[str, Any]], name: str, what: str, body: dict[str, Any]) -> None:
    for entry in entries:
        if entry.get("name") == name:
            entry[what] = body
            return
    entries.append({"name": name, what: body})


def merge_kubeconfig(
    doc: dict[str, Any],
    *,
    server: str,
    ca_pem: bytes | str | None,
    cert_pem: bytes | str | None = None,
    key_pem: bytes | str | None = None,
    token: str | None = None,
    user: str = "admin",
    cluster: str = "kybernetes",
) -> dict[str, Any]:
    """`doc` (a parsed kubeconfig, or {}) with user@cluster added and made current."""
    doc.setdefault("apiVersion", "v1")
    doc.setdefault("kind", "Config")
    doc.setdefault("preferences", {})
    cluster_body: dict[str, Any] = {"server": server}
    if ca_pem:
        cluster_body["certificate-authority-data"] = _b64(ca_pem)
    user_body: dict[str, Any] = {}
    if cert_pem and key_pem:
        user_body["client-certificate-data"] = _b64(cert_pem)
        user_body["client-key-data"] = _b64(key_pem)
    if token:
        user_body["token"] = token
    context = f"{user}@{cluster}"
    _upsert(doc.setdefault("clusters", []), cluster, "cluster", cluster_body)
    _upsert(doc.setdefault("users", []), user, "user", user_body)
    _upsert(doc.setdefault("contexts", []), context, "context",
            {"cluster": cluster, "user": user})
    doc["current-context"] = context
    return doc


def dump_kubeconfig(doc: dict[str, Any]) -> str:
    """A kubeconfig document as the YAML kubectl reads."""
    return str(yaml.safe_dump(doc, default_flow_style=False, sort_keys=False))


def write_kubeconfig(
    path: str | Path,
    *,
    server: str,
    ca_pem: bytes | str | None,
    cert_pem: bytes | str | None = None,
    key_pem: bytes | str | None = None,
    token: str | None = None,
    user: str = "admin",
    cluster: str = "kybernetes",
) -> Path:
    """Write (or merge into) a kubeconfig whose current context is user@cluster."""
    file = Path(path)
    doc: dict[str, Any] = {}
    if file.exists():
        try:
            doc = yaml.safe_load(file.read_text()) or {}
        except yaml.YAMLError as e:
            raise KubeconfigError(f"cannot merge into {file}: {e}") from e
    merge_kubeconfig(doc, server=server, ca_pem=ca_pem, cert_pem=cert_pem, key_pem=key_pem,
                     token=token, user=user, cluster=cluster)
    file.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".kubeconfig-", dir=file.parent)
    try:
        with os.fdopen(fd, "w") as out:
            out.write(dump_kubeconfig(doc))
        os.chmod(tmp, 0o600)
        os.replace(tmp, file)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return file
