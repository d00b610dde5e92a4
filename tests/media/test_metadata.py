"""The metadata reader: pure parsing of exiftool records, and the reader end to end on files
made on the spot (piexif JPEGs, ffmpeg lavfi videos, hand-built motion photos)."""

from __future__ import annotations

import json
import shutil
import struct
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import asdict
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from imageserver.media.exiftool import MESSAGES_KEY, ExifToolFailure
from imageserver.media.formats import FORMATS, classify
from imageserver.media.metadata import ExifToolReader, MediaMetadata, MetadataError, open_reader
from imageserver.media.metadata.dates import parse_datetime, parse_offset, taken_at
from imageserver.media.metadata.exif import from_exiftool, image_size, orientation
from imageserver.media.metadata.gps import gps
from imageserver.media.metadata.jpeg import jpeg_record
from imageserver.media.metadata.motion import ReadAt, motion_from_xmp, samsung_trailer
from imageserver.media.metadata.record import fit_columns
from imageserver.media.metadata.video import merge_video, with_video
from imageserver.media.probe import VideoInfo
from tests.conftest import skip_outside_ci
from tests.fixtures import make_jpeg, make_png, make_video

JPEG, HEIC, CR2, MP4 = FORMATS["jpeg"], FORMATS["heic"], FORMATS["cr2"], FORMATS["mp4"]
HAS_TOOLS = all(shutil.which(t) for t in ("exiftool", "ffmpeg", "ffprobe"))
FFMPEG_COPY = ["ffmpeg", "-nostdin", "-v", "error", "-y", "-i"]

# --- dates -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2020:05:04 18:39:11", (datetime(2020, 5, 4, 18, 39, 11), None)),
        ("2020:05:04 18:39:11.644-04:00", (datetime(2020, 5, 4, 18, 39, 11, 644000), -240)),
        ("2005:12:17 22:03:32Z", (datetime(2005, 12, 17, 22, 3, 32), 0)),
        ("2011-03-12T15:36:11.00+0100", (datetime(2011, 3, 12, 15, 36, 11), 60)),
        ("2003:08:31", (datetime(2003, 8, 31), None)),
        ("2019:07:24 11:25:40+03:00", (datetime(2019, 7, 24, 11, 25, 40), 180)),
        ("0000:00:00 00:00:00", None),
        ("    :  :     :  :  ", None),
        ("2021:02:30 10:00:00", None),
        ("1904:01:01 00:00:00", None),
        ("1970:01:01 00:00:00", None),
        ("1970:01:01 00:00:01", (datetime(1970, 1, 1, 0, 0, 1), None)),
        ("1600:01:01 00:00:00", None),
        ("", None),
        (None, None),
        (20200504, None),
    ],
)
def test_parse_datetime(text: Any, expected: Any) -> None:
    assert parse_datetime(text) == expected


@pytest.mark.parametrize(
    ("text", "minutes"),
    [("+05:30", 330), ("-0400", -240), ("Z", 0), ("+00:00", 0), ("+25:00", None), ("x", None)],
)
def test_parse_offset(text: str, minutes: int | None) -> None:
    assert parse_offset(text) == minutes


def test_exif_original_with_offset_and_subseconds() -> None:
    rec = {
        "ExifIFD:DateTimeOriginal": "2022:02:16 12:55:41",
        "ExifIFD:OffsetTimeOriginal": "+01:00",
        "ExifIFD:SubSecTimeOriginal": 762,
        "ExifIFD:CreateDate": "2022:02:16 12:55:40",
        "QuickTime:CreateDate": "2022:02:16 11:55:41",
    }
    assert taken_at(rec) == (
        datetime(2022, 2, 16, 12, 55, 41, 762000),
        60,
        "EXIF:DateTimeOriginal",
    )


def test_subseconds_keep_leading_zeros() -> None:
    rec = {"ExifIFD:DateTimeOriginal": "2021:04:11 15:47:53", "ExifIFD:SubSecTimeOriginal": "054"}
    when = taken_at(rec)
    assert when is not None and when[0].microsecond == 54000


