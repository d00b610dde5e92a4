"""The real server (`imageserver serve`, a subprocess) killed with SIGKILL mid-work, then
restarted on the same data folder and database.

- During indexing (thumbnails being made, both databases): the restarted server resumes
  the work (the dead process' leases expire), ends with every file indexed once (no row
  lost, none doubled, the same ids), and no thumbnail on disk is ever a partial file.
- During a transcode: the dead server's ffmpeg output stays in its temporary folder and is
  never served; after the restart every answer for that video is "not made yet" or the
  complete playlist, whose segments all play to the end.

Leases are shortened (IMAGESERVER_LEASE_SECONDS=3) so a restart takes over quickly.
"""

from __future__ import annotations

import os
import signal
import socket
import struct
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from PIL import Image

from imageserver.db.engine import make_engine
from imageserver.db.tables import artefacts, media
from imageserver.video import layout
from tests.conftest import ADMIN_PASSWORD, fresh_pg_database
from tests.fixtures import make_jpeg, make_video
from tests.video.helpers import read_back, temp_entries

pytestmark = pytest.mark.slow

PHOTOS = 60


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def unique_jpegs(base: Path, folder: Path, count: int) -> list[str]:
    """`count` distinct files from one JPEG: a comment segment makes each hash unique."""
    data = base.read_bytes()
    names = []
    for i in range(count):
        payload = f"copy {i}".encode()
        comment = b"\xff\xfe" + struct.pack(">H", len(payload) + 2) + payload
        rel = f"d{i % 4}/img{i:03d}.jpg"
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_bytes(data[:2] + comment + data[2:])
        names.append(rel)
    return names


class Server:
    def __init__(self, tmp: Path, root: Path, url: str, **env: str) -> None:
        self.tmp, self.root, self.url = tmp, root, url
        self.data = tmp / "data"
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("IMAGESERVER_")}
        self.env.update(
            IMAGESERVER_DATA_DIR=str(self.data),
            IMAGESERVER_DATABASE_URL=url,
            IMAGESERVER_LIBRARIES=f"lib={root}",
            IMAGESERVER_ADMIN_PASSWORD=ADMIN_PASSWORD,
            IMAGESERVER_HOST="127.0.0.1",
            IMAGESERVER_PORT=str(self.port),
            IMAGESERVER_FACES_ENABLED="false",
            IMAGESERVER_LEASE_SECONDS="3",
            IMAGESERVER_WATCH_QUICK_INTERVAL_SECONDS="1",
            IMAGESERVER_LOG_LEVEL="info",
            **env,
        )
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self) -> None:
        self.starts += 1
        log = (self.tmp / f"server-{self.starts}.log").open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "imageserver.server.cli", "serve"],
            env=self.env,
            cwd=self.tmp,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.log_tail()
            try:
                if httpx.get(f"{self.base}/health", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise AssertionError("server did not start: " + self.log_tail())

    def kill(self) -> None:
        assert self.proc is not None and self.proc.poll() is None, "died before the kill"
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=30)
        assert self.proc.returncode == -signal.SIGKILL

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def log_tail(self) -> str:
        logs = sorted(self.tmp.glob("server-*.log"))
        return logs[-1].read_text(errors="replace")[-3000:] if logs else ""

    def auth(self) -> dict[str, str]:
        response = httpx.post(
            f"{self.base}/auth/login",
            json={"username": "admin", "password": ADMIN_PASSWORD},
            timeout=30,
        )
        assert response.status_code == 200, response.text
        return {"Authorization": f"Bearer {response.json()['access_token']}"}


@contextmanager
def running(server: Server) -> Iterator[Server]:
    try:
        yield server
    finally:
        server.stop()


def wait_for(predicate: Callable[[], bool], timeout: float, what: str, server: Server) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}\n{server.log_tail()}")


def thumbnails_on_disk(server: Server) -> list[Path]:
    return sorted((server.data / "thumbs").glob("*/*.webp"))


def assert_every_thumbnail_is_whole(server: Server) -> None:
    for path in thumbnails_on_disk(server):
        with Image.open(path) as image:
            image.load()  # a truncated file raises here


def db_state(url: str) -> tuple[dict[str, tuple[int, str | None]], dict[str, str]]:
    """rel_path -> (id, hash) of every row, and thumbnail status per hash."""
    engine = make_engine(url, poolclass=sa.NullPool)
    try:
        with engine.connect() as conn:
            rows = {r.rel_path: (r.id, r.content_hash) for r in conn.execute(sa.select(media))}
            thumbs = {
                r.content_hash: r.status
                for r in conn.execute(sa.select(artefacts).where(artefacts.c.kind == "thumb"))
            }
    finally:
        engine.dispose()
    return rows, thumbs


