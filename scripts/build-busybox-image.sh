#!/usr/bin/env bash
# Build a container image offline from Debian's busybox-static as a docker-archive
# tarball (what `ctr images import`, `docker load` and `kyb image load` read), and
# with --address SOCK import it into that containerd's k8s.io namespace (the one the
# CRI plugin serves). `kyb containerd` / `kyb up --runtime containerd` already import
# docker.io/kyb/busybox:1 and the pause image docker.io/kyb/pause:1 this way.
#   scripts/build-busybox-image.sh OUT.tar [NAME (default docker.io/kyb/busybox:1)] [--address SOCK]
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:?usage: $0 OUT.tar [NAME] [--address SOCK]}"; shift
name="docker.io/kyb/busybox:1"
if [ $# -gt 0 ] && [ "$1" != "--address" ]; then name="$1"; shift; fi
.venv/bin/python - "$out" "$name" <<'PY'
import sys
from kybernetes.kubelet.runtime.image_archive import busybox_archive
with open(sys.argv[1], "wb") as f:
    f.write(busybox_archive(sys.argv[2]))
PY
echo "wrote $out ($name)"
if [ "${1:-}" = "--address" ]; then
  ctr -n k8s.io --address "${2:?--address needs the containerd socket}" images import "$out"
fi
