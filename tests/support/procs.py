"""Child processes that tests start and always reap, even when the test fails."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path


class Proc:
    """A `kyb` component (or any command) running as its own process group."""

    def __init__(self, argv: list[str], *, log_path: Path, env: dict[str, str] | None = None):
        self.argv = argv
        self.log_path = log_path
        self.env = env
        self.popen: subprocess.Popen[bytes] | None = None

    @classmethod
    def kyb(cls, *args: str, log_path: Path, env: dict[str, str] | None = None) -> Proc:
        return cls([sys.executable, "-m", "kybernetes.cli.main", *args], log_path=log_path,
                   env=env)

    def start(self) -> Proc:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "ab")
        try:
            self.popen = subprocess.Popen(
                self.argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True, env={**os.environ, **(self.env or {})},
            )
        finally:
            log.close()
        return self

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def signal(self, sig: int) -> None:
        if self.alive():
            assert self.popen is not None
            try:
                os.killpg(self.popen.pid, sig)
            except ProcessLookupError:
                pass

    def stop(self, timeout: float = 10.0) -> int | None:
        """SIGTERM, then SIGKILL after `timeout`; returns the exit code."""
        if self.popen is None:
            return None
        self.signal(signal.SIGTERM)
        try:
            self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self.signal(signal.SIGKILL)
            self.popen.wait(5)
        self.signal(signal.SIGKILL)  # stragglers left in the process group
        return self.popen.returncode

    def kill(self) -> None:
        """SIGKILL the whole process group at once (a crash)."""
        if self.popen is None:
            return
        self.signal(signal.SIGKILL)
        self.popen.wait(5)

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""
