"""Video that always plays: one small generated clip of each kind a household library holds
(camcorder, old camera, web and phone formats) is indexed once per database, and each ends
with a playlist that decodes with zero error lines when fetched through the HTTP stream URL,
as a player gets it (token in the URL, the bytes the route serves, not the file on disk).

The clips are made once per session (ffmpeg lavfi, 1-2 s, 160x120 where the format
allows); the library is indexed once per database; the checks are parametrized.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from imageserver.clock import FakeClock
from imageserver.db.tables import media
from imageserver.scan.watcher import Watcher
from imageserver.server.app import create_app
from imageserver.server.background import close_services
from imageserver.server.bootstrap import bootstrap
from imageserver.work import artefacts
from imageserver.work.artefacts import HLS_KIND
from tests.conftest import login, make_settings, world_database_url
from tests.fixtures import insert_library

SECONDS = 1.5
SMALL = f"testsrc2=size=160x120:rate=25:duration={SECONDS}"
TONE = f"sine=frequency=440:duration={SECONDS}"


@dataclass(frozen=True)
class Kind:
    name: str  # the file name in the library
    encode: str  # ffmpeg arguments after the inputs, separated by spaces
    mode: str  # the plan that must publish the playlist: copy or transcode
    inputs: tuple[str, ...] = (SMALL, TONE)


KINDS = [
    # B-frames in AVI: no pts; +genpts passes the copy, the verification rejects its
    # out-of-order timestamps, the re-encode publishes (before: a false "unsupported")
    Kind(
        "h264-bframes.avi",
        "-c:v libx264 -bf 2 -g 25 -pix_fmt yuv420p -c:a pcm_s16le",
        "transcode",
    ),
    # the same without B-frames: the copy with generated timestamps is clean and published
    Kind(
        "h264-ip.avi",
        "-c:v libx264 -bf 0 -g 25 -pix_fmt yuv420p -c:a pcm_s16le",
        "copy",
    ),
    Kind("mpeg4-part2.avi", "-c:v mpeg4 -q:v 5 -c:a mp2", "transcode"),
    Kind(
        "mjpeg.avi",
        "-c:v mjpeg -q:v 5 -pix_fmt yuvj420p -c:a pcm_s16le",
        "transcode",
    ),
    Kind("vp8.webm", "-c:v libvpx -b:v 300k -c:a libvorbis", "transcode"),
    Kind(
        "vp9.webm",
        "-c:v libvpx-vp9 -b:v 300k -deadline realtime -cpu-used 8 -c:a libopus",
        "transcode",
    ),
    Kind(
        "hevc.mp4",
        "-c:v libx265 -preset ultrafast -x265-params log-level=error"
        " -pix_fmt yuv420p -tag:v hvc1 -c:a aac",
        "transcode",
    ),
    Kind("prores.mov", "-c:v prores_ks -profile:v 2 -c:a pcm_s16le", "transcode"),
    # DV is PAL (720x576, 25 fps) or NTSC only, with 48 kHz stereo PCM
    Kind(
        "dv.avi",
        "-c:v dvvideo -pix_fmt yuv420p -c:a pcm_s16le -ac 2 -ar 48000",
        "transcode",
        (f"testsrc2=size=720x576:rate=25:duration={SECONDS}", TONE),
    ),
    # interlaced (top field first) MPEG-2: deinterlaced by the re-encode
    Kind(
        "mpeg2-interlaced.mpg",
        "-vf setfield=tff -c:v mpeg2video -flags +ilme+ildct -top 1 -b:v 1M -c:a mp2",
        "transcode",
        (f"testsrc2=size=320x240:rate=25:duration={SECONDS}", TONE),
    ),
    # variable frame rate (a phone slowing down: 30 fps, then 10 fps): copied, timestamps kept
    Kind(
        "vfr.mp4",
        "-vf setpts='if(lt(N,30),N/30,1+(N-30)/10)/TB' -fps_mode passthrough"
        " -c:v libx264 -pix_fmt yuv420p -g 15 -c:a aac",
        "copy",
        ("testsrc2=size=160x120:rate=30:duration=2", "sine=frequency=440:duration=2"),
    ),
    # HRD-signalled Constrained Baseline MP4 (SPS/PPS only in avcC, a buffering-period SEI
    # first in every keyframe): copied with its parameter sets made in-band per keyframe
    Kind(
        "baseline.mp4",
        "-c:v libx264 -pix_fmt yuv420p -profile:v baseline -maxrate 400k -bufsize 400k"
        " -x264-params nal-hrd=vbr:keyint=25:scenecut=0 -c:a aac",
        "copy",
    ),
]


def make_kind(folder: Path, kind: Kind) -> Path:
    inputs = [arg for source in kind.inputs for arg in ("-f", "lavfi", "-i", source)]
    out = folder / kind.name
    argv = [
        "ffmpeg",
        "-nostdin",
        "-y",
        "-v",
        "error",
        *inputs,
        *kind.encode.split(),
        "-shortest",
        str(out),
    ]
    subprocess.run(argv, check=True, timeout=120)
    return out


@pytest.fixture(scope="session")
def kind_sources(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("video-kinds")
    for kind in KINDS:
        make_kind(folder, kind)
    return folder


@dataclass
class Indexed:
    client: TestClient
    auth: dict[str, str]
    ids: dict[str, int]
    hashes: dict[str, str]
    modes: dict[str, str | None]


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def indexed(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    sqlite_template: Path,
    kind_sources: Path,
) -> Iterator[Indexed]:
    """The library of every kind, indexed until no video waits (module scope, read-only)."""
    tmp = tmp_path_factory.mktemp(f"kinds-{request.param}")
    url = world_database_url(request, tmp, sqlite_template)
    settings = make_settings(tmp, url, hls_preset="ultrafast", hls_segment_seconds=1)
    ctx = bootstrap(settings, clock=FakeClock()).ctx
    try:
        root = tmp / "lib"
        root.mkdir()
        for kind in KINDS:
            shutil.copy(kind_sources / kind.name, root / kind.name)
        insert_library(ctx.engine, "kinds", root)
        watcher = Watcher(ctx)
        results = watcher.tick(full=True)
        for _ in range(10):
            if not any(sum(t.pending.values()) for t in results):
                break
            results = watcher.tick(full=False)
        with ctx.engine.connect() as conn:
            rows = conn.execute(select(media.c.rel_path, media.c.id, media.c.content_hash)).all()
            hashes = {str(r[0]): str(r[2]) for r in rows}
            modes = {}
            for rel, digest in hashes.items():
                state = artefacts.get(conn, digest, HLS_KIND)
                modes[rel] = None if state is None else state["detail"]
        with TestClient(create_app(ctx, background=False)) as client:
            auth = {"Authorization": f"Bearer {login(client)}"}
            yield Indexed(client, auth, {str(r[0]): int(r[1]) for r in rows}, hashes, modes)
    finally:
        close_services(ctx)
        ctx.engine.dispose()


def uris(body: str) -> list[str]:
    return [line for line in body.splitlines() if line and not line.startswith("#")]


def decode_errors(path: Path) -> list[str]:
    run = subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", "-i", str(path), "-f", "null", "-"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    errors = [line for line in run.stderr.splitlines() if line.strip()]
    return errors + ([f"exit status {run.returncode}"] if run.returncode else [])


def duration_of(path: Path) -> float:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", str(path)],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return float(out.stdout.strip())


def fetch_playlist(client: TestClient, url: str, into: Path) -> list[Path]:
    """Download a media playlist and its segments over HTTP into `into`; the local copy
    names the downloaded files in the served order. A master: every variant, in order."""
    served = client.get(url)
    assert served.status_code == 200, served.text
    assert served.headers["content-type"].startswith("application/vnd.apple.mpegurl")
    if "#EXT-X-STREAM-INF" in served.text:
        playlists: list[Path] = []
        for index, variant in enumerate(uris(served.text)):
            playlists += fetch_playlist(client, variant, into / f"v{index}")
        return playlists
    into.mkdir(parents=True, exist_ok=True)
    lines = []
    for line in served.text.splitlines():
        if line and not line.startswith("#"):
            segment = client.get(line)
            assert segment.status_code == 200, (line, segment.text[:200])
            assert segment.headers["content-type"] == "video/mp2t"
            name = Path(urlparse(line).path).name
            (into / name).write_bytes(segment.content)
            line = name
        lines.append(line)
    playlist = into / "playlist.m3u8"
    playlist.write_text("\n".join(lines) + "\n")
    return [playlist]


@pytest.mark.parametrize("kind", KINDS, ids=[k.name for k in KINDS])
def test_every_kind_plays_through_the_stream_url(
    kind: Kind, indexed: Indexed, kind_sources: Path, tmp_path: Path
) -> None:
    client = indexed.client
    info = client.get(f"/video/{indexed.ids[kind.name]}", headers=indexed.auth).json()
    assert info["status"] == "ready", info  # never "unsupported", never still waiting
    assert indexed.modes[kind.name] == kind.mode
    # 160x120 is below every rung of the default ladder; DV's 720x576 gets a 360p rung
    playlists = fetch_playlist(client, info["playlist_url"], tmp_path / "served")
    assert len(playlists) == (2 if kind.name == "dv.avi" else 1)
    source = duration_of(kind_sources / kind.name)
    for playlist in playlists:
        assert decode_errors(playlist) == [], playlist
        first = playlist.parent / uris(playlist.read_text())[0]
        assert decode_errors(first) == []  # a player starts there: parameter sets in-band
        assert abs(duration_of(playlist) - source) <= 0.5, (duration_of(playlist), source)
    preview = client.get(info["preview_url"])
    assert preview.status_code == 200 and preview.headers["content-type"] == "video/mp4"
    (tmp_path / "preview.mp4").write_bytes(preview.content)
    assert decode_errors(tmp_path / "preview.mp4") == []
    count = "ffprobe -v error -select_streams v:0 -count_frames -show_entries"
    count += " stream=nb_read_frames -of csv=p=0"
    probe = subprocess.run(
        [*count.split(), str(tmp_path / "preview.mp4")],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert int(probe.stdout.strip()) > 0  # a preview with a video stream that decodes
