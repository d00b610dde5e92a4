"""Decode a photo into a small, upright, 8-bit sRGB libvips image: the one libvips adapter.

libvips, not Pillow, because it measured faster on the corpus (bench/thumbs_micro.py) and
its `thumbnail` shrinks on load (JPEG DCT scaling, WebP/TIFF pyramids) with sequential
access, so a 280-megapixel baseline JPEG costs ~20 MB. HEIC goes through pillow-heif
(bundled libheif 1.23, ~1.5x faster than Debian's 1.15 behind libvips); AVIF stays on libvips
because pillow-heif's wheel has no AV1 decoder.

Process-wide libvips settings made here, on purpose:
- untrusted loaders (ImageMagick, PPM, Matlab, FITS, ...) are blocked: fuzzed files must
  not reach ImageMagick (a broken HEIC is otherwise parsed as a TGA);
- the operation cache is off: a file edited in place must never come back from a cache.

pillow-heif must be imported before pyvips (libvips loads Debian's libheif globally and
pillow-heif would then bind to it and crash); `pillow_heif_module()` handles either order.

HEIF/AVIF orientation: libheif applies the container's transforms (`irot`, `imir`) and
both libheif and libvips then ignore EXIF Orientation (HEIF says the transforms are the
truth; Apple writes both, in agreement). A file with no transform but an EXIF Orientation
(some converters, libvips' own AVIF writer) would show sideways, so there the EXIF tag is
applied after decoding (`heif_exif_turn`): container transforms win when present, EXIF
when they are absent. The metadata size follows the same rule (metadata/exif.py).
"""

from __future__ import annotations

import contextlib
import io
import os
import struct
import sys
from pathlib import Path
from types import ModuleType
from typing import Any, BinaryIO

import numpy as np
from PIL import Image


def _import_pillow_heif() -> ModuleType:
    """pillow-heif bound to its own libheif, even when libvips already loaded Debian's."""
    if "pillow_heif" in sys.modules:
        return sys.modules["pillow_heif"]
    flags = sys.getdlopenflags()
    if "pyvips" in sys.modules:
        sys.setdlopenflags(flags | os.RTLD_DEEPBIND)
    try:
        import pillow_heif
    finally:
        sys.setdlopenflags(flags)
    return pillow_heif


_pillow_heif = _import_pillow_heif()

import pyvips  # noqa: E402  (after pillow-heif, see above)

from imageserver.media.formats import SNIFF_BYTES, Format, sniff  # noqa: E402

pyvips.block_untrusted_set(True)
pyvips.cache_set_max(0)

# Fail on truncated or corrupt data instead of returning a half-grey image (fuzzed files
# decode to garbage otherwise); libjpeg warnings such as "extraneous bytes" still pass.
# Passed as the loader's option string: libvips 8.14 thumbnail_* drop a `fail_on` kwarg.
STRICT = "fail_on=error"

# Decoded pixels above which we refuse: ~600 MB of RGB for a full decode. Baseline JPEG is
# exempt because libvips decodes it at 1/8 scale in strips (memory bounded by the strip).
MAX_PIXELS = 200_000_000


class DecodeError(Exception):
    """The file cannot become a thumbnail; `permanent` False when retrying may help."""

    def __init__(self, reason: str, *, permanent: bool = True) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent


def pillow_heif_module() -> ModuleType:
    """pillow-heif, safely loaded; use this instead of importing it after pyvips."""
    return _pillow_heif


def load_photo(src: Path, fmt: Format, box: int) -> pyvips.Image:
    """Upright 8-bit sRGB, alpha flattened on white, longest side <= box (never upscaled).

    Files are opened by Python and handed to libvips as descriptors: libvips would parse a
    name ending in "]" as load options, and cannot take non-UTF-8 names.
    """
    _clear_vips_errors()
    if fmt.name == "heic":
        try:
            with src.open("rb") as fh:
                return _load_heif(fh, box)
        except _NoCodec:
            pass  # e.g. an AV1 payload in a HEIC-branded file: libvips may still read it
    try:
        with src.open("rb") as fh:
            _check_header(pyvips.Source.new_from_descriptor(fh.fileno()), fmt)
        with src.open("rb") as fh:
            source = pyvips.Source.new_from_descriptor(fh.fileno())
            image = pyvips.Image.thumbnail_source(
                source, box, height=box, size="down", option_string=STRICT
            )
            image = finish(image)
        if fmt.name in _HEIF_NAMES:
            with src.open("rb") as fh:
                image = turn(image, heif_exif_turn(fh))
        return image
    except pyvips.Error as exc:
        raise DecodeError(f"undecodable {fmt.name}: {vips_detail(exc, src)}") from exc