def test_invalid_original_falls_through_to_digitized() -> None:
    rec = {
        "ExifIFD:DateTimeOriginal": "0000:00:00 00:00:00",
        "ExifIFD:CreateDate": "2009:09:14 11:08:06",
        "ExifIFD:OffsetTimeDigitized": "-03:00",
    }
    assert taken_at(rec) == (datetime(2009, 9, 14, 11, 8, 6), -180, "EXIF:CreateDate")


def test_video_prefers_keys_creation_date_over_utc_create_date() -> None:
    rec = {
        "QuickTime:CreateDate": "2019:07:24 08:25:57",
        "Keys:CreationDate": "2019:07:24 11:25:40+03:00",
    }
    assert taken_at(rec) == (datetime(2019, 7, 24, 11, 25, 40), 180, "QuickTime:CreationDate")


def test_quicktime_create_date_is_utc() -> None:
    rec = {"QuickTime:CreateDate": "2017:02:22 08:20:28"}
    assert taken_at(rec) == (datetime(2017, 2, 22, 8, 20, 28), 0, "QuickTime:CreateDate")


def test_offset_borrowed_from_a_tag_with_the_same_wall_clock() -> None:
    rec = {
        "ExifIFD:DateTimeOriginal": "2008:03:15 09:52:01",
        "XMP-exif:DateTimeOriginal": "2008:03:15 09:52:01-04:00",
    }
    assert taken_at(rec) == (datetime(2008, 3, 15, 9, 52, 1), -240, "EXIF:DateTimeOriginal")
    other = {
        "ExifIFD:DateTimeOriginal": "2008:03:15 09:52:01",
        "XMP-xmp:CreateDate": "2008:03:16 09:52:01+09:00",  # another moment: no borrowing
        "QuickTime:CreateDate": "2008:03:15 09:52:01",  # UTC by rule, not a stated offset
    }
    assert taken_at(other) == (datetime(2008, 3, 15, 9, 52, 1), None, "EXIF:DateTimeOriginal")


def test_other_sources_in_order() -> None:
    assert taken_at({"IPTC:DateCreated": "2010:05:10", "IPTC:TimeCreated": "10:04:01-05:00"}) == (
        datetime(2010, 5, 10, 10, 4, 1),
        -300,
        "IPTC:DateCreated",
    )
    rec = {
        "XMP-xmp:CreateDate": "2005:12:17 22:03:32Z",
        "XMP-photoshop:DateCreated": "2003:08:31",
    }
    assert taken_at(rec) == (datetime(2003, 8, 31), None, "XMP:DateCreated")
    flir = {"FLIR:DateTimeOriginal": "2021:05:16 12:27:36.107-07:00"}
    assert taken_at(flir) == (
        datetime(2021, 5, 16, 12, 27, 36, 107000),
        -420,
        "FLIR:DateTimeOriginal",
    )
    assert taken_at({"IFD0:ModifyDate": "2020:01:01 00:00:00"}) is None


# --- GPS, orientation, size ------------------------------------------------------------------


def test_gps_exif_refs_and_altitude_below_sea_level() -> None:
    rec = {
        "GPS:GPSLatitude": Decimal("0.3713"),
        "GPS:GPSLatitudeRef": "S",
        "GPS:GPSLongitude": 122.337333333333,
        "GPS:GPSLongitudeRef": "W",
        "GPS:GPSAltitude": 12.5,
        "GPS:GPSAltitudeRef": 1,
    }
    assert gps(rec) == (-0.3713, -122.337333333333, -12.5)


def test_gps_sources() -> None:
    # Null Island is no position (tests/media/test_metadata_sweep.py)
    assert gps({"GPS:GPSLatitude": 0, "GPS:GPSLatitudeRef": "N", "GPS:GPSLongitude": 0}) is None
    xmp = {"GPS:GPSLatitude": "", "XMP-exif:GPSLatitude": 48.9, "XMP-exif:GPSLongitude": -2}
    assert gps(xmp) == (48.9, -2.0, None)
    assert gps({"Keys:GPSCoordinates": "51.5334 -0.1255 26.756"}) == (51.5334, -0.1255, 26.756)
    assert gps({"UserData:GPSCoordinates": "40.68 -74.5"}) == (40.68, -74.5, None)
    loci = "(none) Role=shooting Lat=40.67999 Lon=-74.50000 Alt=0.00 Body=earth Notes="
    assert gps({"UserData:LocationInformation": loci}) == (40.67999, -74.5, 0.0)
    assert gps({"GPS:GPSLatitude": 95, "GPS:GPSLongitude": 10}) is None
    assert gps({"GPS:GPSLatitudeRef": "N"}) is None


