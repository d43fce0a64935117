"""Joining two WebSockets: what the API server does between kubectl and a kubelet,
and the dashboard between a browser and the API server."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import WSMsgType

from kybernetes.tasks import cancel_and_wait, spawn


async def pump_both(a: Any, b: Any, *, name: str = "ws") -> None:
    """Copy text and binary messages both ways until either side ends; then close both."""
    async def copy(source: Any, sink: Any) -> None:
        async for msg in source:
            if msg.type == WSMsgType.BINARY:
                await sink.send_bytes(msg.data)
            elif msg.type == WSMsgType.TEXT:
                await sink.send_str(msg.data)
            else:
                break
        await sink.close()

    tasks = [spawn(copy(a, b), name=f"{name}-up"), spawn(copy(b, a), name=f"{name}-down")]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        await cancel_and_wait(*tasks)
        await b.close()
        await a.close()