def load_photo_bytes(data: bytes, box: int) -> pyvips.Image:
    """An uploaded photo, like `load_photo`: recognised by content, decoded with the memory
    of a thumbnail whatever size it declares (libvips shrink-on-load, sequential, the same
    MAX_PIXELS check and untrusted loaders blocked; HEIC through pillow-heif).

    Pillow would decode a 420 KB PNG declaring 12000x12000 to 1.7 GB before resizing it.
    """
    fmt = sniff(data[:SNIFF_BYTES])
    if fmt is None or fmt.kind != "photo" or fmt.is_raw:
        raise DecodeError("cannot decode: not a photo format (JPEG, PNG, WebP, HEIC, ...)")
    _clear_vips_errors()
    if fmt.name == "heic":
        try:
            return _load_heif(io.BytesIO(data), box)
        except _NoCodec:
            pass
    try:
        _check_header(pyvips.Source.new_from_memory(data), fmt)
        image = pyvips.Image.thumbnail_buffer(
            data, box, height=box, size="down", option_string=STRICT
        )
        image = finish(image)
        if fmt.name in _HEIF_NAMES:
            image = turn(image, heif_exif_turn(io.BytesIO(data)))
        return image
    except pyvips.Error as exc:
        raise DecodeError(f"cannot decode this {fmt.name}: {vips_detail(exc)}") from exc


def from_rgb(data: bytes, width: int, height: int, box: int) -> pyvips.Image:
    """A packed 8-bit RGB frame (video, RAW demosaic) scaled to fit `box`."""
    image = pyvips.Image.new_from_memory(data, width, height, 3, "uchar")
    return fit(image.copy(interpretation="srgb"), box)


def from_array(pixels: np.ndarray[Any, Any], box: int) -> pyvips.Image:
    """An (h, w, bands) uint8 array scaled to fit `box`."""
    image = pyvips.Image.new_from_array(np.ascontiguousarray(pixels))
    return fit(image.copy(interpretation="srgb" if image.bands >= 3 else "b-w"), box)


def fit(image: pyvips.Image, box: int) -> pyvips.Image:
    """Shrink an in-memory image so its longest side is at most `box`; normalise colour."""
    if max(image.width, image.height) > box:
        image = image.thumbnail_image(box, height=box, size="down", no_rotate=True)
    return finish(image)


def finish(image: pyvips.Image) -> pyvips.Image:
    """3-band 8-bit sRGB without alpha, in memory (decoded once, encoded twice)."""
    if image.get_typeof("icc-profile-data"):
        profile = image.get("icc-profile-data")
        if not is_srgb_profile(profile):
            # a broken profile: show the numbers as they are rather than nothing
            with contextlib.suppress(pyvips.Error):
                image = image.icc_transform("srgb", embedded=True, intent="perceptual")
    if image.format != "uchar":
        image = image.colourspace("srgb")
    if image.hasalpha():
        image = image.flatten(background=[255] * (image.bands - 1))
    if image.interpretation != "srgb" or image.bands != 3:
        image = image.colourspace("srgb")
    if image.bands > 3:
        image = image.extract_band(0, n=3)
    image = image.copy_memory()
    _clear_vips_errors()
    return image


def is_srgb_profile(profile: bytes) -> bool:
    """Whether an ICC profile describes sRGB (no transform needed), from its 'desc' tag."""
    return "srgb" in icc_description(profile).lower().replace(" ", "")


def icc_description(profile: bytes) -> str:
    """The ICC 'desc' tag (v2 textDescription or v4 multiLocalizedUnicode), '' if absent."""
    try:
        (count,) = struct.unpack_from(">I", profile, 128)
        for i in range(min(count, 100)):
            sig, offset, size = struct.unpack_from(">4sII", profile, 132 + 12 * i)
            if sig != b"desc":
                continue
            tag = profile[offset : offset + size]
            if tag[:4] == b"desc":
                (length,) = struct.unpack_from(">I", tag, 8)
                return tag[12 : 12 + length].split(b"\0")[0].decode("latin-1")
            if tag[:4] == b"mluc":
                rec_size, str_len, str_off = struct.unpack_from(">I4xII", tag, 12)
                del rec_size
                return tag[str_off : str_off + str_len].decode("utf-16-be", "replace")
    except struct.error:
        return ""
    return ""


def check_pixels(width: int, height: int, what: str) -> None:
    if width * height > MAX_PIXELS:
        raise DecodeError(
            f"{what} declares {width}x{height} = {width * height / 1e6:.0f} MP, "
            f"over the {MAX_PIXELS / 1e6:.0f} MP decode limit"
        )