@pytest.mark.parametrize(
    ("rec", "expected"),
    [
        ({"IFD0:Orientation": 6}, 6),
        ({"IFD0:Orientation": 0}, 1),
        ({"IFD0:Orientation": 9}, 1),
        ({"IFD1:Orientation": 8}, None),  # the thumbnail's, not the image's
        ({"XMP-tiff:Orientation": 3}, 3),
        ({}, None),
    ],
)
def test_orientation(rec: dict[str, Any], expected: int | None) -> None:
    assert orientation(rec) == expected


def test_image_size_rules() -> None:
    jpeg = {"File:ImageWidth": 3264, "File:ImageHeight": 2448, "IFD0:ImageWidth": 1}
    assert image_size(jpeg, JPEG, 6) == (2448, 3264)
    assert image_size(jpeg, JPEG, 3) == (3264, 2448)
    heic = {
        "File:ImageWidth": 452,
        "File:ImageHeight": 462,
        "QuickTime:CleanAperture": "451 461 -0.5 -0.5",
        "QuickTime:Rotation": 270,
    }
    assert image_size(heic, HEIC, 6) == (461, 451)  # irot decides, EXIF 6 is not applied again
    assert image_size({**heic, "QuickTime:Rotation": 180}, HEIC, 6) == (451, 461)
    raw = {"IFD0:ImageWidth": 1536, "IFD0:ImageHeight": 1024, "Composite:ImageSize": "3456 2304"}
    assert image_size(raw, CR2, 1) == (3456, 2304)
    assert image_size({"PNG:ImageWidth": 10, "PNG:ImageHeight": 20}, FORMATS["png"], None) == (
        10,
        20,
    )
    assert image_size({"File:ImageWidth": 0, "File:ImageHeight": 5}, JPEG, None) is None


# --- exiftool record -> MediaMetadata --------------------------------------------------------


def test_from_exiftool_camera_jpeg() -> None:
    rec = {
        "File:FileType": "JPEG",
        "File:ImageWidth": 640,
        "File:ImageHeight": 480,
        "IFD0:Make": "NIKON ",
        "IFD0:Model": "COOLPIX P6000",
        "IFD0:Orientation": 1,
        "ExifIFD:ISO": 64,
        "ExifIFD:FNumber": Decimal("5.9"),
        "ExifIFD:ExposureTime": Decimal("0.01333333333"),
        "ExifIFD:FocalLength": 24,
        "ExifIFD:LensModel": "",
        "Canon:LensModel": "EF-S18-55mm",
        "ExifIFD:DateTimeOriginal": "2008:10:22 16:28:39",
        "GPS:GPSLatitude": Decimal("43.4674483333333"),
        "GPS:GPSLatitudeRef": "N",
        "GPS:GPSLongitude": Decimal("11.8851266666639"),
        "GPS:GPSLongitudeRef": "E",
        "ExifTool:Warning": "[minor] Bad PreviewIFD directory",
    }
    meta = from_exiftool(rec, JPEG)
    assert isinstance(meta, MediaMetadata)
    assert (meta.make, meta.model, meta.lens) == ("NIKON", "COOLPIX P6000", "EF-S18-55mm")
    assert (meta.iso, meta.f_number, meta.exposure_time, meta.focal_length) == (
        64,
        5.9,
        0.01333333333,
        24.0,
    )
    assert (meta.width, meta.height, meta.orientation) == (640, 480, 1)
    assert meta.latitude == pytest.approx(43.4674483333333)
    assert meta.taken_at == datetime(2008, 10, 22, 16, 28, 39)
    assert meta.extra == {"exiftool_warning": "[minor] Bad PreviewIFD directory"}
    json.dumps(asdict(meta), default=str)  # the drain writes these straight into columns


def test_from_exiftool_keeps_bogus_values_as_text() -> None:
    rec = {"IFD0:Make": 456, "IFD0:Model": Decimal("1.50"), "File:ImageWidth": 1}
    rec["File:ImageHeight"] = 1
    meta = from_exiftool(rec, JPEG)
    assert isinstance(meta, MediaMetadata) and (meta.make, meta.model) == ("456", "1.50")


