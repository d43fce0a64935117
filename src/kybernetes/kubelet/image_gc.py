"""Image garbage collection with Kubernetes' thresholds (the kubelet's image manager).

Every period (5 min, as kube's ImageGCPeriod) the image filesystem's use is compared
with `--image-gc-high-threshold` (default 85 %); above it, images no container
uses are removed, least recently used first, until the use is back at
`--image-gc-low-threshold` (default 80 %): kube frees
``capacity × (100 − low) / 100 − available`` bytes. Pinned images (the pod sandbox
image) are never removed. When an image was last used is what this kubelet saw
since it started, as in kube (which keeps it in memory too).
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

log = logging.getLogger("kybernetes.kubelet.image_gc")
PERIOD = 300.0


@dataclass(frozen=True)
class ImageRecord:
    """One image as the runtime lists it."""

    id: str
    size: int
    tags: tuple[str, ...] = ()
    pinned: bool = False


@dataclass(frozen=True)
class FsStats:
    capacity: int
    available: int


@runtime_checkable
class ImageGcRuntime(Protocol):
    """A runtime whose images the kubelet garbage-collects."""

    async def list_images(self) -> list[ImageRecord]: ...

    async def images_in_use(self) -> set[str]:
        """IDs of the images of every container (running or not)."""

    async def remove_image(self, image_id: str) -> None: ...

    async def image_fs(self) -> FsStats:
        """Capacity and free bytes of the filesystem the images are on."""


def fs_stats(path: str) -> FsStats:
    st = os.statvfs(path)
    return FsStats(capacity=st.f_blocks * st.f_frsize, available=st.f_bavail * st.f_frsize)


class ImageGC:
    """The policy and its loop; see the module docstring."""

    def __init__(self, runtime: ImageGcRuntime, *, high: int = 85, low: int = 80,
                 clock: Callable[[], float] = time.time) -> None:
        self.runtime = runtime
        self.high, self.low = high, low
        self.clock = clock
        self.last_used: dict[str, float] = {}

    async def detect(self) -> list[ImageRecord]:
        """List the images; those in use are used now."""
        now = self.clock()
        images = await self.runtime.list_images()
        in_use = await self.runtime.images_in_use()
        for image in images:
            if image.id in in_use or image.id not in self.last_used:
                self.last_used[image.id] = now
        known = {i.id for i in images}
        for gone in set(self.last_used) - known:
            del self.last_used[gone]
        return [i for i in images if i.id not in in_use and not i.pinned]

    async def collect_once(self) -> list[str]:
        """Free space if the filesystem is above the high threshold; the removed IDs."""
        unused = await self.detect()
        fs = await self.runtime.image_fs()
        if fs.capacity <= 0:
            return []
        usage = 100 - fs.available * 100 // fs.capacity
        if usage < self.high:
            return []
        to_free = fs.capacity * (100 - self.low) // 100 - fs.available
        freed, removed = 0, []
        for image in sorted(unused, key=lambda i: self.last_used.get(i.id, 0.0)):
            if freed >= to_free:
                break
            try:
                await self.runtime.remove_image(image.id)
            except Exception as e:  # one stuck image does not stop the others
                log.warning("image removal failed", extra={"image": image.id, "error": str(e)})
                continue
            self.last_used.pop(image.id, None)
            freed += image.size
            removed.append(image.id)
        log.info("image garbage collection", extra={"usage_percent": usage, "high": self.high,
                                                     "to_free": to_free, "freed": freed,
                                                     "removed": len(removed)})
        return removed

    async def run(self, period: float = PERIOD) -> None:
        while True:
            try:
                await self.collect_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("image garbage collection failed", exc_info=True)
            await asyncio.sleep(period)