def vips_detail(exc: pyvips.Error, src: Path | None = None) -> str:
    """The failing call's message: the last lines of libvips' shared error buffer.

    The buffer is process-wide, so older lines may belong to other files; the newest ones
    are this call's. The file's full path is shortened to its name.
    """
    lines = [ln.strip() for ln in str(exc.detail or "").splitlines() if ln.strip()]
    text = lines[-1] if lines else str(exc.message).strip() or "libvips gave no detail"
    if src is not None:
        text = text.replace(f'"{src}"', src.name).replace(str(src), src.name)
    return text[:300]


def _clear_vips_errors() -> None:
    """Drop warnings earlier successful calls left in the shared buffer (see vips_detail)."""
    pyvips.vips_lib.vips_error_clear()


def _check_header(source: pyvips.Source, fmt: Format) -> None:
    """Refuse declared sizes we would have to decode in full over MAX_PIXELS."""
    header = pyvips.Image.new_from_source(source, "", access="sequential", fail_on="error")
    baseline_jpeg = header.get_typeof("jpeg-multiscan") and not header.get("jpeg-multiscan")
    if not baseline_jpeg:
        check_pixels(header.width, header.height, fmt.name)


class _NoCodec(Exception):
    pass


_HEIF_NAMES = frozenset({"heic", "avif"})
_CONTAINER_TRANSFORMS = frozenset({"irot", "imir"})


def _exif_turn_of(heif: Any) -> int:
    """The EXIF Orientation still to apply to libheif's output: 1 when the primary image
    has a container transform (already applied) or the EXIF states no turn."""
    try:
        transforms = heif[heif.primary_index]._c_image.transformations
        if any(t[0] in _CONTAINER_TRANSFORMS for t in transforms):
            return 1
        exif = heif.info.get("exif")
        if not exif:
            return 1
        parsed = Image.Exif()
        parsed.load(bytes(exif))
        value = parsed.get(0x0112)
    except Exception:  # pillow-heif internals or a broken EXIF: libheif's answer stands
        return 1
    return value if isinstance(value, int) and 2 <= value <= 8 else 1


def heif_exif_turn(fh: BinaryIO) -> int:
    """`_exif_turn_of` for a HEIF/AVIF file (parsed by libheif, not decoded)."""
    try:
        heif = _pillow_heif.open_heif(fh, convert_hdr_to_8bit=True)
    except Exception:  # libvips decoded it; a container libheif cannot parse keeps as is
        return 1
    return _exif_turn_of(heif)


def turn(image: pyvips.Image, orientation: int) -> pyvips.Image:
    """`image` turned upright for an EXIF orientation 1..8 (1: unchanged)."""
    if orientation == 1:
        return image
    image = image.copy()
    image.set_type(pyvips.GValue.gint_type, "orientation", orientation)
    return image.autorot().copy_memory()


_HEIF_BANDS = {"L": 1, "LA": 2, "RGB": 3, "RGBA": 4}


def _load_heif(fh: BinaryIO, box: int) -> pyvips.Image:
    """HEIC via pillow-heif; libheif applies irot/imir, EXIF orientation only without them."""
    try:
        heif = _pillow_heif.open_heif(fh, convert_hdr_to_8bit=True)
        width, height = heif.size
        check_pixels(width, height, "heic")
        data = heif.data
    except RuntimeError as exc:
        if "not been built in" in str(exc) or "No decoding plugin" in str(exc):
            raise _NoCodec from exc
        raise DecodeError(f"undecodable heic: libheif: {exc}") from exc
    except (SyntaxError, ValueError) as exc:
        raise DecodeError(f"undecodable heic: libheif: {exc}") from exc
    bands = _HEIF_BANDS.get(heif.mode)
    if bands is None or heif.stride < width * bands or len(data) < heif.stride * height:
        raise DecodeError(f"undecodable heic: unexpected pixel layout {heif.mode!r}")
    rows = np.frombuffer(data, dtype=np.uint8)[: heif.stride * height].reshape(height, -1)
    pixels = rows[:, : width * bands].reshape(height, width, bands)
    image = pyvips.Image.new_from_array(np.ascontiguousarray(pixels))
    image = image.copy(interpretation="srgb" if bands >= 3 else "b-w")
    profile = heif.info.get("icc_profile")
    if profile and heif.info.get("icc_profile_type") != "nclx":
        image = image.copy()
        image.set_type(pyvips.GValue.blob_type, "icc-profile-data", bytes(profile))
    return turn(fit(image, box), _exif_turn_of(heif))
