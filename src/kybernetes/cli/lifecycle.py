"""What every long-running `kyb` component does at its start and its end: load its
API client from `--kubeconfig` (a bad file is the user's mistake: one clear line),
and turn SIGTERM/SIGINT into an event its main loop waits on."""

from __future__ import annotations

import asyncio
import signal
from typing import Any

from kybernetes.cli.errors import CliError
from kybernetes.client import ApiClient


def api_client(kubeconfig: str, **options: Any) -> ApiClient:
    """The client for `kubeconfig`, or a CliError that says what is wrong with it."""
    try:
        return ApiClient.from_kubeconfig(kubeconfig, **options)
    except (OSError, ValueError) as e:
        raise CliError(f"cannot load --kubeconfig {kubeconfig}: {e}") from None


def stop_on_signals() -> asyncio.Event:
    """An event set by SIGTERM or SIGINT (call from inside the running loop)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    return stop
