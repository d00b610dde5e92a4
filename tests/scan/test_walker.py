"""The walker: excludes, hidden files, symlinks in and out of the root, odd names."""

from __future__ import annotations

import os
from pathlib import Path

from imageserver.scan.walker import Excludes, walk


def touch(path: Path, data: bytes = b"\xff\xd8\xff\xe0data") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def test_excludes_hidden_and_ignored_extensions(tmp_path: Path) -> None:
    root = tmp_path / "root"
    touch(root / "a.jpg")
    touch(root / "noext")
    touch(root / "@eaDir" / "x.jpg")
    touch(root / "deep" / "@eaDir" / "y.jpg")
    touch(root / "2019" / "raw" / "z.jpg")
    touch(root / "2020" / "raw" / "kept.jpg")
    touch(root / ".hidden" / "h.jpg")
    touch(root / ".dot.jpg")
    touch(root / "sidecar.xmp")
    touch(root / "Notes.TXT")
    result = walk(root, Excludes.parse(["@eaDir", "2019/raw"]))
    assert set(result.files) == {"a.jpg", "noext", "2020/raw/kept.jpg"}
    st = (root / "a.jpg").stat()
    assert result.files["a.jpg"].size == st.st_size
    assert result.files["a.jpg"].mtime_ns == st.st_mtime_ns


def test_symlinks_never_leave_the_root(tmp_path: Path) -> None:
    root = tmp_path / "root"
    outside = tmp_path / "outside"
    touch(outside / "secret.jpg")
    touch(root / "real.jpg")
    (root / "link-out.jpg").symlink_to(outside / "secret.jpg")
    (root / "dir-out").symlink_to(outside, target_is_directory=True)
    (root / "link-in.jpg").symlink_to(root / "real.jpg")
    (root / "loop").symlink_to(root, target_is_directory=True)
    (root / "dangling.jpg").symlink_to(tmp_path / "nowhere.jpg")
    result = walk(root, Excludes.parse([]))
    assert set(result.files) == {"real.jpg", "link-in.jpg"}


def test_skip_dirs_and_unreadable_folders_are_recorded(tmp_path: Path) -> None:
    root = tmp_path / "root"
    touch(root / "a.jpg")
    touch(root / "data" / "thumb.jpg")
    touch(root / "sub" / "b.jpg")
    import imageserver.scan.walker as walker_module

    real = os.scandir

    def failing(path: str) -> object:
        if path.endswith("/sub"):
            raise PermissionError(13, "Permission denied")
        return real(path)

    walker_module.os.scandir = failing  # type: ignore[assignment]
    try:
        result = walk(root, Excludes.parse([]), skip_dirs=[root / "data"])
    finally:
        walker_module.os.scandir = real
    assert set(result.files) == {"a.jpg"}
    assert result.unreadable_dirs == ["sub"]


def test_non_utf8_names_are_skipped_not_fatal(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    touch(root / "ok.jpg")
    with open(os.path.join(os.fsencode(root), b"bad-\xff.jpg"), "wb") as fh:
        fh.write(b"\xff\xd8\xff")
    result = walk(root, Excludes.parse([]))
    assert set(result.files) == {"ok.jpg"}


def test_excludes_cover_paths() -> None:
    ex = Excludes.parse(["@eaDir", "2019/raw"])
    assert ex.covers("x/@eaDir/a.jpg")
    assert ex.covers("2019/raw/b/c.jpg")
    assert not ex.covers("2019/rawfiles/c.jpg")
    assert not ex.covers("@eaDir.jpg")


def test_every_file_passed_over_gets_a_reason(tmp_path: Path) -> None:
    from imageserver.scan import findwalk

    root = tmp_path / "root"
    touch(root / "a.jpg")
    touch(root / ".dot.jpg")
    touch(root / "sidecar.xmp")
    touch(root / "sub" / "notes.txt")
    touch(tmp_path / "outside.jpg")
    (root / "link-out.jpg").symlink_to(tmp_path / "outside.jpg")
    os.mkfifo(root / "pipe.jpg")
    result = walk(root, Excludes.parse([]))
    assert set(result.files) == {"a.jpg"}
    assert set(result.sidecars) == {"sidecar.xmp"}  # metadata, recorded, not passed over
    got = {r: (e.count, sorted(e.examples)) for r, e in result.skipped.reasons.items()}
    assert got == {
        "hidden": (1, [".dot.jpg"]),
        "ignored_type": (1, ["sub/notes.txt"]),
        "symlink_outside": (1, ["link-out.jpg"]),
        "not_regular": (1, ["pipe.jpg"]),
    }
    # find's walk (which prints no hidden or special files) gives the same reasons for the rest.
    found = findwalk.walk(root, Excludes.parse([]))
    assert set(found.files) == {"a.jpg"}
    assert set(found.sidecars) == {"sidecar.xmp"}
    assert found.skipped.reasons["ignored_type"].count == 1
    assert found.skipped.reasons["symlink_outside"].examples == ["link-out.jpg"]


def test_a_tally_keeps_a_few_examples_and_round_trips(tmp_path: Path) -> None:
    from imageserver.media.skipped import EXAMPLES, MAX_PATH_BYTES, Skipped
    from imageserver.scan.walker import name_problem

    tally = Skipped()
    for i in range(EXAMPLES + 3):
        tally.add("unknown_type", f"f{i}.bin")
    tally.add("unreadable", "locked.jpg")
    assert tally.total() == EXAMPLES + 4
    again = Skipped.from_json(tally.to_json())
    assert again.reasons["unknown_type"].count == EXAMPLES + 3
    assert len(again.reasons["unknown_type"].examples) == EXAMPLES
    assert list(tally.to_json()) == ["unknown_type", "unreadable"]
    assert Skipped.from_json(None).total() == 0
    assert Skipped.from_json({"bogus": 1, "unreadable": {"count": "x"}}).total() == 0
    assert name_problem("a/b.jpg") is None
    assert name_problem("x" * (MAX_PATH_BYTES + 1)) == "name_too_long"
    assert name_problem("bad\udcff.jpg") == "name_not_utf8"
