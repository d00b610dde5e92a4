"""A real server for browser tests: a library from corpus files, indexed, then `imageserver
serve` in a subprocess with its background loops running (quick ticks every 0.5 s).

Indexing runs in-process first (Watcher.tick until every backlog is empty: hashes,
metadata, thumbnails, HLS, embeddings, faces), so the tests start from a browsable
library; the server process then runs exactly what `./imageserver.sh serve` runs.
Also usable by hand: `python -m tests.web.harness` serves the same library until Ctrl-C.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from imageserver.config import Settings
from imageserver.ml.encoders import close_encoder
from imageserver.scan.watcher import Watcher
from imageserver.server.background import close_services
from imageserver.server.bootstrap import bootstrap

ADMIN_PASSWORD = "correct horse battery"
JWT_SECRET = "web-test-secret-" + "x" * 32

# Library "family": camera JPEGs, GPS photos, a HEIC, three people's faces, a 10 s H.264
# video, a video ffmpeg cannot read. Library "archive": other photos (disabled by a test)
# plus one copy of a family photo (a duplicate group).
FAMILY = {
    "photos/exif_cameras/Canon_40D.jpg": "2008/canon/Canon_40D.jpg",
    "photos/exif_cameras/Nikon_D70.jpg": "2008/nikon/Nikon_D70.jpg",
    "photos/exif_cameras/Pentax_K10D.jpg": "2008/Pentax_K10D.jpg",
    "photos/gps/DSCN0010.jpg": "trips/DSCN0010.jpg",
    "photos/gps/DSCN0021.jpg": "trips/DSCN0021.jpg",
    "photos/heic/IMG_5195.HEIC": "phone/IMG_5195.HEIC",
    "faces/obama.jpg": "people/obama.jpg",
    "faces/obama-240p.jpg": "people/obama-240p.jpg",
    "faces/biden.jpg": "people/biden.jpg",
    "faces/obama_and_biden.jpg": "people/obama_and_biden.jpg",
    "videos/short_hamilton_clip.mp4": "videos/short_hamilton_clip.mp4",
    "broken/invalid-bitstream.webm": "videos/invalid-bitstream.webm",
}
ARCHIVE = {
    "photos/exif_cameras/Fujifilm_FinePix_E500.jpg": "scans/Fujifilm_FinePix_E500.jpg",
    "photos/exif_cameras/Kodak_CX7530.jpg": "scans/Kodak_CX7530.jpg",
    "photos/exif_edge/BlueSquare.jpg": "scans/BlueSquare.jpg",
    "photos/gps/DSCN0042.jpg": "trips/DSCN0042.jpg",
}
DUPLICATE = ("photos/gps/DSCN0010.jpg", "copies/DSCN0010-copy.jpg")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def copy_files(corpus: Path, root: Path, files: dict[str, str]) -> None:
    for src, dest in files.items():
        target = root / dest
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(corpus / src, target)


def build_libraries(corpus: Path, base: Path) -> dict[str, Path]:
    family, archive = base / "family", base / "archive"
    copy_files(corpus, family, FAMILY)
    copy_files(corpus, archive, {**ARCHIVE, DUPLICATE[0]: DUPLICATE[1]})
    return {"family": family, "archive": archive}


def server_env(settings: dict[str, Any]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("IMAGESERVER_")}
    for key, value in settings.items():
        text = str(value).lower() if isinstance(value, bool) else str(value)
        env[f"IMAGESERVER_{key.upper()}"] = text
    return env


@dataclass
class WebServer:
    url: str
    data_dir: Path
    roots: dict[str, Path]
    process: subprocess.Popen[bytes] | None = None
    log: Path | None = None
    values: dict[str, Any] = field(default_factory=dict)

    def token(self) -> str:
        response = httpx.post(
            f"{self.url}/auth/login", json={"username": "admin", "password": ADMIN_PASSWORD}
        )
        response.raise_for_status()
        token: str = response.json()["access_token"]
        return token

    def api(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.token()}"}
        return httpx.request(method, f"{self.url}{path}", headers=headers, timeout=30, **kwargs)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)


def index(values: dict[str, Any], max_ticks: int = 30) -> None:
    """Tick in-process until no drain reports a backlog."""
    settings = Settings(_env_file=None, **{**values, "run_background": False})
    ctx = bootstrap(settings).ctx
    try:
        watcher = Watcher(ctx)
        results = watcher.tick(full=True)
        for _ in range(max_ticks):
            if not any(sum(t.pending.values()) for t in results):
                break
            results = watcher.tick(full=False)
    finally:
        close_encoder(ctx)
        close_services(ctx)
        ctx.engine.dispose()


def start_server(
    base: Path, corpus: Path, clip_model: Path | None, port: int | None = None
) -> WebServer:
    roots = build_libraries(corpus, base / "libraries")
    data_dir = base / "data"
    values: dict[str, Any] = {
        "data_dir": data_dir,
        "admin_password": ADMIN_PASSWORD,
        "jwt_secret": JWT_SECRET,
        "libraries": ",".join(f"{name}={root}" for name, root in roots.items()),
        "faces_enabled": True,
        "hls_preset": "ultrafast",
        "hls_ladder": "240",  # the 640x360 clip gets a 240p rung: the quality menu shows
        "watch_quick_interval_seconds": 0.5,
        "log_level": "warning",
    }
    if clip_model is not None:
        values["clip_model_path"] = clip_model
    index({**values, "libraries": [{"name": n, "root_path": r} for n, r in roots.items()]})
    port = port or free_port()
    values.update(host="127.0.0.1", port=port, run_background=True)
    values.pop("libraries")
    log = base / "server.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "imageserver.server.cli", "serve"],
            cwd=base,
            env=server_env(values),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    server = WebServer(f"http://127.0.0.1:{port}", data_dir, roots, process, log, values)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited ({process.returncode}):\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(f"{server.url}/health", timeout=1).status_code == 200:
                return server
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    server.stop()
    raise RuntimeError(f"server did not answer in 60 s:\n{log.read_text()[-3000:]}")


def main() -> None:  # pragma: no cover - a developer convenience
    import argparse
    import tempfile

    from tests.conftest import CORPUS
    from tests.ml.tiny_clip import build_tiny_clip

    parser = argparse.ArgumentParser(description="serve the browser tests' library")
    parser.add_argument("--port", type=int, default=8765)
    args = parser.parse_args()
    base = Path(tempfile.mkdtemp(prefix="imageserver-web-"))
    model = build_tiny_clip(base / "tiny-clip").root
    server = start_server(base, CORPUS, model, args.port)
    print(f"{server.url}/  (admin / {ADMIN_PASSWORD}); data in {base}", flush=True)
    try:
        server.process.wait() if server.process else None
    except KeyboardInterrupt:
        server.stop()


if __name__ == "__main__":  # pragma: no cover
    main()
