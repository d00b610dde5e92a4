"""The adaptive-bitrate ladder: rungs below the main rendition only, a master whose
BANDWIDTH / RESOLUTION / CODECS agree with ffprobe on the segments, served over HTTP at the
same playlist URL with every variant, and every variant decoding without an error line."""

from __future__ import annotations

import subprocess
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from imageserver.db.tables import media
from imageserver.scan.watcher import Watcher
from imageserver.video import jobs, ladder, layout
from imageserver.video.plan import (
    HlsOptions,
    SourceInfo,
    TranscodePlan,
    ladder_heights,
    parse_ladder,
    plan_hls,
)
from imageserver.work.context import AppContext
from tests.fixtures import make_video
from tests.scan.test_watcher import add_library
from tests.video.helpers import ffprobe_json

OPTS = HlsOptions(preset="ultrafast", segment_seconds=1, ladder=(240, 360, 720))
H1 = "f6" + "0" * 62


def test_ladder_rule_never_upscales() -> None:
    assert parse_ladder("720, 360,360,1080") == (360, 720, 1080) and parse_ladder("") == ()
    options = HlsOptions(ladder=(360, 720, 1080))
    hd = SourceInfo("h264", "yuv420p", 1920, 1080, audio_codec="aac")
    assert ladder_heights(hd, plan_hls(hd, options), options) == [720, 360]
    uhd = SourceInfo("h264", "yuv420p", 3840, 2160)  # copied whole: 1080 is a rung too
    assert ladder_heights(uhd, plan_hls(uhd, options), options) == [1080, 720, 360]
    hevc_uhd = SourceInfo("hevc", "yuv420p", 3840, 2160)  # re-encoded to 1080: not again
    assert ladder_heights(hevc_uhd, plan_hls(hevc_uhd, options), options) == [720, 360]
    portrait = SourceInfo("h264", "yuv420p", 720, 1280)
    assert ladder_heights(portrait, plan_hls(portrait, options), options) == [360]
    small = SourceInfo("h264", "yuv420p", 640, 360)
    assert ladder_heights(small, plan_hls(small, options), options) == []
    unknown = TranscodePlan(copy_video=False, audio="none")
    assert ladder_heights(SourceInfo("vp9"), unknown, options) == []


def test_bandwidth_is_the_peak_without_the_short_tail(tmp_path: Path) -> None:
    (tmp_path / "p.m3u8").write_text(
        "#EXTM3U\n#EXTINF:2.0,\nseg_00000.ts\n#EXTINF:2.0,\nseg_00001.ts\n"
        "#EXTINF:0.1,\nseg_00002.ts\n#EXT-X-ENDLIST\n"
    )
    for name, size in (("seg_00000.ts", 1000), ("seg_00001.ts", 3000), ("seg_00002.ts", 400)):
        (tmp_path / name).write_bytes(b"\x47" * size)
    peak, average = ladder.bandwidths(tmp_path, "p.m3u8")
    assert peak == 12000 and average == round(4400 * 8 / 4.1)


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("ladder")
    src = make_video(d / "src" / "vga.mp4", seconds=2, size="640x480", extra=["-g", "25"])
    root = d / "video"
    result = jobs.run_job(jobs.Job(H1, src, "lib", src.name), root, OPTS, 120)
    assert result.hls is not None and result.hls.status == "done" and result.mode == "copy"
    return layout.hash_dir(root, H1)


def stream_inf(master: str) -> dict[str, dict[str, str]]:
    """{uri: attributes} of a master playlist."""
    lines = master.splitlines()
    out = {}
    for i, line in enumerate(lines):
        if line.startswith("#EXT-X-STREAM-INF:"):
            attrs = {}
            body = line.split(":", 1)[1]
            for part in body.replace('"', "").split(","):
                if "=" in part:
                    key, value = part.split("=", 1)
                    attrs[key] = value
                else:  # the comma inside CODECS
                    attrs["CODECS"] += "," + part
            out[lines[i + 1]] = attrs
    return out


