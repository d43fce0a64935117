"""The supervisor restarts a crashed component and stops the whole process group."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from kybernetes.cli import supervisor as supervisor_module
from kybernetes.cli.supervisor import Component, Supervisor


async def test_crashed_component_is_restarted_and_reported(tmp_path: Path,
                                                           monkeypatch) -> None:
    events: list[str] = []
    counter = tmp_path / "starts"
    script = f"open({str(counter)!r}, 'a').write('x'); raise SystemExit(3)"
    monkeypatch.setattr(supervisor_module, "MAX_RESTART_DELAY", 0.05)
    sup = Supervisor(on_change=events.append)
    component = Component("crasher", [sys.executable, "-c", script], tmp_path / "c.log")
    await sup.start(component)
    for _ in range(200):
        if counter.exists() and len(counter.read_text()) >= 2:
            break
        await asyncio.sleep(0.05)
    await sup.stop_all([["crasher"]])
    assert component.restarts >= 1
    assert len(counter.read_text()) >= 2
    assert any("exited with code 3" in e for e in events)
    assert any("restarted crasher" in e for e in events)


async def test_stop_kills_the_process_group(tmp_path: Path) -> None:
    pid_file = tmp_path / "grandchild"
    script = ("import subprocess, sys, time; "
              "p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']); "
              f"open({str(pid_file)!r}, 'w').write(str(p.pid)); time.sleep(60)")
    sup = Supervisor(on_change=lambda _: None)
    component = Component("parent", [sys.executable, "-c", script], tmp_path / "p.log",
                          stop_timeout=2)
    await sup.start(component)
    for _ in range(100):
        if pid_file.exists() and pid_file.read_text():
            break
        await asyncio.sleep(0.05)
    grandchild = int(pid_file.read_text())
    await sup.stop_all([["parent"]])
    await asyncio.sleep(0.1)
    assert component.state == "stopped"
    try:
        os.kill(grandchild, 0)
        # A zombie is gone for our purposes: check its state.
        alive = Path(f"/proc/{grandchild}/stat").read_text().split()[2] != "Z"
    except (ProcessLookupError, FileNotFoundError):
        alive = False
    assert not alive
