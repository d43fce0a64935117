"""What every cluster benchmark shares: its command line and stopping what it started.

SIGTERM becomes KeyboardInterrupt, so a benchmark's `finally` stops every child
process it started even when it is killed.
"""

from __future__ import annotations

import argparse
import signal
from collections.abc import Sequence
from typing import Any, Protocol


class Stoppable(Protocol):
    def stop(self) -> Any: ...


def _interrupt(*_: Any) -> None:
    raise KeyboardInterrupt


def parser(doc: str | None) -> argparse.ArgumentParser:
    """The benchmark's parser (its docstring's first line, `--keep-dir`); SIGTERM handled."""
    signal.signal(signal.SIGTERM, _interrupt)
    out = argparse.ArgumentParser(description=(doc or "").splitlines()[0])
    out.add_argument("--keep-dir", help="keep data and logs here (for debugging)")
    return out


def stop_all(procs: Sequence[Stoppable], server: Stoppable) -> None:
    """Stop the started processes, newest first, then the API server."""
    for proc in reversed(procs):
        proc.stop()
    server.stop()
