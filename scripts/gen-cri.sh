#!/usr/bin/env bash
# Generate the CRI v1 Python stubs (api_pb2.py, api_pb2_grpc.py) from
# src/kybernetes/kubelet/runtime/cri/api.proto with grpcio-tools. They are not
# committed: generated here, by the grpcio-tools that matches the installed protobuf
# runtime, they always load (protobuf refuses gencode newer than its runtime).
set -euo pipefail
cd "$(dirname "$0")/../src"
PY="${PYTHON:-../.venv/bin/python}"
"$PY" -m grpc_tools.protoc -I. --python_out=. --grpc_python_out=. \
  kybernetes/kubelet/runtime/cri/api.proto
