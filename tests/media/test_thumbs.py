"""make_thumbnails on generated inputs: sizes, orientation, colour, limits, errors, writes."""

from __future__ import annotations

import errno
import os
import struct
import subprocess
import sys
import threading
import zlib
from io import BytesIO
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import pyvips
from PIL import Image, ImageCms, ImageDraw

from imageserver.media import decode, rawdecode, thumbs
from imageserver.media.formats import FORMATS, classify
from imageserver.media.thumbs import ThumbnailError, make_thumbnails
from tests.fixtures import make_jpeg, make_png, make_video

# EXIF orientation -> the Pillow transpose that turns the displayed image into the stored one
# (the inverse of what a viewer applies; 6 and 8 are each other's inverse).
STORE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_90,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_270,
}


def run(src: Path, small_px: int = 250, large_px: int = 1440) -> tuple[Image.Image, Image.Image]:
    """Thumbnails of `src` (format sniffed); returns the decoded (large, small)."""
    found = classify(src)
    assert found is not None
    out = src.parent / "thumbs"
    make_thumbnails(
        src, found.format, out / "s.webp", out / "l.webp", small_px, large_px, quality=80
    )
    large, small = Image.open(out / "l.webp"), Image.open(out / "s.webp")
    assert large.format == small.format == "WEBP"
    return large.convert("RGB"), small.convert("RGB")


def failure(src: Path, fmt: str | None = None) -> ThumbnailError:
    found = FORMATS[fmt] if fmt else classify(src).format  # type: ignore[union-attr]
    with pytest.raises(ThumbnailError) as err:
        make_thumbnails(src, found, src.parent / "s.webp", src.parent / "l.webp", 250, 1440, 80)
    assert not (src.parent / "l.webp").exists() and not (src.parent / "s.webp").exists()
    return err.value


