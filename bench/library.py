"""Generate a large library of unique-byte, still-valid media files from the shared corpus.

Each copy differs from its source by a harmless marker that every decoder skips, so no two
files share a content hash (the server would otherwise dedup the work) and the decoders,
exiftool and libvips see exactly the pixels and tags of the source:

- JPEG: a COM segment right after SOI (FF D8, FF FE len payload);
- PNG: a tEXt chunk right before IEND (with its CRC);
- HEIC/HEIF: a top-level `free` box appended at the end (item offsets are absolute from the
  start of the file, so appending moves nothing).

Files go in nested folders, 100 per leaf folder: d00/d00/000000_name.jpg ...
"""

from __future__ import annotations

import os
import random
import struct
import zlib
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from imageserver.media.formats import SNIFF_BYTES, sniff

KINDS = ("jpeg", "png", "heic")
# JPEGs dominate a real photo library; PNG and HEIC sources are fewer and slower to decode,
# so each JPEG source appears this many times per cycle for one PNG or HEIC appearance.
JPEG_WEIGHT = 3
SOURCE_DIRS = ("photos", "faces")  # never broken/ (failure paths are not what we time)
PER_FOLDER = 100


@dataclass(frozen=True)
class Source:
    rel: str  # path inside the corpus
    kind: str  # jpeg | png | heic
    data: bytes


@dataclass
class Library:
    root: Path
    files: list[Path] = field(default_factory=list)
    kinds: list[str] = field(default_factory=list)
    origins: list[str] = field(default_factory=list)  # corpus path each copy was made from
    total_bytes: int = 0
    sources: int = 0

    @property
    def mix(self) -> dict[str, int]:
        return dict(Counter(self.kinds))

    def subset(self, count: int) -> list[Path]:
        """`count` files spread evenly over the library (the same mix as the whole)."""
        if count >= len(self.files):
            return list(self.files)
        step = len(self.files) / count
        return [self.files[int(i * step)] for i in range(count)]

    def describe(self) -> str:
        mix = ", ".join(f"{k} {v}" for k, v in sorted(self.mix.items()))
        mb = self.total_bytes / 1e6
        return (
            f"{len(self.files)} files, {mb:,.0f} MB (mean {mb * 1000 / max(1, len(self.files)):.0f}"
            f" KB), from {self.sources} corpus files; {mix}"
        )


def find_sources(corpus: Path, max_bytes: int | None = None) -> list[Source]:
    """Decodable JPEG/PNG/HEIC files of the corpus, recognised by content, not by name."""
    found: list[Source] = []
    for sub in SOURCE_DIRS:
        base = corpus / sub
        if not base.is_dir():
            continue
        for path in sorted(base.rglob("*")):
            if not path.is_file() or (max_bytes is not None and path.stat().st_size > max_bytes):
                continue
            data = path.read_bytes()
            fmt = sniff(data[:SNIFF_BYTES], path.suffix)
            if fmt is not None and fmt.name in KINDS and _can_mark(fmt.name, data):
                found.append(Source(str(path.relative_to(corpus)), fmt.name, data))
    if not found:
        raise SystemExit(f"no JPEG/PNG/HEIC files under {corpus}/{{{','.join(SOURCE_DIRS)}}}")
    return found


def _can_mark(kind: str, data: bytes) -> bool:
    if kind == "png":
        return data.rfind(b"IEND") >= 12
    return True


def unique_copy(source: Source, uid: bytes) -> bytes:
    """The source's bytes with `uid` embedded where every reader ignores it."""
    data = source.data
    if source.kind == "jpeg":
        payload = b"imageserver-bench " + uid
        return data[:2] + b"\xff\xfe" + struct.pack(">H", len(payload) + 2) + payload + data[2:]
    if source.kind == "png":
        at = data.rfind(b"IEND") - 4  # the chunk starts with its 4-byte length
        body = b"tEXt" + b"imageserver-bench\x00" + uid
        chunk = struct.pack(">I", len(body) - 4) + body + struct.pack(">I", zlib.crc32(body))
        return data[:at] + chunk + data[at:]
    payload = b"imageserver-bench " + uid
    return data + struct.pack(">I", len(payload) + 8) + b"free" + payload


def schedule(sources: list[Source], seed: int) -> list[Source]:
    """One cycle of sources: every JPEG JPEG_WEIGHT times, the others once, shuffled."""
    cycle = [s for s in sources for _ in range(JPEG_WEIGHT if s.kind == "jpeg" else 1)]
    random.Random(seed).shuffle(cycle)
    return cycle


def rel_path_for(index: int, source: Source) -> str:
    name = Path(source.rel).name
    top, mid = index // (PER_FOLDER * 100), (index // PER_FOLDER) % 100
    return f"d{top:02d}/d{mid:02d}/{index:06d}_{name}"


def build_library(
    root: Path, sources: list[Source], count: int, seed: int = 1, threads: int = 2
) -> Library:
    """Write `count` unique copies under `root` (which must not exist yet)."""
    root.mkdir(parents=True)
    cycle = schedule(sources, seed)
    token = os.urandom(4).hex().encode()
    library = Library(root=root, sources=len(sources))
    jobs: list[tuple[Path, Source, bytes]] = []
    for i in range(count):
        source = cycle[i % len(cycle)]
        path = root / rel_path_for(i, source)
        jobs.append((path, source, token + b"-%08d" % i))
        library.files.append(path)
        library.kinds.append(source.kind)
        library.origins.append(source.rel)
    for folder in sorted({p.parent for p, _, _ in jobs}):
        folder.mkdir(parents=True, exist_ok=True)

    def write(job: tuple[Path, Source, bytes]) -> int:
        path, source, uid = job
        data = unique_copy(source, uid)
        path.write_bytes(data)
        return len(data)

    with ThreadPoolExecutor(threads) as pool:
        library.total_bytes = sum(pool.map(write, jobs, chunksize=64))
    return library