@pytest.fixture(params=["sqlite", "postgres"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'imageserver.db'}"
        return
    with fresh_pg_database("imageserver_crash") as url:
        yield url


def test_sigkill_during_indexing_resumes_after_restart(tmp_path: Path, database: str) -> None:
    root = tmp_path / "lib"
    base = make_jpeg(tmp_path / "base.jpg", size=(2400, 1800))
    names = unique_jpegs(base, root, PHOTOS)
    server = Server(tmp_path, root, database, IMAGESERVER_WORKER_THREADS="1")
    with running(server):
        server.start()
        wait_for(
            lambda: len(thumbnails_on_disk(server)) >= 2 * 8,  # large + small per photo
            120,
            "the first thumbnails",
            server,
        )
        server.kill()
        made_before = len(thumbnails_on_disk(server)) // 2
        assert made_before < PHOTOS, "indexing finished before the kill: not a test"
        assert_every_thumbnail_is_whole(server)
        rows_at_kill, _ = db_state(database)
        assert sorted(rows_at_kill) == sorted(names), "rows are written before any drain"

        server.start()

        def all_done() -> bool:
            rows, thumbs = db_state(database)
            return len(rows) == PHOTOS and all(
                h is not None and thumbs.get(h) == "done" for _, h in rows.values()
            )

        wait_for(all_done, 180, "the restarted server to finish indexing", server)
        rows, _ = db_state(database)
        assert rows.keys() == rows_at_kill.keys()
        assert {k: v[0] for k, v in rows.items()} == {k: v[0] for k, v in rows_at_kill.items()}
        assert len({h for _, h in rows.values()}) == PHOTOS
        assert_every_thumbnail_is_whole(server)
        auth = server.auth()
        listing = httpx.get(
            f"{server.base}/media", headers=auth, params={"limit": 1000}, timeout=30
        ).json()
        assert len(listing["items"]) == PHOTOS
        for item in listing["items"][:10]:
            thumb = httpx.get(f"{server.base}/media/{item['id']}/thumbnail", headers=auth)
            assert thumb.status_code == 200
            assert thumb.content[:4] == b"RIFF" and thumb.content[8:12] == b"WEBP"


def playlist_answers(server: Server, auth: dict[str, str], digest: str) -> tuple[int, str]:
    response = httpx.get(
        f"{server.base}/video/stream/{digest}/playlist.m3u8", headers=auth, timeout=30
    )
    return response.status_code, response.text


def assert_whole_or_absent(server: Server, auth: dict[str, str], digest: str) -> bool:
    """True once the playlist is served; it must then be complete, every segment there."""
    status, text = playlist_answers(server, auth, digest)
    if status in (404, 422):
        return False
    assert status == 200, text
    playlists = [text]
    if "#EXT-X-STREAM-INF" in text:  # the ladder's master: every variant must be whole
        uris = [line for line in text.splitlines() if line and not line.startswith("#")]
        playlists = [httpx.get(f"{server.base}{u}", headers=auth, timeout=30).text for u in uris]
    for media_playlist in playlists:
        assert media_playlist.startswith("#EXTM3U"), media_playlist
        assert "#EXT-X-ENDLIST" in media_playlist, media_playlist
        uris = [line for line in media_playlist.splitlines() if line and not line.startswith("#")]
        for uri in uris:
            segment = httpx.get(f"{server.base}{uri}", headers=auth, timeout=30)
            assert segment.status_code == 200 and segment.content[:1] == b"\x47", uri
    return True


def ffmpeg_processes(video_root: Path) -> list[int]:
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            argv = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if (
            argv
            and argv[0].endswith(b"ffmpeg")
            and any(str(video_root).encode() in a for a in argv)
        ):
            found.append(int(proc.name))
    return found


def test_sigkill_during_a_transcode_never_serves_a_partial_playlist(
    tmp_path: Path, sqlite_url: str
) -> None:
    root = tmp_path / "lib"
    make_video(root / "long.mkv", seconds=20, size="1280x720", codec="mpeg4", audio=False)
    server = Server(tmp_path, root, sqlite_url, IMAGESERVER_HLS_PRESET="medium")
    video_root = server.data / "video"
    with running(server):
        server.start()
        auth = server.auth()

        def transcoding() -> bool:
            return any(p.glob("seg_*.ts") for p in temp_entries(video_root) if p.is_dir())

        wait_for(transcoding, 120, "ffmpeg to write its first segments", server)
        rows, _ = db_state(sqlite_url)
        digest = str(rows["long.mkv"][1])
        assert not assert_whole_or_absent(server, auth, digest), "served while transcoding"
        server.kill()
        # the dead server's output never reached the served layout
        assert not layout.playlist_path(video_root, digest).exists()
        assert temp_entries(video_root), "the partial output is still in its temp folder"
        orphans = ffmpeg_processes(video_root)

        server.start()
        auth = server.auth()
        deadline = time.monotonic() + 240
        while not assert_whole_or_absent(server, auth, digest):
            assert time.monotonic() < deadline, (
                "no playlist after the restart\n" + server.log_tail()
            )
            time.sleep(0.5)
        back = read_back(layout.hash_dir(video_root, digest))
        assert back.decode_errors == [] and abs(back.duration - 20) < 1, back
        for pid in orphans:  # an orphaned ffmpeg of the dead server is gone by now
            assert not Path(f"/proc/{pid}").exists() or pid not in ffmpeg_processes(video_root)
        assert temp_entries(video_root) == []
