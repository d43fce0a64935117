"""`kyb image load FILE.tar` and `kyb image ls`: the images of a `kyb up` cluster.

`load` puts a docker-archive or OCI tarball into every node's runtime (containerd:
`ctr images import` into the CRI plugin's namespace on the node's socket; docker:
`docker load` into the one Docker Engine the docker nodes share) and, when the
cluster runs a registry (`kyb up --registry`), pushes each image there too, named
`localhost:PORT/<its repository>:<tag>`. `ls` lists what each node's runtime holds
(CRI ListImages; Docker's image list) and the registry's repositories and tags.
The process runtime runs no images: its nodes are skipped, and said so.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

from kybernetes.cli import cluster_dir
from kybernetes.cli.distribution import Registry, RegistryError
from kybernetes.cli.errors import CliError
from kybernetes.cli.oci_archive import ArchiveError, read, repository

HELP = "load image tarballs into the nodes (and the cluster's registry), list images"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="image_command", metavar="COMMAND", required=True)
    load = sub.add_parser("load", help="load a docker-archive or OCI tarball into every "
                          "node's runtime and push it to the cluster's registry")
    load.add_argument("file", metavar="FILE.tar")
    ls = sub.add_parser("ls", help="list each node's images and the registry's")
    for p in (load, ls):
        p.add_argument("--data-dir", help="the cluster's data directory (default ~/.kyb)")


def run(args: argparse.Namespace) -> int:
    if args.image_command == "load":
        return load(args)
    return ls(args)


def _cluster(data_dir: str | None) -> tuple[cluster_dir.ClusterDir, dict[str, Any]]:
    cdir = cluster_dir.resolve(data_dir)
    status = cdir.read_status()
    if cdir.supervisor_pid() is None or status is None:
        raise CliError(f"no cluster is running from {cdir.root} (start one with `kyb up`)")
    if status.get("phase") != "Ready":
        raise CliError(f"the cluster in {cdir.root} is {status.get('phase')}, not Ready")
    return cdir, status


def _containerd_layout(cdir: cluster_dir.ClusterDir, node: str) -> Any:
    from kybernetes.kubelet.runtime.containerd_daemon import Layout

    return Layout((cdir.node_dir(node) / "containerd").resolve())


def load(args: argparse.Namespace) -> int:
    path = Path(args.file)
    if not path.is_file():
        raise CliError(f"{path}: no such file")
    try:
        images = read(path)
    except ArchiveError as e:
        raise CliError(f"{path} is not an image archive: {e}") from None
    cdir, status = _cluster(args.data_dir)
    names = ", ".join(r for image in images for r in image.references)
    runtime, nodes = status.get("runtime"), status.get("nodes") or []
    if runtime == "containerd":
        from kybernetes.kubelet.runtime.containerd_daemon import ContainerdError, import_image

        data = path.read_bytes()
        for node in nodes:
            try:
                import_image(_containerd_layout(cdir, node), data)
            except (ContainerdError, subprocess.TimeoutExpired) as e:
                raise CliError(f"{node}: {e}") from None
            print(f"{node}: loaded {names}")
    elif runtime == "docker":
        _docker("load", "-i", str(path))
        print(f"{', '.join(nodes)} (one Docker Engine): loaded {names}")
    else:
        print(f"{', '.join(nodes)}: the {runtime} runtime runs no images (skipped)")
    registry = status.get("registry")
    if registry:
        client = Registry(registry["url"])
        for image in images:
            for reference in image.references:
                repo, tag = repository(reference)
                try:
                    pushed = client.push(image, repo, tag)
                except RegistryError as e:
                    raise CliError(f"push of {reference}: {e}") from None
                print(f"registry: pushed {registry['name']}/{repo}:{tag} ({pushed})")
    return 0


def _docker(*args: str) -> str:
    docker = shutil.which("docker")
    if docker is None:
        raise CliError("the docker nodes' images need the docker client (Debian's docker.io)")
    done = subprocess.run([docker, *args], capture_output=True, text=True, timeout=300,
                          check=False)
    if done.returncode != 0:
        raise CliError(f"docker {args[0]}: {done.stderr.strip()}")
    return done.stdout


def _node_images(cdir: cluster_dir.ClusterDir, runtime: str,
                 node: str) -> list[tuple[str, str, str]]:
    """(image reference, id, size) for each tag a node's runtime holds."""
    if runtime == "containerd":
        import grpc

        from kybernetes.kubelet.runtime.cri import api_pb2 as pb
        from kybernetes.kubelet.runtime.cri import api_pb2_grpc as rpc

        with grpc.insecure_channel(_containerd_layout(cdir, node).endpoint) as channel:
            try:
                reply = rpc.ImageServiceStub(channel).ListImages(pb.ListImagesRequest(),
                                                                 timeout=30)
            except grpc.RpcError as e:
                raise CliError(f"{node}: containerd does not answer: {e.details()}") from None
        return [(tag, i.id, human_size(i.size)) for i in reply.images
                for tag in i.repo_tags or ["<none>"]]
    if runtime == "docker":
        listed = _docker("image", "ls", "--no-trunc", "--format", "{{json .}}")
        return [(f"{e['Repository']}:{e['Tag']}", e["ID"], e["Size"])
                for e in map(json.loads, listed.splitlines())]
    return []


def human_size(size: int) -> str:
    """As crictl prints sizes: 2.08MB."""
    value = float(size)
    for unit in ("B", "kB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:.3g}{unit}"
        value /= 1000
    return f"{value:.3g}GB"


def ls(args: argparse.Namespace) -> int:
    cdir, status = _cluster(args.data_dir)
    runtime = str(status.get("runtime"))
    rows = [(node, *image) for node in status.get("nodes") or []
            for image in _node_images(cdir, runtime, node)]
    if runtime not in ("containerd", "docker"):
        print(f"the {runtime} runtime runs no images")
    else:
        width = max([40, *(len(r[1]) + 1 for r in rows)])
        print(f"{'NODE':16} {'IMAGE':{width}} {'ID':14} SIZE")
        for node, reference, image_id, size in sorted(rows):
            short = image_id.removeprefix("sha256:")[:13]
            print(f"{node:16} {reference:{width}} {short:14} {size}")
    registry = status.get("registry")
    if registry:
        try:
            catalog = Registry(registry["url"]).catalog()
        except RegistryError as e:
            raise CliError(str(e)) from None
        print(f"\nREGISTRY {registry['name']}")
        print(f"{'REPOSITORY':40} TAGS")
        for repo, tags in sorted(catalog.items()):
            print(f"{repo:40} {','.join(tags) or '<none>'}")
    return 0
