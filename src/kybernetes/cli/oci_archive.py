"""Image tarballs (`docker save`'s docker-archive, or an OCI image layout) read into what
a registry is pushed: blobs and manifests, each by its digest.

A docker-archive carries no manifest: one is written here (Docker's schema 2, the
image config as it is, each layer gzipped unless it is already, since Docker's
uncompressed layer type is one that neither Docker nor containerd pulls). An OCI
layout carries its manifests and indexes: they are pushed byte for byte, so the
registry's digests are the archive's.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import json
import tarfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
INDEXES = (OCI_INDEX, DOCKER_LIST)
MANIFESTS = (OCI_MANIFEST, DOCKER_MANIFEST)
# where an OCI layout names an image (containerd's and Docker's exports, then the spec's)
NAME_ANNOTATIONS = ("io.containerd.image.name", "org.opencontainers.image.ref.name")


class ArchiveError(Exception):
    """Not an image tarball, or one this reader cannot make sense of."""


def digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class Manifest:
    """A manifest or index to push, after its blobs (and, for an index, its manifests)."""

    media_type: str
    data: bytes

    @property
    def digest(self) -> str:
        return digest(self.data)


@dataclass
class Image:
    """One named image: the references it carries, what to push, in order."""

    references: list[str]
    blobs: dict[str, bytes] = field(default_factory=dict)  # digest -> content
    children: list[Manifest] = field(default_factory=list)  # an index's manifests
    manifest: Manifest = Manifest("", b"")


def read(path: Path) -> list[Image]:
    """Every named image in the tarball at `path`."""
    try:
        with tarfile.open(path) as tar:
            members = {m.name.removeprefix("./"): m for m in tar.getmembers() if m.isfile()}

            def load(name: str) -> bytes:
                member = members.get(name)
                extracted = tar.extractfile(member) if member is not None else None
                if extracted is None:
                    raise ArchiveError(f"{name} is missing from the archive")
                return extracted.read()
            if "manifest.json" not in members and "index.json" not in members:
                raise ArchiveError("neither a docker-archive (no manifest.json) nor an OCI "
                                   "image layout (no index.json)")
            # both in Docker's and containerd's exports: manifest.json first (its layers
            # are gzipped for the push); its entries may carry no tags (`ctr export
            # --skip-manifest-json`), then the OCI index names the images
            images = _docker_archive(load) if "manifest.json" in members else []
            if not images and "index.json" in members:
                images = _oci_layout(load)
    except (tarfile.TarError, EOFError, OSError) as e:
        raise ArchiveError(f"not a readable tar archive: {e}") from None
    if not images:
        raise ArchiveError("the archive names no image")
    return images


def _json(data: bytes, what: str) -> Any:
    try:
        return json.loads(data)
    except ValueError as e:
        raise ArchiveError(f"{what} is not JSON: {e}") from None


def _docker_archive(load: Any) -> list[Image]:
    entries = _json(load("manifest.json"), "manifest.json")
    if not isinstance(entries, list):
        raise ArchiveError("manifest.json is not a list of images")
    images = []
    for entry in entries:
        tags = [normalize(t) for t in entry.get("RepoTags") or []]
        if not tags:
            continue  # an untagged image: nothing to push it as
        config = load(entry["Config"])
        image = Image(tags, {digest(config): config})
        layers = []
        for name in entry.get("Layers") or []:
            blob = layer_blob(load(name))
            image.blobs[digest(blob)] = blob
            layers.append({"mediaType": DOCKER_LAYER_GZIP, "size": len(blob),
                           "digest": digest(blob)})
        image.manifest = Manifest(DOCKER_MANIFEST, json.dumps({
            "schemaVersion": 2, "mediaType": DOCKER_MANIFEST,
            "config": {"mediaType": DOCKER_CONFIG, "size": len(config),
                       "digest": digest(config)},
            "layers": layers}, indent=3).encode())
        images.append(image)
    return images


def layer_blob(layer: bytes) -> bytes:
    """A layer as pushed: gzip (deterministic: no name, no time) unless it is already."""
    if layer[:2] == b"\x1f\x8b":
        return layer
    if layer[257:262] != b"ustar" and layer.strip(b"\0"):
        raise ArchiveError("a layer is neither a tar nor a gzipped tar")
    return gzip.compress(layer, compresslevel=6, mtime=0)


def _oci_layout(load: Any) -> list[Image]:
    index = _json(load("index.json"), "index.json")
    images = []
    for descriptor in index.get("manifests") or []:
        annotations = descriptor.get("annotations") or {}
        name = next((annotations[a] for a in NAME_ANNOTATIONS if a in annotations), "")
        if "/" not in name and ":" not in name:
            continue  # unnamed, or a bare tag ("1.0"): no repository to push it to
        image = Image([normalize(name)])
        image.manifest = _oci_manifest(load, descriptor, image)
        images.append(image)
    return images


def _blob(load: Any, descriptor: dict[str, Any]) -> bytes:
    algorithm, _, hex_digest = str(descriptor.get("digest", "")).partition(":")
    data: bytes = load(f"blobs/{algorithm}/{hex_digest}")
    if digest(data) != descriptor["digest"]:
        raise ArchiveError(f"blob {descriptor['digest']} does not match its digest")
    return data


def _oci_manifest(load: Any, descriptor: dict[str, Any], image: Image) -> Manifest:
    """The manifest (or index) `descriptor` names, its blobs gathered into `image`; an
    index's manifests missing from the archive (other platforms) are left out of it."""
    data = _blob(load, descriptor)
    media_type = descriptor.get("mediaType") or _json(data, "a manifest").get("mediaType", "")
    if media_type in INDEXES:
        for child in _json(data, "an index").get("manifests") or []:
            with contextlib.suppress(ArchiveError):
                image.children.append(_oci_manifest(load, child, image))
        if not image.children:
            raise ArchiveError("an index names no manifest the archive holds")
        return Manifest(media_type, data)
    if media_type not in MANIFESTS:
        raise ArchiveError(f"unsupported manifest type {media_type!r}")
    manifest = _json(data, "a manifest")
    for blob in [manifest.get("config") or {}, *(manifest.get("layers") or [])]:
        image.blobs[blob["digest"]] = _blob(load, blob)
    return Manifest(media_type, data)


def split(reference: str) -> tuple[str, str, str]:
    """(domain, repository path, tag) of a reference, as Docker reads one: the first
    component is a registry if it has a dot or a port or is localhost."""
    name, tag = reference.split("@", 1)[0], "latest"
    last = name.rsplit("/", 1)[-1]
    if ":" in last:
        name, tag = name.rsplit(":", 1)
    first, _, rest = name.partition("/")
    if rest and ("." in first or ":" in first or first == "localhost"):
        return first, rest, tag
    return "docker.io", name if "/" in name else f"library/{name}", tag


def normalize(reference: str) -> str:
    """`busybox` -> `docker.io/library/busybox:latest` (what containerd lists)."""
    domain, path, tag = split(reference)
    return f"{domain}/{path}:{tag}"


def repository(reference: str) -> tuple[str, str]:
    """(repository, tag) under which the cluster's registry keeps an image: its path
    without the registry it came from (Docker Hub's `library/` dropped too)."""
    domain, path, tag = split(reference)
    if domain == "docker.io":
        path = path.removeprefix("library/")
    return path, tag