def test_from_exiftool_errors() -> None:
    assert repr(from_exiftool({"ExifTool:Error": "File format error"}, JPEG)) == (
        "MetadataError('exiftool: File format error', permanent=True)"
    )
    nothing = from_exiftool(
        {"File:FileType": "JPEG", "ExifTool:Warning": "JPEG format error"}, JPEG
    )
    assert isinstance(nothing, MetadataError) and nothing.reason == "exiftool: JPEG format error"
    major = from_exiftool(
        {"ExifTool:Warning": "[minor] Skipped 2 bytes", MESSAGES_KEY: ["Warning: Bad SOF"]},
        JPEG,
    )
    assert isinstance(major, MetadataError) and major.reason == "exiftool: Bad SOF"
    minor = from_exiftool({"File:FileType": "JPEG", "ExifTool:Warning": "[minor] Odd"}, JPEG)
    assert isinstance(minor, MetadataError)
    assert minor.reason == "exiftool: no image information in JPEG file ([minor] Odd)"
    empty = from_exiftool({}, JPEG)
    assert isinstance(empty, MetadataError) and empty.reason == "exiftool: no metadata found"
    # a video exiftool says nothing about is still ffprobe's to judge
    assert isinstance(from_exiftool({}, MP4), MediaMetadata)


def test_with_video_swaps_quarter_turns_and_flags_hdr() -> None:
    base = MediaMetadata(reader="exiftool", make="Apple", duration=4.1)
    info = VideoInfo(
        duration=4.002,
        video_codec="hevc",
        audio_codec="aac",
        fps=29.97,
        width=1920,
        height=1080,
        rotation=-90,
        pix_fmt="yuv420p10le",
        color_transfer="arib-std-b67",
    )
    merged = with_video(base, info)
    assert (merged.width, merged.height, merged.rotation) == (1080, 1920, -90)
    assert (merged.duration, merged.make, merged.video_codec) == (4.002, "Apple", "hevc")
    assert merged.extra["hdr"] is True and merged.extra["color_transfer"] == "arib-std-b67"
    assert base.extra == {}  # not mutated
    flipped = with_video(None, VideoInfo(width=1920, height=1080, rotation=-180))
    assert (flipped.width, flipped.height, flipped.extra["hdr"]) == (1920, 1080, False)


def test_merge_video_outcomes() -> None:
    meta = MediaMetadata(reader="exiftool", duration=2.0)
    broken = MetadataError("ffprobe: moov atom not found")
    kept = merge_video(meta, broken)
    assert isinstance(kept, MediaMetadata) and kept.extra["probe_error"] == broken.reason
    assert merge_video(MediaMetadata(reader="exiftool"), broken) is broken
    transient = MetadataError("exiftool: timed out after 20s", permanent=False)
    assert merge_video(transient, VideoInfo(video_codec="h264")) is transient
    merged = merge_video(MetadataError("exiftool: no metadata found"), VideoInfo(duration=1))
    assert isinstance(merged, MediaMetadata)
    assert merged.extra["exiftool_error"] == "exiftool: no metadata found"


# --- motion photos (pure) --------------------------------------------------------------------

FAKE_MP4 = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + b"\x00" * 40


def samsung_tail(name: bytes, payload: bytes, before: int) -> bytes:
    """A Samsung SEFT trailer holding one block, for a file of `before` bytes so far."""
    block = b"\x00\x00\x30\x0a" + struct.pack("<I", len(name)) + name + payload
    noff = len(block)
    entry = b"\x00\x00\x30\x0a" + struct.pack("<II", noff, len(block))
    sefh = b"SEFH" + struct.pack("<II", 106, 1) + entry
    return block + sefh + struct.pack("<I", len(sefh)) + b"SEFT"


def reader_of(data: bytes) -> ReadAt:
    return lambda offset, length: data[offset : offset + length]