def test_master_lists_the_copy_and_the_smaller_rungs(made: Path) -> None:
    master = (made / layout.MASTER).read_text()
    variants = stream_inf(master)
    assert list(variants) == [layout.MAIN, "v360.m3u8", "v240.m3u8"]  # no 720: above source
    assert not (made / "v720.m3u8").exists()
    for uri, attrs in variants.items():
        playlist = made / (layout.PLAYLIST if uri == layout.MAIN else uri)
        text = playlist.read_text()
        segments = [x for x in text.splitlines() if x and not x.startswith("#")]
        probed = ffprobe_json(made / segments[0])
        video = next(s for s in probed["streams"] if s["codec_type"] == "video")  # type: ignore[attr-defined]
        assert attrs["RESOLUTION"] == f"{video['width']}x{video['height']}"
        avc, aac = attrs["CODECS"].split(",")
        profile = {"High": 0x64, "Main": 0x4D, "Constrained Baseline": 0x42}[video["profile"]]
        assert avc.startswith(f"avc1.{profile:02x}") and int(avc[-2:], 16) == video["level"]
        assert aac == "mp4a.40.2"
        total = sum((made / s).stat().st_size for s in segments)
        duration = float(ffprobe_json(playlist)["format"]["duration"])  # type: ignore[index]
        assert int(attrs["BANDWIDTH"]) >= int(attrs["AVERAGE-BANDWIDTH"])
        assert abs(int(attrs["AVERAGE-BANDWIDTH"]) - total * 8 / duration) < 0.1 * total * 8
        errors = subprocess.run(
            ["ffmpeg", "-nostdin", "-v", "error", "-i", str(playlist), "-f", "null", "-"],
            capture_output=True,
            text=True,
            timeout=60,
        ).stderr
        assert errors.strip() == "", (uri, errors[:300])
    sizes = [v["RESOLUTION"] for v in variants.values()]
    assert sizes == ["640x480", "480x360", "320x240"]


@pytest.fixture
def ladder_lib(client: TestClient, auth: dict[str, str], ctx: AppContext, tmp_path: Path) -> str:
    root = tmp_path / "lib"
    make_video(root / "vga.mp4", seconds=1, size="640x480")
    add_library(client, auth, root)
    ctx.settings.hls_ladder = "240"
    ctx.settings.hls_preset = "ultrafast"
    Watcher(ctx).tick(full=True)
    with ctx.engine.connect() as conn:
        row = conn.execute(select(media.c.id)).first()
    assert row is not None
    return str(row[0])


def test_the_master_is_served_at_the_playlist_url_with_tokens(
    client: TestClient, auth: dict[str, str], ladder_lib: str
) -> None:
    info = client.get(f"/video/{ladder_lib}", headers=auth).json()
    assert info["status"] == "ready", info
    token = parse_qs(urlparse(info["playlist_url"]).query)["token"][0]
    master = client.get(info["playlist_url"])
    assert master.status_code == 200 and "#EXT-X-STREAM-INF" in master.text
    uris = [x for x in master.text.splitlines() if x and not x.startswith("#")]
    base = f"/video/stream/{info['content_hash']}/"
    assert [urlparse(u).path for u in uris] == [base + layout.MAIN, base + "v240.m3u8"]
    for uri in uris:
        assert parse_qs(urlparse(uri).query)["token"] == [token]
        variant = client.get(uri)  # no header: the token carries over to variants
        assert variant.status_code == 200, variant.text
        assert variant.headers["content-type"].startswith("application/vnd.apple.mpegurl")
        segments = [x for x in variant.text.splitlines() if x and not x.startswith("#")]
        seg = client.get(segments[0])
        assert seg.status_code == 200 and seg.content[0] == 0x47
    assert client.get(base + "v999.m3u8", params={"token": token}).status_code == 404
    assert client.get(base + "master.m3u8", params={"token": token}).status_code == 404
    assert client.get(base + "v240.m3u8").status_code == 401
