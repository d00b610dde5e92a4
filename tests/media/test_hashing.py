"""blake3 content hashes: streamed, exact at block boundaries, thread-safe."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from blake3 import blake3

from imageserver.media.hashing import BLOCK, hash_file, is_content_hash


@pytest.mark.parametrize("size", [0, 1, BLOCK - 1, BLOCK, BLOCK + 1, 3 * BLOCK + 5])
def test_hash_matches_blake3_of_the_bytes(tmp_path: Path, size: int) -> None:
    data = bytes((i * 7 + size) % 251 for i in range(size))
    path = tmp_path / "f.bin"
    path.write_bytes(data)
    digest = hash_file(path)
    assert digest == blake3(data).hexdigest()
    assert is_content_hash(digest)


def test_threads_sharing_the_drain_get_their_own_buffers(tmp_path: Path) -> None:
    files = []
    for i in range(24):
        path = tmp_path / f"{i}.bin"
        path.write_bytes(bytes([i]) * (BLOCK // 3 + i * 4099))
        files.append(path)
    expected = [blake3(p.read_bytes()).hexdigest() for p in files]
    with ThreadPoolExecutor(4) as pool:
        assert list(pool.map(hash_file, files * 3)) == expected * 3


def test_unreadable_file_raises_oserror(tmp_path: Path) -> None:
    with pytest.raises(OSError):
        hash_file(tmp_path / "missing")