def test_samsung_trailer() -> None:
    head = b"\xff\xd8" + b"x" * 100 + b"\xff\xd9"
    data = head + samsung_tail(b"MotionPhoto_Data", FAKE_MP4, len(head))
    offset, length = samsung_trailer(reader_of(data), len(data)) or (0, 0)
    assert data[offset : offset + length] == FAKE_MP4
    other = head + samsung_tail(b"Image_UTC_Data", b"1600000000000", len(head))
    assert samsung_trailer(reader_of(other), len(other)) is None
    assert samsung_trailer(reader_of(head), len(head)) is None
    corrupt = data[:-12] + struct.pack("<I", 10**6) + b"\x00\x00\x00\x00SEFT"[-8:]
    assert samsung_trailer(reader_of(corrupt), len(corrupt)) is None


def test_motion_from_xmp() -> None:
    assert motion_from_xmp({"XMP-GCamera:MicroVideoOffset": 300}, 1000) == (700, 300, "MicroVideo")
    directory = [
        {"Item": {"Mime": "image/jpeg", "Semantic": "Primary", "Length": 0, "Padding": 8}},
        {"Item": {"Mime": "video/mp4", "Semantic": "MotionPhoto", "Length": 300}},
    ]
    assert motion_from_xmp({"XMP-Container:Directory": directory}, 1000) == (
        700,
        300,
        "MotionPhoto",
    )
    with_depth = [
        directory[0],
        {"Item": {"Semantic": "MotionPhoto", "Length": 300, "Padding": 4}},
        {"Item": {"Semantic": "Depth", "Length": 100}},
    ]
    assert motion_from_xmp({"XMP-Container:Directory": with_depth}, 1000) == (
        596,
        300,
        "MotionPhoto",
    )
    assert motion_from_xmp({"XMP-Container:Directory": directory[:1]}, 1000) is None
    assert motion_from_xmp({"XMP-GCamera:MicroVideoOffset": 5000}, 1000) is None


# --- the reader end to end -------------------------------------------------------------------


@pytest.fixture(scope="module")
def reader() -> Iterator[ExifToolReader]:
    if not HAS_TOOLS:
        skip_outside_ci("exiftool/ffmpeg not installed")
    opened = open_reader()
    yield opened
    opened.close()


@pytest.fixture(scope="module")
def slow_reader() -> Iterator[ExifToolReader]:
    """exiftool for every JPEG too: the fast path must give the same answers."""
    if not HAS_TOOLS:
        skip_outside_ci("exiftool/ffmpeg not installed")
    opened = ExifToolReader(fast_jpeg=False)
    yield opened
    opened.close()


def _item(path: Path) -> tuple[Path, Any]:
    found = classify(path)
    assert found is not None
    return path, found.format


def test_camera_jpeg_both_paths(
    tmp_path: Path, reader: ExifToolReader, slow_reader: ExifToolReader
) -> None:
    path = make_jpeg(
        tmp_path / "cam.jpg",
        size=(64, 48),
        taken=datetime(2021, 7, 4, 9, 15, 30),
        offset="-05:00",
        make="Canon ",
        model="Canon EOS 5D",
        orientation=6,
        gps=(-33.856784, 151.215297),
    )
    fast, slow = reader.read_many([_item(path)])[0], slow_reader.read_many([_item(path)])[0]
    assert isinstance(fast, MediaMetadata) and isinstance(slow, MediaMetadata)
    assert (fast.reader, slow.reader) == ("pillow", "exiftool")
    expected = {
        "taken_at": datetime(2021, 7, 4, 9, 15, 30),
        "taken_at_offset_min": -300,
        "taken_at_source": "EXIF:DateTimeOriginal",
        "make": "Canon",
        "model": "Canon EOS 5D",
        "orientation": 6,
        "width": 48,
        "height": 64,
    }
    for meta in (fast, slow):
        assert {k: getattr(meta, k) for k in expected} == expected
        assert meta.latitude == pytest.approx(-33.856784, abs=1e-5)
        assert meta.longitude == pytest.approx(151.215297, abs=1e-5)
    assert {**asdict(fast), "reader": "", "extra": {}} == {
        **asdict(slow),
        "reader": "",
        "extra": {},
    }


