"""The real kubectl, as tests run it: the oldest and newest supported beside the default.

`kubectl.1.27` … `kubectl.1.33` stand beside the `kubectl` on the PATH (Debian's
google-cloud-sdk layout); each test picks the versions a feature supports.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import shutil
import subprocess
import urllib.request
from pathlib import Path

from tests.support.apiserver import ApiServer

KUBECTL_DIR = Path("/usr/lib/google-cloud-sdk/bin")
KUBECTLS = [k for k in ("kubectl.1.27", "kubectl.1.33", "kubectl")
            if (KUBECTL_DIR / k).exists() or shutil.which(k)]


class Kubectl:
    def __init__(self, binary: str, server: ApiServer, tmp: Path, *,
                 kubeconfig: Path | None = None) -> None:
        """`kubeconfig`: another identity than `server`'s admin one (a node's, say)."""
        self.binary = str(KUBECTL_DIR / binary) if (KUBECTL_DIR / binary).exists() else binary
        self.env = {**os.environ, "KUBECONFIG": str(kubeconfig or server.kubeconfig),
                    "HOME": str(tmp), "KUBECTL_EXTERNAL_DIFF": "diff -u"}
        self.tmp = tmp

    @property
    def tag(self) -> str:
        """The binary's name as a DNS label (`kubectl-1-27`), for names of objects each
        kubectl version makes for itself on a shared server."""
        return Path(self.binary).name.replace(".", "-")

    def run(self, *args: str, check: bool = True, stdin: str | None = None,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run([self.binary, *args], capture_output=True, text=True,
                              input=stdin, timeout=60, env={**self.env, **(env or {})})
        return _checked(proc, check)

    async def arun(self, *args: str, check: bool = True, stdin: str | None = None,
                   within: float = 60) -> subprocess.CompletedProcess[str]:
        """`run` without blocking the event loop (for tests whose in-process
        controllers or kubelets must keep running while kubectl waits on them);
        kubectl is killed if it has not exited `within` seconds."""
        proc = await asyncio.create_subprocess_exec(
            self.binary, *args, env=self.env,
            stdin=None if stdin is None else subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            out, err = await asyncio.wait_for(
                proc.communicate(None if stdin is None else stdin.encode()), within)
        finally:
            if proc.returncode is None:  # timed out or cancelled: kill it, as subprocess.run
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                await proc.wait()
        done = subprocess.CompletedProcess([self.binary, *args], await proc.wait(),
                                           out.decode(), err.decode())
        return _checked(done, check)

    def __call__(self, *args: str, **kw: object) -> str:
        return self.run(*args, **kw).stdout  # type: ignore[arg-type]

    def json(self, *args: str) -> dict:
        return json.loads(self(*args, "-o", "json"))


def _checked(proc: subprocess.CompletedProcess[str],
             check: bool) -> subprocess.CompletedProcess[str]:
    if check and proc.returncode != 0:
        args = proc.args[1:]
        raise AssertionError(f"kubectl {' '.join(args)} failed ({proc.returncode}):\n"
                             f"{proc.stdout}\n{proc.stderr}")
    return proc


def port_forward_bodies(binary: str, env: dict[str, str], *args: str,
                        count: int = 3) -> list[str]:
    """`kubectl port-forward ARGS` (the remote port as `:PORT`, so kubectl picks a free
    local one), then `count` HTTP GETs of / through it, on separate connections."""
    path = str(KUBECTL_DIR / binary) if (KUBECTL_DIR / binary).exists() else binary
    proc = subprocess.Popen([path, "port-forward", *args], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stderr is not None
        line = proc.stdout.readline()
        match = re.search(r"127\.0\.0\.1:(\d+) ->", line)
        assert match, f"{line!r} {proc.stderr.read() if proc.poll() is not None else ''}"
        bodies = []
        for _ in range(count):
            with urllib.request.urlopen(f"http://127.0.0.1:{match[1]}/", timeout=20) as r:
                bodies.append(r.read().decode())
        assert proc.poll() is None, proc.stderr.read()
        return bodies
    finally:
        proc.terminate()
        proc.wait(timeout=10)
