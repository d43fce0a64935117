#!/usr/bin/env bash
# The main job: set up, start a 2-node cluster, run the web example behind its
# Service and send requests through the Service. The cluster keeps running after.
#   scripts/demo.sh [--runtime process|containerd]   (or KYB_RUNTIME=...; default process)
# On containerd (root) the pods run the kyb/busybox:1 image `kyb up` builds offline
# from Debian's busybox-static; the example is the same file on both runtimes.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNTIME="${KYB_RUNTIME:-process}"
while [ $# -gt 0 ]; do
  case "$1" in
    --runtime) RUNTIME="${2:?--runtime needs process or containerd}"; shift 2 ;;
    --runtime=*) RUNTIME="${1#--runtime=}"; shift ;;
    *) echo "usage: $0 [--runtime process|containerd]" >&2; exit 2 ;;
  esac
done
bash scripts/setup.sh
DATA="${KYB_DATA_DIR:-$PWD/.kyb}"
KYB=.venv/bin/kyb

$KYB down --data-dir "$DATA" >/dev/null 2>&1 || true
$KYB up --nodes 2 --runtime "$RUNTIME" --detach --data-dir "$DATA"
export KUBECONFIG="$DATA/kubeconfig"

kubectl apply -f examples/web/web.yaml
kubectl wait --for=condition=Ready pod -l app=web --timeout=90s
kubectl get pods -l app=web -o wide
NODE_IP=$(kubectl get nodes -o jsonpath='{.items[0].status.addresses[?(@.type=="InternalIP")].address}')
echo "requests through the web Service (NodePort 30080 on node $NODE_IP):"
.venv/bin/python - "$NODE_IP" <<'PY'
import sys, time, urllib.request
url = f"http://{sys.argv[1]}:30080/"
for _ in range(6):
    for attempt in range(50):
        try:
            with urllib.request.urlopen(url, timeout=3) as r:
                print("  " + r.read().decode().strip())
            break
        except OSError:
            time.sleep(0.2)
    else:
        sys.exit(f"no answer from {url}")
PY
echo
echo "The cluster keeps running. Try: export KUBECONFIG=$KUBECONFIG; kubectl get all"
echo "Stop it with: $KYB down --data-dir $DATA"
