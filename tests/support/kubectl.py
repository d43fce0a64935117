"""The real kubectl, as tests run it: the oldest and newest supported beside the default.

`kubectl.1.27` … `kubectl.1.33` stand beside the `kubectl` on the PATH (Debian's
google-cloud-sdk layout); each test picks the versions a feature supports.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

from tests.support.apiserver import ApiServer

KUBECTL_DIR = Path("/usr/lib/google-cloud-sdk/bin")
KUBECTLS = [k for k in ("kubectl.1.27", "kubectl.1.33", "kubectl")
            if (KUBECTL_DIR / k).exists() or shutil.which(k)]


class Kubectl:
    def __init__(self, binary: str, server: ApiServer, tmp: Path) -> None:
        self.binary = str(KUBECTL_DIR / binary) if (KUBECTL_DIR / binary).exists() else binary
        self.env = {**os.environ, "KUBECONFIG": str(server.kubeconfig),
                    "HOME": str(tmp), "KUBECTL_EXTERNAL_DIFF": "diff -u"}
        self.tmp = tmp

    def run(self, *args: str, check: bool = True, stdin: str | None = None,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run([self.binary, *args], capture_output=True, text=True,
                              input=stdin, timeout=60, env={**self.env, **(env or {})})
        if check and proc.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed ({proc.returncode}):\n"
                                 f"{proc.stdout}\n{proc.stderr}")
        return proc

    def __call__(self, *args: str, **kw: object) -> str:
        return self.run(*args, **kw).stdout  # type: ignore[arg-type]

    def json(self, *args: str) -> dict:
        return json.loads(self(*args, "-o", "json"))