def test_jpeg_record_declines_what_it_cannot_vouch_for(tmp_path: Path) -> None:
    plain = make_jpeg(tmp_path / "plain.jpg", size=(8, 8), model="M")
    record = jpeg_record(plain)
    assert record is not None and record["IFD0:Model"] == "M"
    data = plain.read_bytes()
    xmp = b"http://ns.adobe.com/xap/1.0/\x00<x:xmpmeta xmlns:x='adobe:ns:meta/'/>"
    with_xmp = tmp_path / "xmp.jpg"
    with_xmp.write_bytes(data[:2] + b"\xff\xe1" + struct.pack(">H", len(xmp) + 2) + xmp + data[2:])
    assert jpeg_record(with_xmp) is None
    assert jpeg_record(make_png(tmp_path / "p.png")) is None
    (tmp_path / "bad.jpg").write_bytes(b"\xff\xd8\xff\xe0garbage")
    assert jpeg_record(tmp_path / "bad.jpg") is None


def test_mixed_batch_keeps_order_and_never_raises(tmp_path: Path, reader: ExifToolReader) -> None:
    jpeg = make_jpeg(tmp_path / "a.jpg", size=(40, 30))
    png = make_png(tmp_path / "b.png", size=(20, 10))
    video = make_video(tmp_path / "c.mp4", seconds=1.0, size="320x240")
    garbage = tmp_path / "d.jpg"
    garbage.write_bytes(b"\xff\xd8\xff" + b"\x00" * 100)
    missing = tmp_path / "gone.jpg"
    items = [
        _item(jpeg),
        _item(png),
        _item(video),
        (garbage, JPEG),
        (missing, JPEG),
        (missing, MP4),
    ]
    results = reader.read_many(items)
    assert len(results) == len(items)
    a, b, c, d, gone, gone_video = results
    assert isinstance(a, MediaMetadata) and (a.width, a.height) == (40, 30)
    assert isinstance(b, MediaMetadata) and (b.width, b.height) == (20, 10)
    assert isinstance(c, MediaMetadata)
    assert (c.video_codec, c.audio_codec, c.width, c.height, c.rotation) == (
        "h264",
        "aac",
        320,
        240,
        0,
    )
    assert c.duration == pytest.approx(1.0, abs=0.1) and c.fps == pytest.approx(25.0)
    assert c.extra["pix_fmt"] == "yuv420p" and c.extra["hdr"] is False
    assert c.orientation is None
    assert isinstance(d, MetadataError) and d.permanent and d.reason.startswith("exiftool: ")
    assert isinstance(gone, MetadataError) and not gone.permanent
    assert isinstance(gone_video, MetadataError) and not gone_video.permanent
    assert reader.read_many([]) == []


