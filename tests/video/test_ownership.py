"""The server deletes only what it provably made in VIDEO_PATH, and refuses placements that
would make it write into (or index) the wrong folder."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from imageserver.clock import FakeClock
from imageserver.libraries import repo as libraries_repo
from imageserver.server.background import close_services
from imageserver.server.bootstrap import StartupRefused, bootstrap
from imageserver.video import generator, housekeeping, orphans, ownership
from tests.conftest import make_settings

SERVER_ORPHAN = "5e" + "0" * 62
OPERATOR_HASH = "c0" + "f" * 62


def operator_files(video_path: Path) -> dict[str, bytes]:
    """What an operator keeps in the folder they point VIDEO_PATH at."""
    files = {
        "my_recording.ts": b"ts bytes",
        "my_playlist.m3u8": b"#EXTM3U\n",
        "ab/notes.txt": b"a 2-hex folder of the operator's",
        f"c0/{OPERATOR_HASH}/playlist.m3u8": b"#EXTM3U\n",  # a 64-hex folder in a shard
        f"{OPERATOR_HASH}/seg_00000.ts": b"x",  # a 64-hex folder at the top
        f"ab/.tmp-{SERVER_ORPHAN}-junk": b"an operator's dot file in a 2-hex folder",
    }
    for rel, data in files.items():
        path = video_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        past = time.time() - 7 * 24 * 3600
        os.utime(path, (past, past))
        os.utime(path.parent, (past, past))
    (video_path / "ee").mkdir()  # an empty 2-hex folder
    return files


def snapshot(video_path: Path, rels: dict[str, bytes]) -> dict[str, bytes]:
    return {rel: (video_path / rel).read_bytes() for rel in rels if (video_path / rel).exists()}


@pytest.mark.parametrize("db", ["sqlite"])
def test_operator_files_in_video_path_survive_every_start_and_cleanup(
    tmp_path: Path, sqlite_url: str, db: str
) -> None:
    video_path = tmp_path / "operator-videos"
    files = operator_files(video_path)
    settings = make_settings(tmp_path, sqlite_url, video_path=video_path)
    for start in range(2):
        ctx = bootstrap(settings, clock=FakeClock()).ctx
        try:
            ctx.video_startup_done = False
            housekeeping.startup_once(ctx)
            # a hash folder the server made for a file that is gone: the one thing to remove
            staging = generator.make_staging(video_path, SERVER_ORPHAN)
            (staging / "playlist.m3u8").write_text("#EXTM3U\n")
            final = generator.publish(staging, SERVER_ORPHAN, video_path)
            past = time.time() - 3600
            os.utime(final, (past, past))
            result = orphans.cleanup_cycle(ctx.engine, video_path)
        finally:
            close_services(ctx)
            ctx.engine.dispose()
        assert result.skipped is None, start
        assert result.removed == [SERVER_ORPHAN], start
        assert not final.exists()
        assert snapshot(video_path, files) == files, start
        assert (video_path / "ee").is_dir()
    assert (video_path / ownership.MARKER).is_file()


def test_the_marker_is_made_once_and_never_overwritten(tmp_path: Path) -> None:
    first = ownership.claim(tmp_path / "v")
    assert ownership.claim(tmp_path / "v") == first
    assert (tmp_path / "v" / ownership.MARKER).stat().st_mode & 0o777 == 0o600
    other = tmp_path / "w"
    other.mkdir()
    (other / ownership.MARKER).write_text("an operator's file of that name\n")
    with pytest.raises(OSError):
        ownership.claim(other)
    assert (other / ownership.MARKER).read_text() == "an operator's file of that name\n"


# --- placement refused at start ---------------------------------------------------------------


def refused(settings_kwargs: dict[str, object], tmp_path: Path, sqlite_url: str) -> str:
    settings = make_settings(tmp_path, sqlite_url, **settings_kwargs)
    with pytest.raises(StartupRefused) as caught:
        bootstrap(settings)
    message = str(caught.value.code)
    assert "\n" not in message and message.startswith("refusing to start:")
    return message


@pytest.mark.parametrize("db", ["sqlite"])
def test_video_path_inside_a_seeded_library_is_refused(
    tmp_path: Path, sqlite_url: str, db: str
) -> None:
    library = tmp_path / "photos"
    library.mkdir()
    message = refused(
        {"video_path": library / "hls", "libraries": f"family={library}"}, tmp_path, sqlite_url
    )
    assert "IMAGESERVER_VIDEO_PATH" in message and "'family'" in message
    assert not (library / "hls").exists()  # nothing written into the library


@pytest.mark.parametrize("db", ["sqlite"])
def test_a_library_inside_video_path_or_the_data_folder_is_refused(
    tmp_path: Path, sqlite_url: str, db: str
) -> None:
    video = tmp_path / "videos"
    (video / "inner").mkdir(parents=True)
    message = refused(
        {"video_path": video, "libraries": f"inner={video / 'inner'}"}, tmp_path, sqlite_url
    )
    assert "library 'inner'" in message and "IMAGESERVER_VIDEO_PATH" in message

    # a library already in the database, then the data folder moved around it
    ctx = bootstrap(make_settings(tmp_path, sqlite_url)).ctx
    (tmp_path / "elsewhere" / "pics").mkdir(parents=True)
    with ctx.engine.begin() as conn:
        libraries_repo.create(conn, "pics", str(tmp_path / "elsewhere" / "pics"), True, [], 0.0)
    ctx.engine.dispose()
    message = refused({"data_dir": tmp_path / "elsewhere"}, tmp_path, sqlite_url)
    assert "library 'pics'" in message and "IMAGESERVER_DATA_DIR" in message
