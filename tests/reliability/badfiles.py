"""Hostile media made on the spot: seeded truncations and bit flips of real files, empty
files, and headers that declare enormous images (decompression bombs)."""

from __future__ import annotations

import io
import random
import struct
import zlib
from pathlib import Path


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(kind + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


def png(width: int, height: int, rows: int | None = None) -> bytes:
    """An 8-bit grey PNG of zeros; `rows` < height leaves the pixel data truncated."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    packer = zlib.compressobj(9)
    line = b"\x00" * (width + 1)
    body = b"".join(packer.compress(line) for _ in range(height if rows is None else rows))
    body += packer.flush()
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", ihdr)
        + _png_chunk(b"IDAT", body)
        + _png_chunk(b"IEND", b"")
    )


def jpeg_header(width: int, height: int, progressive: bool = False) -> bytes:
    """SOI, a quantisation and a Huffman table, an SOF declaring the size, a few scan bytes."""
    dqt = b"\xff\xdb" + struct.pack(">H", 67) + b"\x00" + bytes(range(1, 65))
    sof = b"\xff\xc2" if progressive else b"\xff\xc0"
    frame = sof + struct.pack(">HBHHB", 11, 8, height, width, 1) + b"\x01\x11\x00"
    counts = bytes([0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0])
    dht = b"\xff\xc4" + struct.pack(">H", 31) + b"\x00" + counts + bytes(range(12))
    sos = b"\xff\xda" + struct.pack(">HB", 8, 1) + b"\x01\x00\x00\x3f\x00"
    return b"\xff\xd8" + dqt + frame + dht + sos + b"\x12\x34" * 32 + b"\xff\xd9"


def gif_screen(width: int, height: int) -> bytes:
    """A GIF whose logical screen is huge, with one 1x1 frame."""
    head = (
        b"GIF89a" + struct.pack("<HHBBB", width, height, 0x80, 0, 0) + b"\x00\x00\x00\xff\xff\xff"
    )
    frame = b"\x2c" + struct.pack("<HHHHB", 0, 0, 1, 1, 0) + b"\x02\x02\x44\x01\x00"
    return head + frame + b"\x3b"


def webp_canvas(width: int, height: int) -> bytes:
    """An animated WebP of two 16x16 frames on a canvas declared width x height."""
    from PIL import Image

    buf = io.BytesIO()
    frames = [Image.new("RGB", (16, 16), (i * 80, 0, 0)) for i in range(2)]
    frames[0].save(buf, "WEBP", save_all=True, append_images=frames[1:], lossless=True)
    data = bytearray(buf.getvalue())
    at = data.index(b"VP8X")
    data[at + 12 : at + 15] = (width - 1).to_bytes(3, "little")
    data[at + 15 : at + 18] = (height - 1).to_bytes(3, "little")
    return bytes(data)


def tiff_header(width: int, height: int) -> bytes:
    """A little-endian TIFF declaring width x height, 8-bit grey, one tiny strip."""
    entries = [
        (256, 4, 1, width),  # ImageWidth (LONG)
        (257, 4, 1, height),  # ImageLength
        (258, 3, 1, 8),  # BitsPerSample
        (259, 3, 1, 1),  # Compression: none
        (262, 3, 1, 1),  # Photometric: black is zero
        (273, 4, 1, 8 + 2 + 12 * 9 + 4),  # StripOffsets: right after the IFD
        (277, 3, 1, 1),  # SamplesPerPixel
        (278, 4, 1, height),  # RowsPerStrip
        (279, 4, 1, 16),  # StripByteCounts
    ]
    ifd = struct.pack("<H", len(entries))
    for tag, kind, count, value in entries:
        ifd += struct.pack("<HHII", tag, kind, count, value)
    ifd += struct.pack("<I", 0)
    return b"II*\x00" + struct.pack("<I", 8) + ifd + b"\x00" * 16


# Declared sizes over MAX_PIXELS that a decoder would have to decode in full: refused.
REFUSED = {
    "png-100000x100000.png",
    "png-30000x30000.png",
    "jpeg-progressive-65500x65500.jpg",
    "webp-16383x16383.webp",
    "tiff-100000x100000.tif",
}
# Bounded by construction: a baseline JPEG is decoded at 1/8 scale in strips, libvips
# takes a GIF's size from its frames, not its logical screen.
TOLERATED = {"jpeg-65500x65500.jpg", "gif-65535x65535.gif"}

BOMBS: dict[str, bytes] = {
    "png-100000x100000.png": png(100_000, 100_000, rows=4),
    "png-30000x30000.png": png(30_000, 30_000, rows=2),
    "jpeg-65500x65500.jpg": jpeg_header(65_500, 65_500),
    "jpeg-progressive-65500x65500.jpg": jpeg_header(65_500, 65_500, progressive=True),
    "gif-65535x65535.gif": gif_screen(65_535, 65_535),
    "webp-16383x16383.webp": webp_canvas(16_383, 16_383),
    "tiff-100000x100000.tif": tiff_header(100_000, 100_000),
}


def write_bombs(folder: Path) -> list[str]:
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in BOMBS.items():
        (folder / name).write_bytes(data)
    return sorted(BOMBS)


def fuzzed_variants(src: Path, folder: Path, seed: int, count: int = 3) -> list[str]:
    """`count` truncations at random offsets and `count` copies with bytes flipped."""
    data = src.read_bytes()
    rng = random.Random(f"{seed}:{src.name}")
    folder.mkdir(parents=True, exist_ok=True)
    made = []
    stem, suffix = src.stem.replace(" ", "_"), src.suffix.lower()
    for i in range(count):
        cut = rng.randrange(1, len(data))
        name = f"{stem}-cut{i}-{cut}{suffix}"
        (folder / name).write_bytes(data[:cut])
        made.append(name)
    for i in range(count):
        flipped = bytearray(data)
        # flips in the headers hurt most: half of them in the first 4 KB
        for _ in range(8):
            limit = min(len(data), 4096) if rng.random() < 0.5 else len(data)
            pos = rng.randrange(limit)
            flipped[pos] ^= 1 << rng.randrange(8)
        name = f"{stem}-flip{i}{suffix}"
        (folder / name).write_bytes(bytes(flipped))
        made.append(name)
    return made
