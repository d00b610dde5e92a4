"""make_thumbnails over every corpus file, checked against MANIFEST.tsv's ground truth.

Expected sizes come from the manifest (Pillow/pillow-heif decode size, exiftool's display
size after orientation, ffprobe's size and rotation). Files the manifest cannot speak
for (metadata-only RAWs, broken files) have their expected outcome spelled out below.
"""

from __future__ import annotations

import io
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image, ImageCms

from imageserver.media.formats import classify
from imageserver.media.thumbs import ThumbnailError, make_thumbnails
from imageserver.media.videoframe import VideoStream, frame_argv, parse_ppm
from tests.conftest import CORPUS

pytestmark = pytest.mark.corpus

SMALL, LARGE = 250, 1440


def _manifest() -> dict[str, str]:
    path = CORPUS / "MANIFEST.tsv"
    if not path.is_file():
        return {}
    rows = path.read_text(encoding="utf-8").splitlines()[1:]
    return {cols[0]: cols[7] for cols in (row.split("\t") for row in rows) if len(cols) > 7}


MANIFEST = _manifest()
MISSING = ["(corpus missing)"]  # one placeholder so the corpus fixture reports the absence

# RAW files: what LibRaw finds in them and what we therefore expect.
RAW: dict[str, int | str] = {
    # metadata-only test files, image data stripped, no usable preview
    "photos/raw/CanonRaw.cr2": "unreadable cr2 RAW: LibRaw LibRawFileUnsupportedError",
    "photos/raw/CanonRaw.cr3": "cr3 RAW has no usable embedded preview and its",
    "photos/raw/Nikon.nef": "nef RAW has no usable embedded preview and its",
    # sensor data stripped, but a 160x120 preview is embedded
    "photos/raw/FujiFilm.raf": 160,
    # 8x8 preview is too small; LibRaw demosaics the 3664x2754 sensor data (half size)
    "photos/raw/Panasonic.rw2": LARGE,
    # 1024 px preview < the 1224x816 sensor: full-size demosaic is better and cheap
    "photos/raw/canon_eos_6d.dng": 1224,
}

# broken/: longest side when libvips/ffmpeg still decode a sound image, else the reason.
BROKEN: dict[str, int | str] = {
    "broken/Issue_419.rw2": "unreadable rw2 RAW: LibRaw LibRawFileUnsupportedError",
    "broken/clap-overflow-divide-zero.heic": "undecodable heic: libheif: Unsupported feature",
    "broken/corrupt-header.jpg": "undecodable jpeg: VipsJpeg: Premature end of",
    "broken/crash-20ca2625.heic": "undecodable heic: libheif: Unsupported feature",
    "broken/giant-image.jpg": LARGE,  # 280 MP baseline JPEG: shrink-on-load, ~20 MB
    "broken/github_15.heic": "undecodable heic: libheif: Invalid input",
    "broken/image01137.jpg": 88,  # broken EXIF, sound pixels
    "broken/invalid-bitstream.webm": "no decodable video frame: Invalid sync code",
    "broken/its_138d3b9e0d9fbf641b8135981e597c3a.jpg": 100,  # libjpeg decodes a 100x100 frame
    "broken/its_2b5bc31d84703bfb9f371925f0e3e57d.gif": "undecodable gif: gifload_source: no frames",
    "broken/its_32d08f4a5eb10332506ebedbb9bc7257.jpg": "undecodable jpeg: VipsJpeg: Premature end",
    "broken/its_3ba6af611cc5467cfdbd5566561b8478.jpg": "undecodable jpeg: VipsJpeg: Invalid comp",
    "broken/its_4c5b82ba0a9c12356007bd71e52185b2.png": 212,  # truncated sRGB chunk is ignored
    "broken/its_55abb3cc464305dd554171c3d44cb61f.gif": 100,
    "broken/its_9a3e0c7b687b526987e2270541002d47.png": "undecodable png: vipspng: libpng read",
    "broken/sample_mdat_too_long.mp4": 1080,
    "broken/sample_missing_stsd.mp4": 1080,  # the undecodable stream is not the video
    "broken/sample_with_invalid_nalu.mp4": 1080,
    "broken/skimage_truncated.jpg": "undecodable jpeg: VipsJpeg: Premature end of input file",
    "broken/truncated.jpg": "undecodable jpeg: VipsJpeg: Premature end of input file",
    "broken/truncated.png": "undecodable png: vipspng: libpng read error",
}

