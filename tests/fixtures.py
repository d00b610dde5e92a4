"""Media files made on the spot (Pillow, piexif, ffmpeg lavfi), so core tests need no corpus."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import piexif
import sqlalchemy as sa
from PIL import Image
from sqlalchemy import Engine, select

from imageserver.db.tables import libraries, library_members, users


def _rational(value: float, denominator: int = 1_000_000) -> tuple[int, int]:
    return (round(value * denominator), denominator)


def _gps_dms(value: float) -> tuple[tuple[int, int], tuple[int, int], tuple[int, int]]:
    value = abs(value)
    degrees = int(value)
    minutes_float = (value - degrees) * 60
    minutes = int(minutes_float)
    seconds = (minutes_float - minutes) * 60
    return ((degrees, 1), (minutes, 1), _rational(seconds, 10_000))


def make_jpeg(
    path: Path,
    *,
    size: tuple[int, int] = (640, 480),
    color: tuple[int, int, int] = (200, 80, 40),
    taken: datetime | None = None,
    offset: str | None = None,
    make: str | None = None,
    model: str | None = None,
    orientation: int | None = None,
    gps: tuple[float, float] | None = None,
) -> Path:
    """A JPEG with optional EXIF; a gradient so thumbnails differ from a flat fill."""
    path.parent.mkdir(parents=True, exist_ok=True)
    image = Image.new("RGB", size, color)
    for x in range(0, size[0], max(1, size[0] // 16)):
        for y in range(size[1]):
            image.putpixel((x, y), (x % 256, y % 256, 128))
    zeroth: dict[int, object] = {}
    exif: dict[int, object] = {}
    gps_ifd: dict[int, object] = {}
    if make:
        zeroth[piexif.ImageIFD.Make] = make.encode()
    if model:
        zeroth[piexif.ImageIFD.Model] = model.encode()
    if orientation is not None:
        zeroth[piexif.ImageIFD.Orientation] = orientation
    if taken:
        exif[piexif.ExifIFD.DateTimeOriginal] = taken.strftime("%Y:%m:%d %H:%M:%S").encode()
    if offset:
        exif[piexif.ExifIFD.OffsetTimeOriginal] = offset.encode()
    if gps:
        lat, lon = gps
        gps_ifd[piexif.GPSIFD.GPSLatitudeRef] = b"N" if lat >= 0 else b"S"
        gps_ifd[piexif.GPSIFD.GPSLatitude] = _gps_dms(lat)
        gps_ifd[piexif.GPSIFD.GPSLongitudeRef] = b"E" if lon >= 0 else b"W"
        gps_ifd[piexif.GPSIFD.GPSLongitude] = _gps_dms(lon)
    exif_bytes = piexif.dump({"0th": zeroth, "Exif": exif, "GPS": gps_ifd})
    image.save(path, "JPEG", quality=85, exif=exif_bytes)
    return path


def make_png(path: Path, size: tuple[int, int] = (320, 200)) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGBA", size, (10, 200, 30, 255)).save(path, "PNG")
    return path


def make_video(
    path: Path,
    *,
    seconds: float = 2.0,
    size: str = "320x240",
    codec: str = "libx264",
    audio: bool = True,
    rotate: int | None = None,
    extra: list[str] | None = None,
) -> Path:
    """A short test-pattern video made by ffmpeg's lavfi sources."""
    ffmpeg = shutil.which("ffmpeg")
    assert ffmpeg, "ffmpeg is required (installed by ./imageserver.sh)"
    path.parent.mkdir(parents=True, exist_ok=True)
    argv = [
        ffmpeg,
        "-nostdin",
        "-y",
        "-loglevel",
        "error",
        "-f",
        "lavfi",
        "-i",
        f"testsrc2=size={size}:rate=25:duration={seconds}",
    ]
    if audio:
        argv += ["-f", "lavfi", "-i", f"sine=frequency=440:duration={seconds}"]
    argv += ["-c:v", codec, "-pix_fmt", "yuv420p"]
    if audio:
        argv += ["-c:a", "aac", "-shortest"]
    encoded = path if rotate is None else path.with_name(f".unrotated-{path.name}")
    argv += [*(extra or []), str(encoded)]
    subprocess.run(argv, check=True, timeout=120)
    if rotate is not None:
        # ffmpeg 5.1 writes the display matrix for a `rotate` tag only when stream-copying.
        remux = [
            ffmpeg,
            "-nostdin",
            "-y",
            "-loglevel",
            "error",
            "-i",
            str(encoded),
            "-c",
            "copy",
            "-metadata:s:v:0",
            f"rotate={rotate}",
            str(path),
        ]
        subprocess.run(remux, check=True, timeout=120)
        encoded.unlink()
    return path


def insert_library(engine: Engine, name: str, root: Path, library_id: int | None = None) -> int:
    """A library row written straight to the database: for roots the API would refuse or
    that must not be probed yet (a data folder's parent, a mount point not mounted).
    Granted to every admin, as a library an admin creates is."""
    values: dict[str, object] = {
        "name": name,
        "root_path": str(root),
        "enabled": True,
        "excluded_dirs": [],
        "created_at": 0.0,
        "updated_at": 0.0,
        "health": "unknown",
    }
    if library_id is not None:
        values["id"] = library_id
    with engine.begin() as conn:
        new_id = int(
            conn.execute(libraries.insert().values(**values).returning(libraries.c.id)).scalar_one()
        )
        admins = conn.execute(select(users.c.id).where(users.c.is_admin.is_(True))).all()
        for (user_id,) in admins:
            conn.execute(
                library_members.insert().values(library_id=new_id, user_id=user_id, created_at=0.0)
            )
    return new_id


# Debian's Chromium, as the browser tests and the web bench launch it.
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@contextmanager
def throwaway_pg_database(admin_url: str, prefix: str) -> Iterator[str]:
    """A new, empty PostgreSQL database on `admin_url`'s server, dropped afterwards (tests
    and bench both use it; reachability policy, skip or fail, is the caller's)."""
    from imageserver.db.engine import make_engine

    admin = make_engine(admin_url, isolation_level="AUTOCOMMIT", poolclass=sa.NullPool)
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield sa.engine.make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def sigkill_when_started(control: Any) -> None:
    """In a thread: SIGKILL the children of a run as soon as `control` (a RunControl)
    lists them, as a signal from outside the server would (within 5 s)."""

    def kill_it() -> None:
        deadline = time.monotonic() + 5
        while not control.pids and time.monotonic() < deadline:
            time.sleep(0.02)
        for pid in list(control.pids):
            os.kill(pid, signal.SIGKILL)

    threading.Thread(target=kill_it).start()
