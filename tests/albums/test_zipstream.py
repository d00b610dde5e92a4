"""The share link's zip is written as it is sent (albums/zipstream.py): bytes leave before
the next file is even opened, no piece is much larger than one read, and the result is a
valid zip (a browser's download, `unzip`)."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from pathlib import Path

from imageserver.albums.zipstream import CHUNK, stream_zip


def test_the_zip_streams_file_by_file_in_bounded_pieces(tmp_path: Path) -> None:
    big, small = tmp_path / "big.mp4", tmp_path / "small.jpg"
    big.write_bytes(bytes(range(256)) * (3 * CHUNK // 256 + 7))  # three reads and a bit
    small.write_bytes(b"jpeg")
    opened: list[str] = []

    def files() -> Iterator[tuple[str, Path]]:
        for path in (big, small, small):
            opened.append(path.name)
            yield path.name, path

    pieces = stream_zip(files())
    first = next(pieces)
    sent = [first]
    while len(opened) < 2:
        sent.append(next(pieces))
    # By the time the second file is asked for, the whole first one is out already.
    assert sum(map(len, sent)) > big.stat().st_size
    sent += list(pieces)
    assert max(map(len, sent)) <= CHUNK + 4096  # one read plus zip headers, never the file
    assert len(sent) > 4
    with zipfile.ZipFile(io.BytesIO(b"".join(sent))) as archive:
        assert archive.testzip() is None
        assert archive.namelist() == ["big.mp4", "small.jpg", "small (2).jpg"]
        assert archive.read("big.mp4") == big.read_bytes()