_PILLOW = re.compile(r"Pillow [^:]*: decodes OK \(\w+ (\d+)x(\d+)")
_DISPLAY = re.compile(r"display size after orientation=(\d+)x(\d+)")
_VIDEO = re.compile(r"video=[^;]*? (\d+)x(\d+) pix_fmt=[^;]*; rotation(?:=(-?\d+)|: none)")


def expected(rel: str) -> int | str | tuple[int, int]:
    """Displayed (width, height), a longest side, or the start of the error reason."""
    if rel in RAW:
        return RAW[rel]
    if rel in BROKEN:
        return BROKEN[rel]
    truth = MANIFEST[rel]
    if match := _DISPLAY.search(truth):
        return int(match[1]), int(match[2])
    if match := _VIDEO.search(truth):
        w, h = int(match[1]), int(match[2])
        return (h, w) if match[3] and abs(int(match[3])) % 180 == 90 else (w, h)
    if match := _PILLOW.search(truth):
        return int(match[1]), int(match[2])
    raise AssertionError(f"no ground truth for {rel}: add it to RAW or BROKEN")


def thumbnails(
    src: Path, out: Path, small: int = SMALL, large: int = LARGE
) -> tuple[Image.Image, Image.Image]:
    found = classify(src)
    assert found is not None, src
    make_thumbnails(src, found.format, out / "s.webp", out / "l.webp", small, large, 80)
    return Image.open(out / "l.webp").convert("RGB"), Image.open(out / "s.webp").convert("RGB")


def _is_video(rel: str) -> bool:
    found = classify(CORPUS / rel) if (CORPUS / rel).is_file() else None
    return found is not None and found.format.is_video


CASES = [
    pytest.param(rel, marks=pytest.mark.slow) if _is_video(rel) else rel for rel in sorted(MANIFEST)
] or MISSING


@pytest.mark.parametrize("rel", CASES)
def test_every_corpus_file(corpus: Path, rel: str, tmp_path: Path) -> None:
    want = expected(rel)
    if isinstance(want, str):
        found = classify(corpus / rel)
        assert found is not None
        with pytest.raises(ThumbnailError) as err:
            make_thumbnails(
                corpus / rel, found.format, tmp_path / "s", tmp_path / "l", SMALL, LARGE, 80
            )
        assert err.value.permanent
        assert err.value.reason.startswith(want), err.value.reason
        return
    large, small = thumbnails(corpus / rel, tmp_path)
    longest = max(want) if isinstance(want, tuple) else want
    assert max(large.size) == min(LARGE, longest), large.size
    assert max(small.size) == min(SMALL, longest), small.size
    if isinstance(want, tuple) and want[0] != want[1]:  # oriented as displayed
        assert (large.width > large.height) == (want[0] > want[1]), (large.size, want)
        assert abs(large.width / large.height - want[0] / want[1]) < 0.02 * want[0] / want[1]


def test_manifest_covers_the_tables(corpus: Path) -> None:
    assert set(RAW) | set(BROKEN) <= set(MANIFEST)
    assert {rel for rel in MANIFEST if rel.startswith("broken/")} == set(BROKEN)


# --- orientation -----------------------------------------------------------------------------


def similarity(a: Image.Image, b: Image.Image) -> float:
    """Correlation of 32x32 grey versions: 1.0 identical, ~0 unrelated, < 0 inverted."""
    x, y = (np.asarray(i.convert("L").resize((32, 32)), float) for i in (a, b))
    x, y = (x - x.mean()) / x.std(), (y - y.mean()) / y.std()
    return float((x * y).mean())


@pytest.mark.parametrize("kind", ["Landscape", "Portrait"])
def test_exif_orientation_sets_all_look_like_the_upright_one(
    corpus: Path, kind: str, tmp_path: Path
) -> None:
    """Every {kind}_N thumbnail must match {kind}_1's (measured: >= 0.99); the stored,
    un-rotated pixels of N = 2..8 score <= 0.41, so ignoring orientation fails the 0.9 bar."""
    folder = corpus / "photos" / "orientation"
    _, upright = thumbnails(folder / f"{kind}_1.jpg", tmp_path / "1", 64, 256)
    for n in range(9):
        _, small = thumbnails(folder / f"{kind}_{n}.jpg", tmp_path / str(n), 64, 256)
        assert small.size == upright.size, n
        assert similarity(small, upright) > 0.9, n
        if n >= 2:
            with Image.open(folder / f"{kind}_{n}.jpg") as stored:  # Pillow ignores the tag
                assert similarity(stored, upright) < 0.5, n


# --- colour ----------------------------------------------------------------------------------


def _blocks(image: Image.Image) -> np.ndarray[Any, Any]:
    return np.asarray(image.convert("RGB").resize((16, 16), Image.Resampling.BOX), float)


