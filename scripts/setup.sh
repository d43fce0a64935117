#!/usr/bin/env bash
# Install what kybernetes and its tests need on a Debian 12 machine (idempotent):
# Debian's etcd-server and etcd-client (etcdctl: `kyb backup`/`restore` of etcd),
# docker.io, busybox-static, iptables, iproute2, runc, wget (the DNS
# e2e test: busybox-static's own wget crashes), wrk (bench/apiserver.py and bench/proxy.py's
# load generator), containerd and containernetworking-plugins (the containerd runtime: CRI,
# and the CNI bridge/host-local plugins its pods get addresses from), nftables (`kyb
# network-policy` writes its rules with nft), docker-registry (Distribution's registry:
# `kyb up --registry`), chromium
# (the dashboard's browser tests; Playwright's own browser download is never used), and a
# virtualenv in .venv with kybernetes installed editable with its test extras.
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive PIP_DISABLE_PIP_VERSION_CHECK=1

DEBS=(etcd-server etcd-client docker.io busybox-static iptables iproute2 runc conntrack chromium wget wrk
      containerd containernetworking-plugins nftables docker-registry)
missing=()
for p in "${DEBS[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if ((${#missing[@]})); then
  echo "installing Debian packages: ${missing[*]}"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi
# `kyb up --registry` runs its own registry: the package's service would hold port 5000
if command -v systemctl >/dev/null && systemctl is-enabled docker-registry >/dev/null 2>&1; then
  ${SUDO:-} systemctl disable --now docker-registry >/dev/null 2>&1 || true
fi

[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/pip install -q -e '.[test]' 2>&1 | grep -v 'is ignored' || true
bash scripts/gen-cri.sh  # the CRI v1 gRPC stubs (generated, not committed)
.venv/bin/python -c "import kybernetes, aiohttp, orjson, kubernetes"
.venv/bin/python -c "import kybernetes.kubelet.runtime.cri"
bash scripts/install-helm.sh
echo "setup done: $(.venv/bin/kyb --version)"