def scene(size: tuple[int, int] = (300, 200)) -> Image.Image:
    """Asymmetric on both axes, so any wrong turn or flip shows."""
    image = Image.new("RGB", size, (40, 40, 40))
    draw = ImageDraw.Draw(image)
    w, h = size
    draw.rectangle((0, 0, w // 3, h // 2), fill=(230, 30, 30))
    draw.ellipse((w // 2, h // 2, w - 10, h - 5), fill=(30, 30, 230))
    draw.rectangle((w - 20, 0, w - 1, 20), fill=(250, 250, 250))
    return image


def similarity(a: Image.Image, b: Image.Image) -> float:
    """Correlation of 32x32 grey versions: 1.0 identical, ~0 unrelated, < 0 inverted."""
    x, y = (np.asarray(i.convert("L").resize((32, 32)), float) for i in (a, b))
    x, y = (x - x.mean()) / x.std(), (y - y.mean()) / y.std()
    return float((x * y).mean())


# --- sizes ---------------------------------------------------------------------------------


def test_two_sizes_longest_side(tmp_path: Path) -> None:
    large, small = run(make_jpeg(tmp_path / "a.jpg", size=(3000, 2000)))
    assert large.size == (1440, 960) and small.size == (250, 167)
    large, small = run(make_jpeg(tmp_path / "b.jpg", size=(1000, 3000)), 300, 600)
    assert large.size == (200, 600) and small.size == (100, 300)


def test_never_upscaled(tmp_path: Path) -> None:
    large, small = run(make_jpeg(tmp_path / "a.jpg", size=(600, 400)))
    assert large.size == (600, 400) and small.size == (250, 167)
    large, small = run(make_jpeg(tmp_path / "b.jpg", size=(100, 80)))
    assert large.size == small.size == (100, 80)


# --- orientation ---------------------------------------------------------------------------


@pytest.mark.parametrize("orientation", [0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
def test_exif_orientation_applied(tmp_path: Path, orientation: int) -> None:
    """Stored turned/flipped with the EXIF tag that undoes it: must come out as shown.

    0 and 9 are invalid tags: treated as 1 (upright as stored).
    """
    shown = scene()
    stored = shown.transpose(STORE[orientation]) if orientation in STORE else shown
    exif = Image.Exif()
    exif[0x0112] = orientation
    src = tmp_path / "o.jpg"
    stored.save(src, "JPEG", quality=95, exif=exif.tobytes())
    large, _ = run(src)
    assert large.size == shown.size
    assert similarity(large, shown) > 0.9
    if orientation in STORE:  # the check can fail: ignoring the tag would not pass it
        assert similarity(stored.resize(shown.size), shown) < 0.5


def test_fixture_orientation_swaps_dimensions(tmp_path: Path) -> None:
    large, small = run(make_jpeg(tmp_path / "p.jpg", size=(640, 480), orientation=6))
    assert large.size == (480, 640) and small.size == (188, 250)


# --- formats and colour ----------------------------------------------------------------------


def test_png_alpha_is_flattened_on_white(tmp_path: Path) -> None:
    image = Image.new("RGBA", (200, 100), (0, 0, 0, 0))
    ImageDraw.Draw(image).rectangle((100, 0, 199, 99), fill=(0, 0, 255, 255))
    image.save(tmp_path / "a.png")
    large, _ = run(tmp_path / "a.png")
    assert large.getpixel((20, 50)) == (255, 255, 255)
    r, g, b = large.getpixel((180, 50))  # type: ignore[misc]
    assert b > 200 and r < 40 and g < 40
    large, _ = run(make_png(tmp_path / "opaque.png"))
    assert large.size == (320, 200)


def test_sixteen_bit_png(tmp_path: Path) -> None:
    ramp = np.tile(np.linspace(0, 65535, 256), (64, 1))  # dark left, bright right
    rgb = np.dstack([ramp, ramp / 2, 65535 - ramp]).astype(np.uint16)
    pyvips.Image.new_from_array(rgb).copy(interpretation="rgb16").pngsave(str(tmp_path / "a.png"))
    grey = pyvips.Image.new_from_array(np.dstack([ramp, ramp]).astype(np.uint16))
    grey.copy(interpretation="grey16").pngsave(str(tmp_path / "ga.png"))
    large, _ = run(tmp_path / "a.png")
    pixels = np.asarray(large, float)
    assert large.size == (256, 64)
    assert abs(pixels[:, -1, 0].mean() - 255) < 3 and abs(pixels[:, -1, 1].mean() - 128) < 4
    assert pixels[:, 0].mean() < 90  # dark red/green, full blue: not clipped or wrapped
    large, _ = run(tmp_path / "ga.png")
    assert large.mode == "RGB" and np.asarray(large, float)[:, -1].mean() > 240


def test_animated_gif_and_webp_give_the_first_frame(tmp_path: Path) -> None:
    frames = [Image.new("RGB", (120, 80), colour) for colour in ((220, 20, 20), (20, 20, 220))]
    frames[0].save(tmp_path / "a.gif", save_all=True, append_images=frames[1:], duration=100)
    frames[0].save(tmp_path / "a.webp", save_all=True, append_images=frames[1:], duration=100)
    for name in ("a.gif", "a.webp"):
        large, _ = run(tmp_path / name)
        r, _, b = np.asarray(large, float).mean(axis=(0, 1))
        assert large.size == (120, 80) and r > 180 and b < 60, name


def test_tiff_and_webp(tmp_path: Path) -> None:
    scene((900, 600)).save(tmp_path / "a.tif", compression="tiff_lzw")
    scene((900, 600)).save(tmp_path / "b.webp", quality=90)
    for name in ("a.tif", "b.webp"):
        large, small = run(tmp_path / name, 150, 450)
        assert large.size == (450, 300) and small.size == (150, 100)
        assert similarity(large, scene((900, 600))) > 0.95


def test_heic(tmp_path: Path) -> None:
    heif = decode.pillow_heif_module()
    heif.from_pillow(scene((640, 480))).save(tmp_path / "a.heic", quality=90)
    large, small = run(tmp_path / "a.heic")
    assert large.size == (640, 480) and small.size == (250, 188)
    assert similarity(large, scene((640, 480))) > 0.95


HEIF_ORDER = """
import sys
from pathlib import Path
from PIL import Image
if sys.argv[2] == "pyvips-first":
    import pyvips  # loads Debian's libheif into the global namespace
from imageserver.media import decode
import pillow_heif  # what other modules (faces) do: must be the safely loaded module
pillow_heif.register_heif_opener()
src = Path(sys.argv[1])
with Image.open(src) as im:
    im.load()
print(decode.load_photo(src, decode.Format("heic", "photo", "image/heic"), 64).width)
"""


@pytest.mark.parametrize("order", ["pyvips-first", "decode-first"])
def test_pillow_heif_and_libvips_coexist_in_either_import_order(tmp_path: Path, order: str) -> None:
    """Plain `import pyvips; import pillow_heif` segfaults on the first HEIC decode."""
    scene((80, 60)).save(tmp_path / "a.png")
    subprocess.run(
        [sys.executable, "-c", "import pillow_heif, sys; from PIL import Image;"
         "pillow_heif.from_pillow(Image.open(sys.argv[1])).save(sys.argv[2])",
         str(tmp_path / "a.png"), str(tmp_path / "a.heic")],
        check=True,
    )  # fmt: skip
    done = subprocess.run(
        [sys.executable, "-c", HEIF_ORDER, str(tmp_path / "a.heic"), order],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["64"]


def test_cmyk_jpeg_becomes_rgb(tmp_path: Path) -> None:
    Image.new("CMYK", (64, 48), (0, 255, 255, 0)).save(tmp_path / "c.jpg", quality=95)
    large, _ = run(tmp_path / "c.jpg")
    r, g, b = large.getpixel((10, 10))  # type: ignore[misc]
    assert r > 200 and g < 80 and b < 80  # press red through a CMYK profile, not cyan


def test_wide_gamut_profile_is_converted_to_srgb(tmp_path: Path) -> None:
    """Pure sRGB red stored as Display P3 numbers: stripping the profile would show (234,51,34)."""
    red = pyvips.Image.black(64, 48).new_from_image([255, 0, 0]).copy(interpretation="srgb")
    p3 = red.cast("uchar").icc_transform("p3", input_profile="srgb", embedded=False)
    assert p3.getpoint(1, 1)[1] > 40
    p3.jpegsave(str(tmp_path / "p3.jpg"), Q=95)
    large, _ = run(tmp_path / "p3.jpg")
    r, g, b = large.getpixel((10, 10))  # type: ignore[misc]
    assert r > 245 and g < 15 and b < 15


def test_icc_description() -> None:
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    lab = ImageCms.ImageCmsProfile(ImageCms.createProfile("LAB")).tobytes()
    assert decode.is_srgb_profile(srgb)
    assert not decode.is_srgb_profile(lab)
    assert decode.icc_description(b"garbage") == ""
    assert decode.icc_description(srgb[:140]) == ""


# --- limits ----------------------------------------------------------------------------------


def _png_bomb(path: Path, width: int, height: int) -> Path:
    """A PNG that declares a huge size and holds almost no data (a decompression bomb)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data)
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = chunk(b"IDAT", zlib.compress(b"\x00" * 1000))
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + idat + chunk(b"IEND", b""))
    return path


def test_declared_size_over_the_limit_is_refused_before_decoding(tmp_path: Path) -> None:
    err = failure(_png_bomb(tmp_path / "bomb.png", 30000, 30000))
    assert err.permanent
    assert err.reason == "png declares 30000x30000 = 900 MP, over the 200 MP decode limit"


def test_progressive_jpeg_is_limited_baseline_is_not(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Progressive JPEG needs all coefficients in memory; baseline shrinks on load in strips."""
    monkeypatch.setattr(decode, "MAX_PIXELS", 100 * 100)
    scene((400, 300)).save(tmp_path / "p.jpg", progressive=True)
    scene((400, 300)).save(tmp_path / "b.jpg")
    assert "over the 0 MP decode limit" in failure(tmp_path / "p.jpg").reason
    large, _ = run(tmp_path / "b.jpg")
    assert large.size == (400, 300)


def test_big_baseline_jpeg_shrinks_on_load(tmp_path: Path) -> None:
    src = tmp_path / "big.jpg"
    pyvips.Image.black(12000, 9000).jpegsave(str(src))  # 108 MP, streamed by libvips
    large, small = run(src)
    assert large.size == (1440, 1080) and small.size == (250, 188)


# --- broken input ----------------------------------------------------------------------------


def test_broken_files_fail_permanently_with_a_reason(tmp_path: Path) -> None:
    whole = make_jpeg(tmp_path / "whole.jpg", size=(800, 600)).read_bytes()
    (tmp_path / "cut.jpg").write_bytes(whole[: len(whole) // 2])
    (tmp_path / "noise.jpg").write_bytes(b"\xff\xd8\xff" + os.urandom(3000))
    (tmp_path / "empty.png").write_bytes(b"")
    (tmp_path / "fake.heic").write_bytes(b"\x00\x00\x00\x18ftypheic" + b"\x00" * 40)
    (tmp_path / "fake.mp4").write_bytes(b"\x00\x00\x00\x18ftypisom" + b"\x00" * 40)
    cases = {
        "cut.jpg": ("jpeg", "undecodable jpeg: VipsJpeg: Premature end of input file"),
        "noise.jpg": ("jpeg", "undecodable jpeg: "),
        "empty.png": ("png", "undecodable png: "),
        "fake.heic": ("heic", "undecodable heic: libheif: "),
        "fake.mp4": ("mp4", "ffprobe: "),
    }
    for name, (fmt, reason) in cases.items():
        err = failure(tmp_path / name, fmt)
        assert err.permanent, name
        assert err.reason.startswith(reason), (name, err.reason)
        assert str(tmp_path) not in err.reason  # names, not our paths, in stored reasons


def test_libvips_never_falls_back_to_imagemagick(tmp_path: Path) -> None:
    """Fuzzed files must not reach ImageMagick's parsers (a broken HEIC parses as a TGA)."""
    tga = tmp_path / "x.jpg"
    Image.new("RGB", (8, 8)).save(tga, "TGA")
    err = failure(tga, "jpeg")
    assert err.permanent and err.reason.startswith("undecodable jpeg: ")
    with pytest.raises(pyvips.Error, match="operation is blocked"):
        pyvips.Image.magickload(str(tga))


def test_unforeseen_decoder_exceptions_become_thumbnail_errors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    src = make_jpeg(tmp_path / "a.jpg")

    def crash(exc: BaseException) -> Any:
        def load(*args: Any) -> None:
            raise exc

        return load

    monkeypatch.setattr(thumbs, "load_photo", crash(ValueError("cannot reshape array")))
    err = failure(src)
    assert err.permanent and err.reason == "decoder failed: ValueError: cannot reshape array"
    monkeypatch.setattr(thumbs, "load_photo", crash(MemoryError()))
    assert not failure(src).permanent
    monkeypatch.setattr(thumbs, "load_photo", crash(OSError(errno.EIO, "I/O error")))
    with pytest.raises(OSError):
        failure(src)


# --- writing ---------------------------------------------------------------------------------


def test_atomic_writes_leave_only_the_two_files(tmp_path: Path) -> None:
    src = make_jpeg(tmp_path / "a.jpg")
    out = tmp_path / "deep" / "er"
    make_thumbnails(src, FORMATS["jpeg"], out / "s.webp", out / "l.webp", 250, 1440, 80)
    assert sorted(p.name for p in out.iterdir()) == ["l.webp", "s.webp"]
    assert (out / "l.webp").stat().st_mode & 0o777 == 0o600  # private from creation
    make_thumbnails(src, FORMATS["jpeg"], out / "s.webp", out / "l.webp", 250, 1440, 80)
    assert sorted(p.name for p in out.iterdir()) == ["l.webp", "s.webp"]


def test_unwritable_output_is_oserror_not_a_thumbnail_failure(tmp_path: Path) -> None:
    src = make_jpeg(tmp_path / "a.jpg")
    (tmp_path / "file").write_text("not a folder")
    blocked = tmp_path / "file" / "ab"
    with pytest.raises(OSError):
        make_thumbnails(src, FORMATS["jpeg"], blocked / "s.webp", blocked / "l.webp", 250, 1440, 80)


def test_disk_full_is_oserror_and_cleans_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    src = make_jpeg(tmp_path / "a.jpg")
    out = tmp_path / "thumbs"

    def full(*args: Any, **kwargs: Any) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "replace", full)
    with pytest.raises(OSError) as err:
        make_thumbnails(src, FORMATS["jpeg"], out / "s.webp", out / "l.webp", 250, 1440, 80)
    assert err.value.errno == errno.ENOSPC
    assert list(out.iterdir()) == []  # no temp files left behind


def test_missing_source_is_oserror(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        make_thumbnails(
            tmp_path / "gone.jpg", FORMATS["jpeg"], tmp_path / "s", tmp_path / "l", 250, 1440, 80
        )


def test_odd_file_names(tmp_path: Path) -> None:
    """libvips would read a trailing [..] as load options; LibRaw and libvips need UTF-8."""
    for name in ("IMG_0001 [1]", "x[Q=1]", "caf\udce9.jpg", "-dash.jpg"):
        src = make_jpeg(tmp_path / name, size=(300, 200))
        large, _ = run(src)
        assert large.size == (300, 200), name


def test_two_threads_at_once(tmp_path: Path) -> None:
    sources = [make_jpeg(tmp_path / f"{n}.jpg", size=(900 + n * 10, 600)) for n in range(6)]
    errors: list[BaseException] = []

    def work(items: list[Path]) -> None:
        try:
            for src in items:
                out = tmp_path / src.stem
                make_thumbnails(src, FORMATS["jpeg"], out / "s.webp", out / "l.webp", 250, 500, 80)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(sources[i::2],)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    for n, src in enumerate(sources):
        assert Image.open(tmp_path / src.stem / "l.webp").size == (
            500,
            round(600 * 500 / (900 + n * 10)),
        )


# --- RAW orientation (the corpus holds only upright RAWs) -------------------------------------


def test_libraw_flip_maps_back_to_exif() -> None:
    dcraw = "50132467"  # dcraw/LibRaw: flip = "50132467"[exif_orientation & 7]
    for exif in range(1, 9):
        assert rawdecode.FLIP_TO_EXIF[int(dcraw[exif & 7])] == exif


@pytest.mark.parametrize(("flip", "orientation"), [(0, 1), (3, 3), (5, 8), (6, 6)])
def test_raw_preview_is_turned_by_the_raw_orientation(flip: int, orientation: int) -> None:
    shown = scene()
    buffer = BytesIO()
    shown.transpose(STORE[orientation]).save(buffer, "JPEG", quality=95) if orientation > 1 else (
        shown.save(buffer, "JPEG", quality=95)
    )
    stored = Image.open(BytesIO(buffer.getvalue()))
    preview = rawdecode._Preview(stored.width, stored.height, jpeg=buffer.getvalue())
    image = rawdecode._orient(preview, flip, 1440)
    result = Image.fromarray(image.numpy())
    assert result.size == shown.size
    assert similarity(result, shown) > 0.9


# --- video -----------------------------------------------------------------------------------


@pytest.mark.slow
def test_video_thumbnails(tmp_path: Path) -> None:
    large, small = run(make_video(tmp_path / "v.mp4", seconds=1.0, size="640x360"))
    assert large.size == (640, 360) and small.size == (250, 141)


@pytest.mark.slow
def test_rotated_video_thumbnails_are_upright(tmp_path: Path) -> None:
    plain = make_video(tmp_path / "plain.mp4", seconds=0.5, size="320x240", audio=False)
    rotated = tmp_path / "rot.mp4"
    subprocess.run(
        ["ffmpeg", "-nostdin", "-y", "-loglevel", "error", "-i", str(plain), "-c", "copy",
         "-metadata:s:v:0", "rotate=270", str(rotated)],
        check=True,
        timeout=60,
    )  # fmt: skip
    large, small = run(rotated)
    assert large.size == (240, 320) and small.size == (188, 250)


@pytest.mark.slow
def test_video_without_a_decodable_frame(tmp_path: Path) -> None:
    audio = tmp_path / "a.mp4"
    subprocess.run(
        ["ffmpeg", "-nostdin", "-y", "-loglevel", "error", "-f", "lavfi", "-i",
         "sine=d=0.5", str(audio)],
        check=True,
        timeout=60,
    )  # fmt: skip
    err = failure(audio, "mp4")
    assert err.permanent and err.reason == "no video stream"
