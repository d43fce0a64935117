"""The process runtime's mount plan: which host directories a container's view shadows."""

from __future__ import annotations

from pathlib import Path

from kybernetes.kubelet.runtime.mount_ns import plan


def test_existing_paths_are_mounted_over_and_missing_ones_shadow_their_ancestor(
        tmp_path: Path) -> None:
    vol = tmp_path / "vol"
    vol.mkdir()
    (tmp_path / "host" / "srv" / "keep").mkdir(parents=True)
    (tmp_path / "host" / "srv" / "file").write_text("x")
    (tmp_path / "host" / "link").symlink_to(tmp_path / "host" / "srv")
    there, missing = tmp_path / "host" / "srv" / "keep", tmp_path / "host" / "link" / "new" / "x"
    p = plan([(str(vol), str(there), False), (str(vol), str(missing), True),
              (str(vol), f"{there}/inner", False)], tmp_path / "newroot")
    assert p.root is None
    assert [s.path for s in p.shadows] == [str(tmp_path / "host" / "srv")]  # link resolved
    shadow = p.shadows[0]
    assert (shadow.dirs, shadow.files, shadow.links) == (["keep"], ["file"], [])
    assert shadow.options.startswith(b"mode=")
    first, second, nested = p.mounts
    assert (first.dst, first.create) == (str(there).encode(), "")
    assert second.dst == str(tmp_path / "host" / "srv" / "new" / "x").encode()
    assert second.create == str(tmp_path / "host" / "srv" / "new" / "x") and second.read_only
    assert nested.create == f"{there}/inner"  # inside the first volume, made there


def test_a_missing_top_level_path_shadows_the_root(tmp_path: Path) -> None:
    p = plan([(str(tmp_path), "/kyb-mount-plan-test-missing", False)], tmp_path / "newroot")
    assert p.root is not None and p.root.path == "/" and not p.shadows
    assert "proc" in p.root.dirs
