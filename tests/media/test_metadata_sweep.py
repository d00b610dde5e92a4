"""Issue 22 metadata sweep: dates from XMP / MakerNotes / GPS / file names, bogus GPS,
orientation defaults, DNG crop, header sizes of undecodable JPEGs, sanity bounds."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from imageserver.media.formats import FORMATS, classify
from imageserver.media.metadata import ExifToolReader, MediaMetadata, open_reader
from imageserver.media.metadata.dates import date_from_name, taken_at
from imageserver.media.metadata.exif import from_exiftool, image_size, orientation
from imageserver.media.metadata.gps import gps, gps_reading
from imageserver.media.metadata.jpeg import jpeg_record
from tests.conftest import skip_outside_ci
from tests.fixtures import make_jpeg, make_png

JPEG, PNG, MP4 = FORMATS["jpeg"], FORMATS["png"], FORMATS["mp4"]
HAS_TOOLS = all(shutil.which(t) for t in ("exiftool", "ffmpeg", "ffprobe"))


@pytest.fixture(scope="module")
def reader() -> Iterator[ExifToolReader]:
    if not HAS_TOOLS:
        skip_outside_ci("exiftool/ffmpeg not installed")
    opened = open_reader()
    yield opened
    opened.close()


def read(reader: ExifToolReader, path: Path) -> MediaMetadata:
    found = classify(path)
    assert found is not None
    [meta] = reader.read_many([(path, found.format)])
    assert isinstance(meta, MediaMetadata), meta
    return meta


def exiftool_write(path: Path, *args: str) -> Path:
    subprocess.run(
        ["exiftool", "-q", "-q", "-overwrite_original", *args, str(path)],
        check=True,
        capture_output=True,
    )
    return path


# --- dates -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "when", "source"),
    [
        ("telegram_2020-01-30_09-57-18.jpg", datetime(2020, 1, 30, 9, 57, 18), "FileName:DateTime"),
        ("IMG_20190704_121314.jpg", datetime(2019, 7, 4, 12, 13, 14), "FileName:DateTime"),
        ("PXL_20230102_154407123.MP.jpg", datetime(2023, 1, 2, 15, 44, 7), "FileName:DateTime"),
        ("VID_20201231_235959.mp4", datetime(2020, 12, 31, 23, 59, 59), "FileName:DateTime"),
        (
            "Screenshot 2021-05-06 at 10.11.12.png",
            datetime(2021, 5, 6, 10, 11, 12),
            "FileName:DateTime",
        ),
        ("Screenshot_20210506-101112.png", datetime(2021, 5, 6, 10, 11, 12), "FileName:DateTime"),
        ("IMG-20200130-WA0001.jpg", datetime(2020, 1, 30), "FileName:Date"),
        ("2019-12-24 Christmas.jpg", datetime(2019, 12, 24), "FileName:Date"),
    ],
)
def test_date_from_name(name: str, when: datetime, source: str) -> None:
    assert date_from_name(name, now=datetime(2026, 1, 1)) == (when, source)


@pytest.mark.parametrize(
    "name",
    [
        "DSC01234.jpg",
        "IMG_1234.jpg",
        "12345678901.jpg",  # digits run on: not a date
        "2019-13-01.jpg",  # no 13th month
        "IMG_20190230_101010.jpg",  # no 30 February
        "photo 2030-01-01.jpg",  # in the future
        "scan_1985-01-01.jpg",  # before digital file names
        "2019-12_24.jpg",  # separators disagree
    ],
)
def test_no_date_in_name(name: str) -> None:
    assert date_from_name(name, now=datetime(2026, 1, 1)) is None


def test_xmp_and_gps_dates_in_order() -> None:
    xmp_only = {"XMP-exif:DateTimeOriginal": "2018:03:04 05:06:07+01:00"}
    assert taken_at(xmp_only) == (datetime(2018, 3, 4, 5, 6, 7), 60, "XMP:DateTimeOriginal")
    gps_only = {"GPS:GPSDateStamp": "2008:10:23", "GPS:GPSTimeStamp": "14:27:07.24"}
    assert taken_at(gps_only) == (datetime(2008, 10, 23, 14, 27, 7, 240000), 0, "GPS:GPSDateTime")
    xmp_gps = {"XMP-exif:GPSDateTime": "2017:01:02 03:04:05Z"}
    assert taken_at(xmp_gps) == (datetime(2017, 1, 2, 3, 4, 5), 0, "XMP:GPSDateTime")
    # the camera clock wins over the GPS fix; a maker note's date over both
    both = {**gps_only, "Reconyx:DateTimeOriginal": "2019:04:04 10:04:12"}
    assert taken_at(both) == (datetime(2019, 4, 4, 10, 4, 12), None, "Reconyx:DateTimeOriginal")
    # a GPS date alone (no time) is not a time
    assert taken_at({"GPS:GPSDateStamp": "2008:10:23"}) is None


def test_gps_time_on_the_fast_path(tmp_path: Path) -> None:
    import piexif

    path = make_jpeg(tmp_path / "g.jpg", make="Nikon")
    exif = piexif.load(str(path))
    exif["GPS"] = {
        piexif.GPSIFD.GPSDateStamp: b"2008:10:23",
        piexif.GPSIFD.GPSTimeStamp: ((14, 1), (27, 1), (724, 100)),
    }
    piexif.insert(piexif.dump(exif), str(path))
    rec = jpeg_record(path)
    assert rec is not None
    assert rec["GPS:GPSTimeStamp"] == "14:27:07.24" and rec["GPS:GPSDateStamp"] == "2008:10:23"
    assert taken_at(rec) == (datetime(2008, 10, 23, 14, 27, 7, 240000), 0, "GPS:GPSDateTime")


def test_dates_end_to_end(tmp_path: Path, reader: ExifToolReader, corpus: Path) -> None:
    xmp = exiftool_write(
        make_jpeg(tmp_path / "xmp.jpg"), "-XMP-exif:DateTimeOriginal=2018:03:04 05:06:07"
    )
    gps_xmp = exiftool_write(
        make_jpeg(tmp_path / "gpsxmp.jpg"), "-XMP-exif:GPSDateTime=2017:01:02 03:04:05Z"
    )
    # a Reconyx trail-camera JPEG whose only date is in its MakerNote
    trail = shutil.copy(
        corpus / "photos/phones_cameras/Reconyx_HF2_Pro_Covert.jpg", tmp_path / "trail.jpg"
    )
    exiftool_write(trail, "-ExifIFD:DateTimeOriginal=", "-ExifIFD:CreateDate=", "-IFD0:ModifyDate=")
    named = make_png(tmp_path / "Screenshot 2021-05-06 at 10.11.12.png")
    whatsapp = make_jpeg(tmp_path / "IMG-20200130-WA0001.jpg")
    # the file's own date beats the one in its name
    both = make_jpeg(tmp_path / "IMG_20190704_121314.jpg", taken=datetime(2019, 7, 3, 8, 0))
    got = {
        p.name: (m.taken_at, m.taken_at_source)
        for p in (xmp, gps_xmp, Path(trail), named, whatsapp, both)
        for m in [read(reader, p)]
    }
    assert got == {
        "xmp.jpg": (datetime(2018, 3, 4, 5, 6, 7), "XMP:DateTimeOriginal"),
        "gpsxmp.jpg": (datetime(2017, 1, 2, 3, 4, 5), "XMP:GPSDateTime"),
        "trail.jpg": (datetime(2019, 4, 4, 10, 4, 12), "Reconyx:DateTimeOriginal"),
        named.name: (datetime(2021, 5, 6, 10, 11, 12), "FileName:DateTime"),
        whatsapp.name: (datetime(2020, 1, 30), "FileName:Date"),
        both.name: (datetime(2019, 7, 3, 8, 0), "EXIF:DateTimeOriginal"),
    }


# --- GPS ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "rec",
    [
        {"UserData:GPSCoordinates": "0 0 0"},  # a 3GP phone video before its first fix
        {"GPS:GPSLatitude": 0.0, "GPS:GPSLongitude": 0.0, "GPS:GPSLatitudeRef": "N"},
        {"GPS:GPSLatitude": 91.0, "GPS:GPSLongitude": 10.0},
        {"Keys:GPSCoordinates": "45.0 181.0"},
        {"UserData:LocationInformation": "Home Role=shooting Lat=0.00000 Lon=0.00000 Alt=0"},
    ],
)
def test_null_island_and_out_of_range_are_no_gps(rec: dict[str, Any]) -> None:
    assert gps(rec) is None
    position, rejected = gps_reading(rec)
    assert position is None and rejected is not None
    meta = from_exiftool({"File:FileType": "MP4", "QuickTime:Duration": 2.0, **rec}, MP4)
    assert isinstance(meta, MediaMetadata)
    assert (meta.latitude, meta.longitude) == (None, None)
    assert meta.extra["gps_rejected"] == rejected
    assert isinstance(rejected["latitude"], float) and isinstance(rejected["longitude"], float)


def test_a_valid_pair_after_a_bogus_one_wins() -> None:
    rec = {"GPS:GPSLatitude": 0.0, "GPS:GPSLongitude": 0.0, "Keys:GPSCoordinates": "48.1 11.5"}
    assert gps_reading(rec) == ((48.1, 11.5, None), None)
    assert gps({"GPS:GPSLatitude": 0.0, "GPS:GPSLongitude": 12.5}) == (0.0, 12.5, None)


# --- orientation -------------------------------------------------------------------------------


def test_exif_without_orientation_tag_is_1() -> None:
    assert orientation({"File:ExifByteOrder": "II"}) == 1
    assert orientation({"File:ExifByteOrder": "II", "IFD0:Orientation": 8}) == 8
    assert orientation({}) is None


def test_png_with_exif_reports_orientation_1(reader: ExifToolReader, corpus: Path) -> None:
    meta = read(reader, corpus / "photos/formats/sampleWithExifData.png")
    assert (meta.width, meta.height, meta.orientation) == (256, 256, 1)


def test_jpeg_exif_without_orientation_both_paths(tmp_path: Path) -> None:
    path = make_jpeg(tmp_path / "a.jpg", make="Canon")
    rec = jpeg_record(path)
    assert rec is not None and rec["File:ExifByteOrder"] in ("II", "MM")
    meta = from_exiftool(rec, JPEG)
    assert isinstance(meta, MediaMetadata) and meta.orientation == 1
    Image.new("RGB", (40, 30)).save(tmp_path / "b.jpg")
    bare = jpeg_record(tmp_path / "b.jpg")
    assert bare is not None and "File:ExifByteOrder" not in bare
    meta = from_exiftool(bare, JPEG)
    assert isinstance(meta, MediaMetadata) and meta.orientation is None


# --- HEIF / AVIF orientation -------------------------------------------------------------------

_EXIF_ORIENTATION = b"\x01\x12\x00\x03\x00\x00\x00\x01\x00"  # big-endian IFD entry, value next


def _halves() -> Image.Image:
    """64x32: left half blue, right half red (upright = blue on top after a 90 CW turn)."""
    image = Image.new("RGB", (64, 32), (220, 20, 20))
    image.paste((20, 20, 220), (0, 0, 32, 32))
    return image


def _exif(orientation: int) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = orientation
    return exif.tobytes()


def _patch_orientation(path: Path, value: int) -> Path:
    """Rewrite the EXIF Orientation stored in a file, leaving its container alone."""
    data = path.read_bytes()
    at = data.index(_EXIF_ORIENTATION) + len(_EXIF_ORIENTATION)
    path.write_bytes(data[:at] + bytes([value]) + data[at + 1 :])
    return path


def make_heics(tmp_path: Path) -> dict[str, Path]:
    """The shapes: irot + EXIF 6 (iPhone), EXIF 6 without irot, irot with a disagreeing
    EXIF 3 (the container wins), and a plain landscape file."""
    from imageserver.media.decode import pillow_heif_module

    heif = pillow_heif_module()
    files = {}
    # pillow-heif writes the EXIF orientation as an irot/imir transform
    heif.from_pillow(_halves()).save(tmp_path / "irot.heic", exif=_exif(6), quality=60)
    files["irot"] = tmp_path / "irot.heic"
    heif.from_pillow(_halves()).save(tmp_path / "plain.heic", exif=_exif(1), quality=60)
    files["plain"] = tmp_path / "plain.heic"
    files["exif_only"] = _patch_orientation(
        Path(shutil.copy(files["plain"], tmp_path / "exif_only.heic")), 6
    )
    files["both"] = _patch_orientation(Path(shutil.copy(files["irot"], tmp_path / "both.heic")), 3)
    return files


def _upright_portrait(image: Any) -> bool:
    top, bottom = image(image.width // 2, 2), image(image.width // 2, image.height - 3)
    return (image.width, image.height) == (32, 64) and top[2] > 150 > top[0] and bottom[0] > 150


def test_heic_container_transform_wins_exif_applies_without_it(
    tmp_path: Path, reader: ExifToolReader
) -> None:
    from imageserver.media.decode import load_photo, load_photo_bytes

    files = make_heics(tmp_path)
    for name in ("irot", "exif_only", "both"):
        image = load_photo(files[name], FORMATS["heic"], 64)
        assert _upright_portrait(image), name
        assert _upright_portrait(load_photo_bytes(files[name].read_bytes(), 64)), name
        meta = read(reader, files[name])
        assert (meta.width, meta.height) == (32, 64), name
    assert read(reader, files["both"]).orientation == 3  # recorded as the file says
    plain = load_photo(files["plain"], FORMATS["heic"], 64)
    assert (plain.width, plain.height) == (64, 32)
    meta = read(reader, files["plain"])
    assert (meta.width, meta.height, meta.orientation) == (64, 32, 1)


def test_avif_exif_orientation_without_transform(tmp_path: Path, reader: ExifToolReader) -> None:
    """libvips writes AVIF with EXIF Orientation and no irot; libvips reads it back
    ignoring the tag, so the decoder applies it."""
    import pyvips

    from imageserver.media.decode import load_photo

    image = pyvips.Image.new_from_array(np.asarray(_halves())).copy(interpretation="srgb")
    image.set_type(pyvips.GValue.blob_type, "exif-data", b"Exif\x00\x00" + _exif(6)[6:])
    image.set_type(pyvips.GValue.gint_type, "orientation", 6)
    path = tmp_path / "e6.avif"
    try:
        image.heifsave(str(path), compression="av1", Q=60)
    except pyvips.Error as exc:
        skip_outside_ci(f"libheif has no AV1 encoder here: {exc}")
    assert _upright_portrait(load_photo(path, FORMATS["avif"], 64))
    meta = read(reader, path)
    assert (meta.width, meta.height, meta.orientation) == (32, 64, 6)


# --- sizes: DNG default crop ---------------------------------------------------------------------


def test_dng_reports_its_default_crop(tmp_path: Path, reader: ExifToolReader, corpus: Path) -> None:
    import rawpy

    from imageserver.media.rawdecode import _demosaic

    dng = Path(shutil.copy(corpus / "photos/raw/canon_eos_6d.dng", tmp_path / "crop.dng"))
    exiftool_write(dng, "-SubIFD:DefaultCropSize=1200 800", "-SubIFD:DefaultCropOrigin=12 8")
    meta = read(reader, dng)
    assert (meta.width, meta.height) == (1200, 800)  # not the 1224x816 sensor
    with rawpy.imread(str(dng)) as raw:
        assert (raw.sizes.crop_width, raw.sizes.crop_height) == (1200, 800)
        image = _demosaic(raw, 4000)
    assert (image.width, image.height) == (1200, 800)
    # a DNG whose crop is the whole sensor keeps its size
    full = read(reader, corpus / "photos/raw/canon_eos_6d.dng")
    assert (full.width, full.height) == (1224, 816)
    assert image_size(
        {"Composite:ImageSize": "100 50", "IFD0:DefaultCropSize": "300 20"}, FORMATS["dng"], 1
    ) == (100, 50)  # a crop larger than the image: ignored


# --- sizes of JPEGs whose pixels cannot be decoded -------------------------------------------


def test_undecodable_jpeg_keeps_its_header_size(tmp_path: Path, reader: ExifToolReader) -> None:
    import piexif

    good = make_jpeg(tmp_path / "ok.jpg", make="Canon")
    data = good.read_bytes()
    sos = data.index(b"\xff\xda")
    garbage = tmp_path / "garbage.jpg"  # frame header fine, scan data garbage
    garbage.write_bytes(data[: sos + 20] + b"\xff\x00" * 500 + b"\xff\xd9")
    meta = read(reader, garbage)
    assert (meta.width, meta.height) == (640, 480)
    # a frame header without a height: the size the camera wrote in EXIF
    exif = piexif.load(str(good))
    exif["Exif"][piexif.ExifIFD.PixelXDimension] = 640
    exif["Exif"][piexif.ExifIFD.PixelYDimension] = 480
    piexif.insert(piexif.dump(exif), str(good))
    data = bytearray(good.read_bytes())
    sof = data.index(b"\xff\xc0")
    data[sof + 5 : sof + 7] = b"\x00\x00"
    no_height = tmp_path / "no_height.jpg"
    no_height.write_bytes(bytes(data))
    meta = read(reader, no_height)
    assert (meta.width, meta.height, meta.make) == (640, 480, "Canon")


# --- sanity bounds -----------------------------------------------------------------------------


def test_implausible_values_are_dropped_with_one_warning(caplog: pytest.LogCaptureFixture) -> None:
    from imageserver.media.metadata.sanity import drop_implausible

    now = datetime(2026, 1, 1)
    broken = MediaMetadata(reader="exiftool", width=3024, height=15273920, duration=143166.0)
    broken.taken_at = datetime(2026, 1, 5)
    broken.taken_at_source = "EXIF:DateTimeOriginal"
    with caplog.at_level("WARNING", logger="imageserver.metadata"):
        meta = drop_implausible(broken, "x.heic", now=now)
    assert (meta.width, meta.height, meta.duration, meta.taken_at) == (None, None, None, None)
    assert meta.extra["implausible"]["height"] == 15273920
    lines = [r.getMessage() for r in caplog.records if "metadata_implausible" in r.getMessage()]
    assert len(lines) == 1 and "fields=width,height,duration,taken_at" in lines[0]
    week = MediaMetadata(reader="exiftool", width=60000, height=8000, duration=20 * 3600.0)
    week.taken_at = datetime(1839, 1, 1)
    assert drop_implausible(week, "ok.mp4", now=now) == week and "implausible" not in week.extra
    area = MediaMetadata(reader="exiftool", width=99000, height=99000)
    assert drop_implausible(area, "a.png", now=now).width is None  # area bound


def test_garbage_dates_fall_through_to_the_next_tag() -> None:
    rec = {
        "ExifIFD:DateTimeOriginal": "2099:01:01 00:00:00",
        "ExifIFD:CreateDate": "1801:01:01 00:00:00",
        "XMP-xmp:CreateDate": "2015:06:07 08:09:10",
    }
    assert taken_at(rec) == (datetime(2015, 6, 7, 8, 9, 10), None, "XMP:CreateDate")


def test_video_duration_bound() -> None:
    from imageserver.media.metadata.sanity import implausible

    meta = from_exiftool({"File:FileType": "MP4", "QuickTime:Duration": 143166.0}, MP4)
    assert isinstance(meta, MediaMetadata)
    assert implausible(meta) == {"duration": 143166.0}  # 39:46:06: a broken header
    meta.duration = 3 * 3600.0
    assert implausible(meta) == {}


def _png_claiming(path: Path, width: int, height: int) -> Path:
    """A small PNG whose IHDR (with a valid CRC) claims another size: header garbage."""
    import struct
    import zlib

    Image.new("RGB", (30, 20)).save(path)
    data = bytearray(path.read_bytes())
    at = data.index(b"IHDR")
    data[at + 4 : at + 12] = struct.pack(">II", width, height)
    data[at + 17 : at + 21] = struct.pack(">I", zlib.crc32(bytes(data[at : at + 17])))
    path.write_bytes(bytes(data))
    return path


def _mp4_lasting(path: Path, seconds: int) -> Path:
    """A one-second clip whose movie header (mvhd) claims `seconds`: what ffprobe and
    exiftool then report as the duration of the file."""
    import struct

    from tests.fixtures import make_video

    make_video(path, seconds=1.0, audio=False, size="64x48")
    data = bytearray(path.read_bytes())
    at = data.index(b"mvhd") + 16  # version/flags, creation, modification: then timescale
    (timescale,) = struct.unpack(">I", data[at : at + 4])
    data[at + 4 : at + 8] = struct.pack(">I", timescale * seconds)
    path.write_bytes(bytes(data))
    return path


def test_header_garbage_is_dropped_on_the_read_path(
    tmp_path: Path, reader: ExifToolReader, caplog: pytest.LogCaptureFixture
) -> None:
    """The reader itself (exiftool and ffprobe records, not a hand-made value) drops a
    3024x15273920 picture and a 39:46:06 clip, keeps the raw values and warns once each."""
    tall = _png_claiming(tmp_path / "tall.png", 3024, 15273920)
    long = _mp4_lasting(tmp_path / "long.mp4", 143166)
    with caplog.at_level("WARNING", logger="imageserver.metadata"):
        picture, clip = read(reader, tall), read(reader, long)
    assert (picture.width, picture.height) == (None, None)
    assert picture.extra["implausible"] == {"width": 3024, "height": 15273920}
    assert clip.duration is None and clip.extra["implausible"]["duration"] == 143166.0
    assert (clip.width, clip.height) == (64, 48)  # the rest of the record stays
    warned = [r.getMessage() for r in caplog.records if "metadata_implausible" in r.getMessage()]
    assert len(warned) == 2, warned
