"""Content sniffing decides the format, the extension only breaks ties or rescues."""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from imageserver.media.formats import classify, is_candidate, sniff
from tests.fixtures import make_jpeg, make_png, make_video


def test_wrong_and_missing_extensions(tmp_path: Path) -> None:
    jpeg_named_png = make_jpeg(tmp_path / "photo.png", size=(16, 16))
    no_ext = make_png(tmp_path / "IMG_0001", size=(8, 8))
    video_no_ext = make_video(tmp_path / "clip.mp4", seconds=0.5, audio=False)
    video_no_ext = video_no_ext.rename(tmp_path / "clip")
    webp = tmp_path / "pic.jpg"
    Image.new("RGB", (8, 8)).save(webp, "WEBP")
    assert classify(jpeg_named_png).format.name == "jpeg"  # type: ignore[union-attr]
    assert classify(no_ext).format.name == "png"  # type: ignore[union-attr]
    assert classify(video_no_ext).format.kind == "video"  # type: ignore[union-attr]
    assert classify(webp).format.name == "webp"  # type: ignore[union-attr]


def test_broken_content_falls_back_to_extension(tmp_path: Path) -> None:
    broken = tmp_path / "broken.heic"
    broken.write_bytes(b"\x00" * 16)
    found = classify(broken)
    assert found is not None and found.format.name == "heic" and not found.sniffed
    text = tmp_path / "readme"
    text.write_text("hello")
    assert classify(text) is None


def test_signatures() -> None:
    assert sniff(b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic").name == "heic"  # type: ignore[union-attr]
    assert sniff(b"\x00\x00\x00\x1cftypavif\x00\x00\x00\x00avifmif1").name == "avif"  # type: ignore[union-attr]
    assert sniff(b"\x00\x00\x00\x18ftypcrx \x00\x00\x00\x01crx isom").name == "cr3"  # type: ignore[union-attr]
    assert sniff(b"\x00\x00\x00\x14ftypqt  \x00\x00\x00\x00qt  ").name == "mov"  # type: ignore[union-attr]
    assert sniff(b"II*\x00\x10\x00\x00\x00CR\x02\x00").name == "cr2"  # type: ignore[union-attr]
    assert sniff(b"II*\x00\x08\x00\x00\x00", ".nef").name == "nef"  # type: ignore[union-attr]
    assert sniff(b"II*\x00\x08\x00\x00\x00", ".tif").name == "tiff"  # type: ignore[union-attr]
    assert sniff(b"FUJIFILMCCD-RAW 0201").name == "raf"  # type: ignore[union-attr]
    assert (
        sniff(
            b"\x1aE\xdf\xa3\x9fB\x86\x81\x01B\xf7\x81\x01B\xf2\x81\x04B\xf3\x81\x08B\x82\x84webm"
        ).name
        == "webm"
    )  # type: ignore[union-attr]
    ts = bytes([0x47] + [0] * 187) * 3
    assert sniff(ts).name == "mpegts"  # type: ignore[union-attr]
    assert sniff(b"hello world") is None


def test_candidates() -> None:
    assert is_candidate("a.jpg") and is_candidate("IMG_0001") and is_candidate("x.unknownext")
    assert not is_candidate(".hidden.jpg")
    assert not is_candidate("a.xmp") and not is_candidate("b.JSON") and not is_candidate("c.thm")
