"""The image GC policy (pure logic): Kubernetes' thresholds and least recently used
first; in-use and pinned images stay."""

from __future__ import annotations

from kybernetes.kubelet.image_gc import FsStats, ImageGC, ImageRecord


class Images:
    def __init__(self, images: list[ImageRecord], fs: FsStats) -> None:
        self.images, self.fs = images, fs
        self.in_use: set[str] = set()
        self.removed: list[str] = []

    async def list_images(self) -> list[ImageRecord]:
        return [i for i in self.images if i.id not in self.removed]

    async def images_in_use(self) -> set[str]:
        return self.in_use

    async def remove_image(self, image_id: str) -> None:
        self.removed.append(image_id)
        size = next(i.size for i in self.images if i.id == image_id)
        self.fs = FsStats(self.fs.capacity, self.fs.available + size)

    async def image_fs(self) -> FsStats:
        return self.fs


async def test_lru_until_the_low_threshold() -> None:
    now = [0.0]
    runtime = Images([ImageRecord("a", 10), ImageRecord("b", 10), ImageRecord("c", 10),
                      ImageRecord("pause", 10, pinned=True), ImageRecord("used", 10)],
                     FsStats(capacity=100, available=10))  # 90 % used
    gc = ImageGC(runtime, high=85, low=80, clock=lambda: now[0])
    for t, in_use in ((0.0, {"a", "b", "c"}), (1.0, {"c"}), (2.0, {"b"}), (3.0, set())):
        now[0] = t
        runtime.in_use = in_use | {"used"}
        if t < 3.0:
            await gc.detect()
    # to free: 100 × (100 − 80) / 100 − 10 = 10 bytes, the least recently used image
    assert await gc.collect_once() == ["a"]
    assert await gc.collect_once() == []  # 80 % < 85 %
    runtime.fs = FsStats(100, 0)
    assert await gc.collect_once() == ["c", "b"]  # never "used" (in use) nor "pause"
