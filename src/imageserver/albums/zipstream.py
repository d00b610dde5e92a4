"""A zip of files written as it is sent: never built in memory or on disk first.

`zipfile` writes to an unseekable sink with data descriptors (sizes after each member),
so each chunk it writes can be handed to the client at once. Members are STORED: photos
and videos do not compress, and storing keeps the CPU cost to a copy.
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterable, Iterator
from pathlib import Path

CHUNK = 1 << 20


class _Sink:
    """A write-only file object whose written bytes are taken out by the generator."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []

    def write(self, data: bytes) -> int:
        self.parts.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        return None

    def close(self) -> None:
        return None

    def take(self) -> bytes:
        out = b"".join(self.parts)
        self.parts.clear()
        return out


def unique_name(name: str, taken: set[str]) -> str:
    stem, dot, ext = name.rpartition(".")
    if not dot:
        stem, ext = name, ""
    candidate, n = name, 1
    while candidate in taken:
        n += 1
        candidate = f"{stem} ({n}){dot}{ext}"
    taken.add(candidate)
    return candidate


def stream_zip(files: Iterable[tuple[str, Path]]) -> Iterator[bytes]:
    sink = _Sink()
    taken: set[str] = set()
    with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_STORED) as archive:
        for name, path in files:
            info = zipfile.ZipInfo(unique_name(name, taken))
            with path.open("rb") as src, archive.open(info, "w", force_zip64=True) as dst:
                while chunk := src.read(CHUNK):
                    dst.write(chunk)
                    yield sink.take()
            yield sink.take()
    yield sink.take()