def test_rotated_and_broken_videos(tmp_path: Path, reader: ExifToolReader) -> None:
    src = make_video(tmp_path / "src.mp4", seconds=1.0, size="320x240", audio=False)
    rotated = tmp_path / "rot.mov"
    subprocess.run(
        [*FFMPEG_COPY, str(src), "-c", "copy", "-metadata:s:v:0", "rotate=90", str(rotated)],
        check=True,
        timeout=60,
    )
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(src.read_bytes()[: src.stat().st_size // 2])
    rot, broken = reader.read_many([_item(rotated), (cut, MP4)])
    assert isinstance(rot, MediaMetadata) and rot.rotation in (90, -90)
    assert (rot.width, rot.height, rot.audio_codec) == (240, 320, None)
    assert isinstance(broken, MetadataError) and broken.permanent
    assert broken.reason == "ffprobe: moov atom not found"


def _xmp_segment(xml: str) -> bytes:
    payload = b"http://ns.adobe.com/xap/1.0/\x00" + xml.encode()
    return b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload


def _rdf(attrs: str, body: str = "") -> str:
    return (
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
        'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description rdf:about="" '
        'xmlns:GCamera="http://ns.google.com/photos/1.0/camera/" '
        'xmlns:Container="http://ns.google.com/photos/1.0/container/" '
        f'xmlns:Item="http://ns.google.com/photos/1.0/container/item/" {attrs}>{body}'
        "</rdf:Description></rdf:RDF></x:xmpmeta>"
    )


def test_motion_photos(tmp_path: Path, reader: ExifToolReader) -> None:
    still = make_jpeg(tmp_path / "still.jpg", size=(64, 48)).read_bytes()
    video = make_video(tmp_path / "clip.mp4", seconds=0.4, size="64x48", audio=False).read_bytes()
    container = _rdf(
        'GCamera:MotionPhoto="1" GCamera:MotionPhotoVersion="1"',
        "<Container:Directory><rdf:Seq>"
        '<rdf:li rdf:parseType="Resource"><Container:Item Item:Mime="image/jpeg" '
        'Item:Semantic="Primary" Item:Length="0" Item:Padding="0"/></rdf:li>'
        '<rdf:li rdf:parseType="Resource"><Container:Item Item:Mime="video/mp4" '
        f'Item:Semantic="MotionPhoto" Item:Length="{len(video)}"/></rdf:li>'
        "</rdf:Seq></Container:Directory>",
    )
    micro = _rdf(f'GCamera:MicroVideo="1" GCamera:MicroVideoOffset="{len(video)}"')
    files = {
        "google.jpg": still[:2] + _xmp_segment(container) + still[2:] + video,
        "micro.jpg": still[:2] + _xmp_segment(micro) + still[2:] + video,
        "samsung.jpg": still + samsung_tail(b"MotionPhoto_Data", video, len(still)),
        "wrong-offset.jpg": still[:2] + _xmp_segment(micro) + still[2:] + video[:-10],
    }
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    results = reader.read_many([(tmp_path / name, JPEG) for name in files])
    found = dict(zip(files, results, strict=True))
    for name, kind in (("google.jpg", "MotionPhoto"), ("micro.jpg", "MicroVideo")):
        meta = found[name]
        assert isinstance(meta, MediaMetadata) and meta.extra["motion_photo"] == kind
        assert meta.motion_offset is not None and meta.motion_length is not None
        data = files[name]
        assert data[meta.motion_offset : meta.motion_offset + meta.motion_length] == video
    samsung = found["samsung.jpg"]
    assert isinstance(samsung, MediaMetadata) and samsung.reader == "pillow"
    assert samsung.extra["motion_photo"] == "Samsung"
    start = samsung.motion_offset or 0
    assert files["samsung.jpg"][start : start + (samsung.motion_length or 0)] == video
    wrong = found["wrong-offset.jpg"]  # an announced offset that is not an MP4 is not trusted
    assert isinstance(wrong, MediaMetadata) and wrong.motion_offset is None
    plain = reader.read_many([(tmp_path / "still.jpg", JPEG)])[0]
    assert isinstance(plain, MediaMetadata) and plain.motion_offset is None


def test_concurrent_callers(tmp_path: Path, reader: ExifToolReader) -> None:
    paths = [make_jpeg(tmp_path / f"{i}.jpg", size=(16 + i, 16), model=f"M{i}") for i in range(12)]
    pngs = [make_png(tmp_path / f"{i}.png", size=(10 + i, 10)) for i in range(6)]
    outcome: dict[int, list[Any]] = {}

    def work(k: int) -> None:
        batch = [_item(p) for p in paths[k * 3 : k * 3 + 3]] + [_item(pngs[k])]
        outcome[k] = [getattr(r, "width", r) for r in reader.read_many(batch)]

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert outcome == {k: [16 + k * 3, 17 + k * 3, 18 + k * 3, 10 + k] for k in range(4)}


def test_exiftool_failure_becomes_metadata_error(tmp_path: Path) -> None:
    class Broken:
        processes = 1

        def read(self, paths: list[Path], options: Any = ()) -> list[Any]:
            return [ExifToolFailure("exiftool: timed out after 20s", permanent=False)] * len(paths)

        def close(self) -> None:
            return None

    opened = ExifToolReader(Broken(), fast_jpeg=False)  # type: ignore[arg-type]
    try:
        [result] = opened.read_many([(tmp_path / "x.png", FORMATS["png"])])
    finally:
        opened.close()
    assert isinstance(result, MetadataError) and not result.permanent


def test_values_fit_the_media_columns() -> None:
    meta = fit_columns(
        MediaMetadata(reader="exiftool", make="M" * 300, width=2**32, height=5, iso=-1)
    )
    assert meta.make == "M" * 255 and (meta.width, meta.height, meta.iso) == (None, 5, None)
    assert MetadataError("exiftool: bad\x00name").reason == "exiftool: badname"


def test_closed_reader_answers_transiently(tmp_path: Path) -> None:
    opened = open_reader()
    opened.close()
    [result] = opened.read_many([(tmp_path / "x.jpg", JPEG)])
    assert isinstance(result, MetadataError) and not result.permanent
