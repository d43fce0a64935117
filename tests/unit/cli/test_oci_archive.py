"""Image tarballs read into what a registry is pushed (`kyb image load`): the manifest
written for a docker-archive, an OCI layout's manifests kept byte for byte, names."""

from __future__ import annotations

import gzip
import io
import json
import tarfile
from pathlib import Path

import pytest

from kybernetes.cli.image import human_size
from kybernetes.cli.oci_archive import (
    DOCKER_CONFIG,
    DOCKER_LAYER_GZIP,
    DOCKER_MANIFEST,
    OCI_INDEX,
    OCI_MANIFEST,
    ArchiveError,
    digest,
    layer_blob,
    normalize,
    read,
    repository,
)
from kybernetes.kubelet.runtime.image_archive import docker_archive


def _tar(files: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


LAYER = _tar({"hello.txt": b"hello\n"})


def test_docker_archive_gets_a_schema2_manifest(tmp_path: Path) -> None:
    path = tmp_path / "image.tar"
    path.write_bytes(docker_archive("docker.io/kyb/app:2", cmd=["/bin/sh"], layer=LAYER))
    (image,) = read(path)
    assert image.references == ["docker.io/kyb/app:2"]
    manifest = json.loads(image.manifest.data)
    assert image.manifest.media_type == manifest["mediaType"] == DOCKER_MANIFEST
    config = image.blobs[manifest["config"]["digest"]]
    assert manifest["config"] == {"mediaType": DOCKER_CONFIG, "size": len(config),
                                  "digest": digest(config)}
    (layer,) = manifest["layers"]
    blob = image.blobs[layer["digest"]]
    assert layer["mediaType"] == DOCKER_LAYER_GZIP and layer["size"] == len(blob)
    # the config's diff_id is the uncompressed layer's: what a puller checks after gunzip
    assert json.loads(config)["rootfs"]["diff_ids"] == [digest(gzip.decompress(blob))]
    assert image.manifest.digest == digest(image.manifest.data)
    # the same archive gives the same manifest: no timestamps in the gzip stream
    assert read(path)[0].manifest == image.manifest


def test_layers_already_gzipped_are_kept_and_others_refused() -> None:
    gz = gzip.compress(LAYER)
    assert layer_blob(gz) is gz
    with pytest.raises(ArchiveError, match="neither a tar nor a gzipped tar"):
        layer_blob(b"x" * 600)


def _oci_layout(tmp_path: Path, *, with_index: bool,
                untagged_manifest_json: bool = False) -> tuple[Path, dict[str, bytes]]:
    config, layer = b'{"architecture":"amd64","os":"linux"}', gzip.compress(LAYER, mtime=0)
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": digest(config), "size": len(config)},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                    "digest": digest(layer), "size": len(layer)}]}).encode()
    blobs = {digest(b): b for b in (config, layer, manifest)}
    top = {"mediaType": OCI_MANIFEST, "digest": digest(manifest), "size": len(manifest)}
    if with_index:  # a multi-platform index whose arm64 manifest was not exported
        index = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [
            top, {"mediaType": OCI_MANIFEST, "digest": "sha256:" + "0" * 64, "size": 1,
                  "platform": {"architecture": "arm64", "os": "linux"}}]}).encode()
        blobs[digest(index)] = index
        top = {"mediaType": OCI_INDEX, "digest": digest(index), "size": len(index)}
    files = {f"blobs/sha256/{d.split(':')[1]}": b for d, b in blobs.items()}
    files["oci-layout"] = b'{"imageLayoutVersion":"1.0.0"}'
    files["index.json"] = json.dumps({"schemaVersion": 2, "manifests": [
        {**top, "annotations": {"io.containerd.image.name": "example.com:5000/team/app:v1",
                                "org.opencontainers.image.ref.name": "v1"}},
        {**top, "annotations": {"org.opencontainers.image.ref.name": "v1"}}]}).encode()
    if untagged_manifest_json:  # what `ctr images export --skip-manifest-json` writes
        files["manifest.json"] = b'[{"Config": "x", "RepoTags": null, "Layers": []}]'
    path = tmp_path / "oci.tar"
    path.write_bytes(_tar(files))
    return path, blobs