def test_cmyk_jpeg_colours_match_an_icc_conversion(corpus: Path, tmp_path: Path) -> None:
    """Against lcms (SWOP profile -> sRGB) at 16x16 block level: ours measures 4.7/255 mean
    difference, Pillow's naive CMYK->RGB 10.1; the bar is 7."""
    src = corpus / "photos" / "formats" / "Channel_digital_image_CMYK_color.jpg"
    large, _ = thumbnails(src, tmp_path)
    with Image.open(src) as cmyk:
        profile = ImageCms.ImageCmsProfile(io.BytesIO(cmyk.info["icc_profile"]))
        srgb = ImageCms.createProfile("sRGB")
        reference = ImageCms.profileToProfile(cmyk, profile, srgb, outputMode="RGB")
        naive = cmyk.convert("RGB")
    assert reference is not None
    assert np.abs(_blocks(large) - _blocks(reference)).mean() < 7
    assert np.abs(_blocks(naive) - _blocks(reference)).mean() > 7


# --- HDR video -------------------------------------------------------------------------------


def _saturation_contrast(image: Image.Image) -> tuple[float, float]:
    rgb = np.asarray(image.convert("RGB"), float) / 255
    high, low = rgb.max(axis=2), rgb.min(axis=2)
    saturation = np.where(high > 0, (high - low) / np.maximum(high, 1e-6), 0).mean()
    luma = rgb @ np.array([0.2126, 0.7152, 0.0722])
    return float(saturation), float(luma.std())


HDR = {
    # name: (transfer, measured saturation ours / naive, contrast ours / naive)
    "dolbyVision-hdr.MOV": "arib-std-b67",  # sat 0.122 vs 0.054; contrast equal (HLG)
    "hdr10-video-with-sdr-container.mp4": "smpte2084",  # sat 0.356 vs 0.142; 0.229 vs 0.165
    "sample_edit_list.mp4": "arib-std-b67",  # sat 0.167 vs 0.093
}


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(HDR))
def test_hdr_video_thumbnails_are_not_washed_out(corpus: Path, name: str, tmp_path: Path) -> None:
    """BT.2020 colours shown as BT.709 without tone-mapping lose about half their saturation
    (and PQ its contrast): the thumbnail must be >= 1.5x as saturated as a naive extraction
    of the same frame (measured 1.8-2.5x; naive is 1.0x by definition, so it fails)."""
    src = corpus / "videos" / name
    large, _ = thumbnails(src, tmp_path)
    probe = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
         "stream=index,color_transfer:format=duration", "-of", "default=nw=1", str(src)],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    facts = dict(line.split("=", 1) for line in probe.split())
    assert facts["color_transfer"] == HDR[name]
    duration = float(facts["duration"])
    naive_stream = VideoStream(int(facts["index"]), duration, None)  # no tone-mapping
    done = subprocess.run(
        frame_argv(src, naive_stream, LARGE, round(duration * 0.1, 3)), capture_output=True
    )
    frame = parse_ppm(done.stdout)
    assert frame is not None
    naive = Image.frombytes("RGB", (frame.width, frame.height), frame.rgb)
    assert naive.size == large.size
    ours_sat, ours_contrast = _saturation_contrast(large)
    naive_sat, naive_contrast = _saturation_contrast(naive)
    assert ours_sat >= 1.5 * naive_sat, (ours_sat, naive_sat)
    if HDR[name] == "smpte2084":
        assert ours_contrast >= 1.2 * naive_contrast, (ours_contrast, naive_contrast)


# --- memory ----------------------------------------------------------------------------------

GIANT = """
import sys, tempfile
from pathlib import Path
from imageserver.media.formats import classify
from imageserver.media.thumbs import make_thumbnails
src, out = Path(sys.argv[1]), Path(tempfile.mkdtemp())
make_thumbnails(src, classify(src).format, out / "s.webp", out / "l.webp", 250, 1440, 80)
with open("/proc/self/status") as fh:
    print(next(int(line.split()[1]) for line in fh if line.startswith("VmHWM")))
"""


def test_giant_image_peak_memory_is_bounded(corpus: Path) -> None:
    """280 MP baseline JPEG: measured 85 MB peak RSS (65 MB of it imported modules). A full
    decode would need 280 MB, a progressive one 560 MB of coefficients: the bar is 200 MB."""
    src = corpus / "broken" / "giant-image.jpg"
    done = subprocess.run(
        [sys.executable, "-c", GIANT, str(src)], capture_output=True, text=True, check=True
    )
    peak_mb = int(done.stdout.split()[-1]) / 1024
    assert peak_mb < 200, peak_mb
