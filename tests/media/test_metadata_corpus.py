"""The metadata reader against the shared corpus's MANIFEST.tsv ground truth, every file.

The manifest's `ground_truth` column names the tool behind each fact ("exiftool 12.57: ...",
"ffprobe 5.1: ...", "Pillow ...: decodes OK (HEIF 451x461 RGB)"). `parse_manifest` turns
it into Facts; the test compares make/model, DateTimeOriginal, orientation, GPS (1e-5),
displayed size, and for videos duration (0.05 s), codecs, frame rate, rotation and HDR
transfer. Where we knowingly report something else, ALLOWED below says what and why, and
the test then checks our value against that entry instead of skipping the fact.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import datetime
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest

from imageserver.media.formats import Format, classify
from imageserver.media.metadata import ExifToolReader, MediaMetadata, MetadataError, open_reader
from imageserver.media.metadata.jpeg import jpeg_record
from imageserver.media.metadata.reader import maker_note_may_date
from tests.conftest import require_corpus

pytestmark = pytest.mark.corpus

GPS_TOLERANCE = 1e-5
DURATION_TOLERANCE = 0.05

# (path, fact) -> (the value we report instead, why). Checked like any other fact.
ALLOWED: dict[tuple[str, str], tuple[Any, str]] = {
    # RAW: the manifest's "stored size" is exiftool's first ImageWidth/Height, the IFD0
    # preview strip (or the 8x8 placeholder JPEG of these stripped test files). A viewer
    # shows the developed raw image, so we report exiftool's Composite:ImageSize.
    ("photos/raw/CanonRaw.cr2", "size"): ((3456, 2304), "raw size (ExifImageWidth/Height)"),
    ("photos/raw/Nikon.nef", "size"): ((3040, 2014), "raw size (SubIFD1), not the preview"),
    ("photos/raw/canon_eos_6d.dng", "size"): ((1224, 816), "raw size = rawpy decode size"),
    ("photos/raw/Panasonic.rw2", "size"): ((3648, 2736), "raw sensor size, not the 8x8 JPEG"),
    ("photos/raw/FujiFilm.raf", "size"): ((4256, 1424), "RAF RawImageCroppedSize (SuperCCD)"),
    # The manifest's "Make/Model: none" is about EXIF; this PNG's XMP names the camera.
    ("faces/chelsea.png", "make"): ("PENTAX Corporation", "XMP tiff:Make (no EXIF block)"),
    ("faces/chelsea.png", "model"): ("PENTAX K100D Super", "XMP tiff:Model (no EXIF block)"),
    # GPS the manifest does not count because exiftool's Composite GPS reads EXIF only:
    ("photos/phones_cameras/FLIR_iPhone_device.jpg", "gps"): (
        (34.0754261592891, -118.254268165533),
        "recorded in the FLIR APP1 segment (same place as videos/FLIR_Thermal.mp4)",
    ),
    ("photos/phones_cameras/Nikon_D5000.jpg", "gps"): (
        (48.8887263666667, 21.0432511666667),
        "EXIF GPS lat/lon are empty; the XMP-exif block holds the position",
    ),
}


@dataclass
class Facts:
    path: str
    exif: dict[str, str] = field(default_factory=dict)  # "key=value" facts of exiftool
    exif_flags: set[str] = field(default_factory=set)  # "GPS: none", "has XMP", ...
    probe: dict[str, str] = field(default_factory=dict)  # "key=value" facts of ffprobe
    probe_flags: set[str] = field(default_factory=set)
    pillow_size: tuple[int, int] | None = None  # size Pillow(+pillow-heif) decoded

    @property
    def broken(self) -> bool:
        return self.path.startswith("broken/")


def _size(text: str) -> tuple[int, int]:
    width, height = re.findall(r"(\d+)x(\d+)", text)[0]
    return int(width), int(height)


def parse_ground_truth(path: str, text: str) -> Facts:
    facts = Facts(path)
    for section in text.split(" || "):
        tool, _, body = section.strip().partition(": ")
        if tool.startswith(("exiftool", "ffprobe")):
            pairs, flags = (
                (facts.exif, facts.exif_flags)
                if tool.startswith("exiftool")
                else (facts.probe, facts.probe_flags)
            )
            for fact in body.split("; "):
                key, eq, value = fact.partition("=")
                if eq and ":" not in key.replace("Keys:", "").replace("QuickTime:", "").replace(
                    "UserData:", ""
                ):
                    pairs[key.strip()] = value.strip()
                else:
                    flags.add(fact.strip())
        elif tool.startswith("Pillow"):
            decoded = re.search(r"(?:decodes OK|identifies as) \((?:\w+) (\d+x\d+)", body)
            if decoded is None:
                decoded = re.search(r"(?:decodes OK|identifies as) \w+ (\d+x\d+)", body)
            if decoded:
                facts.pillow_size = _size(decoded[1])
    return facts


def parse_manifest(manifest: Path) -> dict[str, Facts]:
    lines = manifest.read_text(encoding="utf-8").splitlines()
    header = lines[0].split("\t")
    assert header[0] == "path" and header[7].startswith("ground_truth"), header
    rows = (line.split("\t") for line in lines[1:] if line.strip())
    return {row[0]: parse_ground_truth(row[0], row[7]) for row in rows}


def test_parse_ground_truth_examples() -> None:
    photo = parse_ground_truth(
        "photos/x.jpg",
        "exiftool 12.57: Make=NIKON; Model=COOLPIX P6000; DateTimeOriginal=2008:10:22 16:28:39; "
        "other dates: CreateDate=2008:10:22 16:28:39, GPSTimeStamp=14:27:07.24; Orientation=6 "
        "(Rotate 90 CW); GPS=43.467448,11.885127; stored size=640x480, display size after "
        "orientation=480x640; FileType=JPEG || Pillow 13.0.0+pillow-heif 1.8.1: decodes OK "
        "(JPEG 640x480 RGB)",
    )
    assert photo.exif["Make"] == "NIKON" and photo.exif["Orientation"].startswith("6 ")
    assert photo.exif["GPS"] == "43.467448,11.885127" and photo.pillow_size == (640, 480)
    assert photo.exif["stored size"] == "640x480, display size after orientation=480x640"
    video = parse_ground_truth(
        "videos/y.mov",
        "ffprobe 5.1: container=mov; duration=0.107s; video=hevc Main 10 1280x720 pix_fmt=x; "
        "rotation=-90; r_frame_rate=30/1, avg_frame_rate=30/1; audio=aac || exiftool 12.57: "
        "Keys:CreationDate=2023:05:09 12:41:46+01:00; Keys:Make=Apple; GPS=51.533400,-0.125500",
    )
    assert video.probe["rotation"] == "-90" and video.probe["audio"] == "aac"
    assert video.exif["Keys:CreationDate"] == "2023:05:09 12:41:46+01:00"
    assert video.exif["Keys:Make"] == "Apple"


# --- expectations ----------------------------------------------------------------------------


def _date(text: str) -> datetime | None:
    try:
        return datetime.strptime(text[:19], "%Y:%m:%d %H:%M:%S")
    except ValueError:
        return None  # 0000:00:00 00:00:00


class Checker:
    """Collects every mismatch of one file instead of stopping at the first."""

    def __init__(self, facts: Facts, fmt: str, meta: MediaMetadata, counts: Counter[str]) -> None:
        self.facts, self.fmt, self.meta, self.counts = facts, fmt, meta, counts
        self.problems: list[str] = []

    def expect(self, fact: str, ours: Any, theirs: Any, ok: bool | None = None) -> None:
        allowed = ALLOWED.get((self.facts.path, fact))
        if allowed is not None:
            theirs = allowed[0]
            ok = None
        good = ours == theirs if ok is None else ok
        if isinstance(theirs, tuple) and allowed is not None and fact == "gps":
            good = _near(ours, theirs)
        self.counts[fact] += 1
        if not good:
            self.problems.append(f"{fact}: ours {ours!r} vs manifest {theirs!r}")


def _near(ours: Any, theirs: Any) -> bool:
    return (
        ours is not None
        and theirs is not None
        and all(abs(a - b) <= GPS_TOLERANCE for a, b in zip(ours, theirs, strict=True))
    )


def check_photo(c: Checker) -> None:
    facts, meta, exif = c.facts, c.meta, c.facts.exif
    if "Make/Model: none" in facts.exif_flags:
        c.expect("make", meta.make, None)
        c.expect("model", meta.model, None)
    for key in ("Make", "Model"):
        if key in exif:
            c.expect(
                key.lower(), getattr(meta, key.lower()), None if exif[key] == "None" else exif[key]
            )
    check_dates(c)
    if "Orientation" in exif:
        value = int(exif["Orientation"].split()[0])
        c.expect("orientation", meta.orientation, value if 1 <= value <= 8 else 1)
    elif "Orientation tag: absent" in facts.exif_flags:
        # no EXIF tag; an XMP tiff:Orientation of 1 may still be reported (same meaning)
        c.expect("orientation", meta.orientation, "None or 1", meta.orientation in (None, 1))
    check_gps(c)
    check_size(c)


def check_dates(c: Checker) -> None:
    exif, meta = c.facts.exif, c.meta
    if "DateTimeOriginal" in exif:
        expected = _date(exif["DateTimeOriginal"])
        if expected is None:  # invalid: must fall through to another tag (or none)
            c.expect(
                "taken_at",
                meta.taken_at_source,
                "not EXIF:DateTimeOriginal",
                meta.taken_at_source != "EXIF:DateTimeOriginal",
            )
        else:
            got = meta.taken_at.replace(microsecond=0) if meta.taken_at else None
            c.expect("taken_at", (got, meta.taken_at_source), (expected, "EXIF:DateTimeOriginal"))
    if "Keys:CreationDate" in exif:
        expected = _date(exif["Keys:CreationDate"])
        offset = exif["Keys:CreationDate"][19:]
        sign = -1 if offset.startswith("-") else 1
        minutes = sign * (int(offset[1:3]) * 60 + int(offset[4:6]))
        c.expect(
            "taken_at",
            (meta.taken_at, meta.taken_at_offset_min, meta.taken_at_source),
            (expected, minutes, "QuickTime:CreationDate"),
        )
    elif "QuickTime:CreateDate" in exif:
        # UTC by specification: taken (offset 0) only when no better tag exists; a zero
        # date never. Files with a better tag (UserData:DateTimeOriginal) use that one.
        expected = _date(exif["QuickTime:CreateDate"])
        if expected is None:
            c.expect(
                "taken_at",
                meta.taken_at_source,
                "not QuickTime:CreateDate",
                meta.taken_at_source != "QuickTime:CreateDate",
            )
        elif meta.taken_at_source == "QuickTime:CreateDate":
            c.expect("taken_at", (meta.taken_at, meta.taken_at_offset_min), (expected, 0))


def check_gps(c: Checker) -> None:
    facts, meta = c.facts, c.meta
    ours = (meta.latitude, meta.longitude) if meta.latitude is not None else None
    if "GPS" in facts.exif:
        theirs = tuple(float(v) for v in facts.exif["GPS"].split(","))
        if theirs == (0.0, 0.0):  # "Null Island": no position, the raw pair kept in extra
            rejected = meta.extra.get("gps_rejected") or {}
            kept = (rejected.get("latitude"), rejected.get("longitude"))
            c.expect("gps", (ours, kept), (None, theirs))
        else:
            c.expect("gps", ours, theirs, _near(ours, theirs))
    elif (
        "GPS: none" in facts.exif_flags
        or "GPS IFD present but no usable lat/lon" in facts.exif_flags
        or facts.probe  # a video whose exiftool facts name no position
    ):
        c.expect("gps", ours, None)


def check_size(c: Checker) -> None:
    facts, meta = c.facts, c.meta
    if c.fmt in ("heic", "avif") and facts.pillow_size:
        expected: tuple[int, int] | None = facts.pillow_size  # pillow-heif applies clap + irot
    elif "stored size" in facts.exif:
        stored = facts.exif["stored size"]
        expected = _size(stored.split("display size after orientation=")[-1])
    else:
        return
    c.expect("size", (meta.width, meta.height), expected)


def check_video(c: Checker) -> None:
    probe, meta = c.facts.probe, c.meta
    duration = float(probe["duration"].rstrip("s"))
    c.expect(
        "duration",
        meta.duration,
        duration,
        meta.duration is not None and abs(meta.duration - duration) <= DURATION_TOLERANCE,
    )
    video = probe["video"].split()
    c.expect("video_codec", meta.video_codec, video[0])
    rotation = int(probe.get("rotation", "0"))
    c.expect("rotation", meta.rotation, rotation)
    width, height = _size(probe["video"])
    expected = (height, width) if rotation % 180 == 90 else (width, height)
    c.expect("size", (meta.width, meta.height), expected)
    audio = probe.get("audio")
    c.expect("audio_codec", meta.audio_codec, None if audio in (None, "None") else audio)
    if audio == "None":  # an audio stream ffprobe cannot name a codec for
        c.expect("unknown_streams", meta.extra.get("unknown_streams"), ["audio"])
    rates = dict(part.strip().split("=") for part in probe["r_frame_rate"].split(",")[1:])
    avg = Fraction(rates["avg_frame_rate"])
    c.expect("fps", meta.fps, float(avg), meta.fps is not None and abs(meta.fps - avg) < 1e-3)
    if "color_transfer" in probe:
        c.expect("color_transfer", meta.extra.get("color_transfer"), probe["color_transfer"])
    for key in ("Keys:Make", "Keys:Model"):
        if key in c.facts.exif:
            c.expect(key[5:].lower(), getattr(meta, key[5:].lower()), c.facts.exif[key])
    check_dates(c)
    check_gps(c)


# --- the corpus run --------------------------------------------------------------------------


@dataclass
class CorpusRun:
    root: Path
    manifest: dict[str, Facts]
    formats: dict[str, Format]
    results: dict[str, MediaMetadata | MetadataError]


@pytest.fixture(scope="module")
def run() -> Iterator[CorpusRun]:
    root = require_corpus()
    manifest = parse_manifest(root / "MANIFEST.tsv")
    on_disk = {
        p.relative_to(root).as_posix()
        for p in root.rglob("*")
        if p.is_file() and p.name not in ("MANIFEST.tsv", "README.txt")
    }
    assert on_disk == set(manifest), "MANIFEST.tsv and the corpus folder disagree"
    formats: dict[str, Format] = {}
    for rel in sorted(manifest):
        found = classify(root / rel)
        assert found is not None, f"{rel} is not recognised as media"
        formats[rel] = found.format
    reader = open_reader()
    try:  # one call, all formats mixed, like a real chunk
        results = reader.read_many([(root / rel, fmt) for rel, fmt in formats.items()])
    finally:
        reader.close()
    yield CorpusRun(root, manifest, formats, dict(zip(formats, results, strict=True)))


def test_every_corpus_file_matches_the_manifest(run: CorpusRun) -> None:
    counts: Counter[str] = Counter()
    problems: dict[str, list[str]] = {}
    for rel, facts in sorted(run.manifest.items()):
        meta = run.results[rel]
        if isinstance(meta, MetadataError):
            if not facts.broken:
                problems[rel] = [f"MetadataError({meta.reason!r}) on a healthy file"]
            continue
        assert isinstance(meta, MediaMetadata), (rel, meta)
        checker = Checker(facts, run.formats[rel].name, meta, counts)
        if facts.probe:
            check_video(checker)
        else:
            check_photo(checker)
        counts["files"] += 1
        if checker.problems:
            problems[rel] = checker.problems
    assert not problems, "\n".join(f"{p}: {'; '.join(v)}" for p, v in problems.items())
    # the checks ran on the whole corpus, not on a silently empty subset
    assert counts["files"] >= 140
    assert counts["taken_at"] >= 60 and counts["gps"] >= 100 and counts["size"] >= 130
    assert counts["orientation"] >= 100 and counts["make"] >= 100
    assert counts["duration"] >= 25 and counts["rotation"] >= 25
    used = {key for key in ALLOWED if counts[key[1]]}
    assert used == set(ALLOWED)


def test_every_broken_file_yields_a_result(run: CorpusRun) -> None:
    broken = [rel for rel, facts in run.manifest.items() if facts.broken]
    assert len(broken) >= 20
    for rel in broken:
        result = run.results[rel]
        assert isinstance(result, MediaMetadata | MetadataError), rel
        if isinstance(result, MetadataError):
            assert result.reason.strip() and result.permanent, (rel, result)


def test_corrupt_header_reason(run: CorpusRun) -> None:
    assert repr(run.results["broken/corrupt-header.jpg"]) == (
        "MetadataError('exiftool: JPEG format error', permanent=True)"
    )


def test_fast_jpeg_path_agrees_with_exiftool(run: CorpusRun) -> None:
    """Every corpus JPEG the in-process path accepts gets exactly exiftool's answer."""
    jpegs = [rel for rel, fmt in run.formats.items() if fmt.name == "jpeg"]
    fast = [rel for rel in jpegs if jpeg_record(run.root / rel) is not None]
    assert len(fast) >= 40
    # ... except the dateless camera files exiftool reads again for their MakerNotes
    records = {rel: jpeg_record(run.root / rel) for rel in fast}
    again = {rel for rel, rec in records.items() if maker_note_may_date("jpeg", rec or {})}
    assert all(
        getattr(run.results[rel], "reader", None) == ("exiftool" if rel in again else "pillow")
        for rel in fast
    )
    fast = [rel for rel in fast if rel not in again]
    slow = ExifToolReader(fast_jpeg=False)
    try:
        reference = slow.read_many([(run.root / rel, run.formats[rel]) for rel in fast])
    finally:
        slow.close()
    for rel, theirs in zip(fast, reference, strict=True):
        ours = run.results[rel]
        assert isinstance(ours, MediaMetadata) and isinstance(theirs, MediaMetadata), rel
        mine = {**asdict(ours), "reader": None, "extra": None}
        assert mine == {**asdict(theirs), "reader": None, "extra": None}, rel