@pytest.mark.parametrize("untagged_manifest_json", [False, True])
def test_oci_layout_manifest_is_pushed_as_it_is(tmp_path: Path,
                                                untagged_manifest_json: bool) -> None:
    path, blobs = _oci_layout(tmp_path, with_index=False,
                              untagged_manifest_json=untagged_manifest_json)
    (image,) = read(path)  # the entry named only by a tag has no repository: skipped
    assert image.references == ["example.com:5000/team/app:v1"]
    assert image.manifest.media_type == OCI_MANIFEST and image.children == []
    assert blobs[image.manifest.digest] == image.manifest.data
    assert len(image.blobs) == 2 and all(blobs[d] == b for d, b in image.blobs.items())


def test_oci_index_keeps_the_manifests_the_archive_holds(tmp_path: Path) -> None:
    path, blobs = _oci_layout(tmp_path, with_index=True)
    (image,) = read(path)
    assert image.manifest.media_type == OCI_INDEX
    (child,) = image.children
    assert child.media_type == OCI_MANIFEST and blobs[child.digest] == child.data


@pytest.mark.parametrize(("files", "message"), [
    ({"hello.txt": b"x"}, "neither a docker-archive"),
    ({"manifest.json": b"{nope"}, "manifest.json is not JSON"),
    ({"manifest.json": b'[{"Config": "c.json", "RepoTags": ["a:1"], "Layers": []}]'},
     "c.json is missing"),
    ({"manifest.json": b'[{"Config": "c.json", "Layers": []}]'}, "names no image"),
])
def test_bad_archives(tmp_path: Path, files: dict[str, bytes], message: str) -> None:
    path = tmp_path / "bad.tar"
    path.write_bytes(_tar(files))
    with pytest.raises(ArchiveError, match=message):
        read(path)


def test_not_a_tar(tmp_path: Path) -> None:
    path = tmp_path / "bad.tar"
    path.write_bytes(b"no tar here")
    with pytest.raises(ArchiveError, match="not a readable tar archive"):
        read(path)


def test_blob_not_matching_its_digest_is_refused(tmp_path: Path) -> None:
    path, blobs = _oci_layout(tmp_path, with_index=False)
    with tarfile.open(path) as tar:
        files = {m.name: tar.extractfile(m).read() for m in tar.getmembers()}  # type: ignore[union-attr]
    config = min(blobs, key=lambda d: len(blobs[d]))
    files[f"blobs/sha256/{config.split(':')[1]}"] = b"tampered"
    path.write_bytes(_tar(files))
    with pytest.raises(ArchiveError, match="does not match its digest"):
        read(path)


@pytest.mark.parametrize(("reference", "full", "pushed_as"), [
    ("busybox", "docker.io/library/busybox:latest", ("busybox", "latest")),
    ("kyb/app:2", "docker.io/kyb/app:2", ("kyb/app", "2")),
    ("localhost:5000/app", "localhost:5000/app:latest", ("app", "latest")),
    ("localhost/team/app:1", "localhost/team/app:1", ("team/app", "1")),
    ("registry.example.com/a/b:c@sha256:" + "1" * 64, "registry.example.com/a/b:c",
     ("a/b", "c")),
])
def test_references(reference: str, full: str, pushed_as: tuple[str, str]) -> None:
    assert normalize(reference) == full
    assert repository(reference) == pushed_as


def test_sizes_as_crictl_prints_them() -> None:
    assert [human_size(n) for n in (999, 2_130_000, 4_500_000_000)] == ["999B", "2.13MB",
                                                                          "4.5GB"]
