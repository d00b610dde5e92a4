"""The find-based walk and the Python walk see exactly the same files."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from imageserver.scan import findwalk, walker
from imageserver.scan.walker import Excludes

pytestmark = pytest.mark.skipif(not findwalk.available(), reason="GNU find not installed")


def touch(path: Path, data: bytes = b"\xff\xd8\xff\xe0data") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def hostile_tree(tmp_path: Path) -> Path:
    root = tmp_path / "root"
    touch(root / "a.jpg")
    touch(root / "noext")
    touch(root / "sub dir" / "ümlaut é.JPG")
    touch(root / "new\nline.jpg")
    touch(root / "star*[x]?.jpg")
    touch(root / "-dash.jpg")
    touch(root / "@eaDir" / "x.jpg")
    touch(root / "deep" / "@eaDir" / "y.jpg")
    touch(root / "deep" / "@eaDir.jpg")  # a file with an excluded folder's name stays
    touch(root / "2019" / "raw" / "z.jpg")
    touch(root / "2019" / "rawfiles" / "k.jpg")
    touch(root / "we[i]rd" / "w.jpg")
    touch(root / ".hidden" / "h.jpg")
    touch(root / "x" / ".dot.jpg")
    touch(root / "sidecar.xmp")
    touch(root / "data" / "thumb.jpg")  # our own data folder inside the library
    outside = touch(tmp_path / "outside" / "secret.jpg")
    (root / "link-out.jpg").symlink_to(outside)
    (root / "link-in.jpg").symlink_to(root / "a.jpg")
    (root / "dir-link").symlink_to(root / "sub dir", target_is_directory=True)
    (root / "dangling.jpg").symlink_to(tmp_path / "nowhere.jpg")
    os.mkfifo(root / "pipe.jpg")
    with open(os.path.join(os.fsencode(root), b"bad-\xff.jpg"), "wb") as fh:
        fh.write(b"\xff\xd8\xff")
    os.utime(root / "a.jpg", ns=(1, 1_700_000_000_123_456_789))
    return root


def test_same_files_sizes_and_nanosecond_mtimes(tmp_path: Path) -> None:
    root = hostile_tree(tmp_path)
    excludes = Excludes.parse(["@eaDir", "2019/raw", "we[i]rd"])
    skip = [root / "data"]
    python = walker.walk(root, excludes, skip)
    native = findwalk.walk(root, excludes, skip)
    assert native.files == python.files
    assert set(python.files) == {
        "a.jpg",
        "noext",
        "sub dir/ümlaut é.JPG",
        "new\nline.jpg",
        "star*[x]?.jpg",
        "-dash.jpg",
        "deep/@eaDir.jpg",
        "2019/rawfiles/k.jpg",
        "link-in.jpg",
    }
    assert native.files["a.jpg"].mtime_ns == 1_700_000_000_123_456_789
    assert native.unreadable_dirs == python.unreadable_dirs == []


def test_a_missing_root_is_reported_unreadable(tmp_path: Path) -> None:
    result = findwalk.walk(tmp_path / "gone", Excludes.parse([]))
    assert result.files == {} and result.unreadable_dirs == [""]
