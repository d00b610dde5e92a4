"""`imageserver scan` in the foreground and the metrics a tick leaves behind."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from fastapi.testclient import TestClient

from imageserver.scan.watcher import Watcher
from imageserver.work.context import AppContext
from tests.fixtures import make_jpeg
from tests.scan.test_watcher import add_library


def test_scan_command_indexes_and_summarises(tmp_path: Path, sqlite_url: str) -> None:
    library = tmp_path / "pics"
    for i in range(3):
        make_jpeg(library / f"{i}.jpg", size=(40, 30), color=(i * 100, 0, 0))
    env = {k: v for k, v in os.environ.items() if not k.startswith("IMAGESERVER_")}
    env.update(
        IMAGESERVER_DATA_DIR=str(tmp_path / "data"),
        IMAGESERVER_DATABASE_URL=sqlite_url,
        IMAGESERVER_LIBRARIES=f"pics={library}",
        IMAGESERVER_ADMIN_PASSWORD="scan-admin-pw",
    )
    cmd = [sys.executable, "-m", "imageserver.server.cli", "scan", "--full"]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    summary = [ln for ln in done.stderr.splitlines() if ln.startswith("scan done")]
    assert summary, done.stderr
    assert "new=3" in summary[0] and "hashed=3" in summary[0] and "thumbnailed=3" in summary[0]
    assert "pending=0" in summary[0]
    again = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert "new=0" in again.stderr
    missing = subprocess.run(
        [*cmd, "--library", "nope"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert missing.returncode == 1 and "no enabled library" in missing.stderr


def test_metrics_after_a_tick(
    client: TestClient, auth: dict[str, str], ctx: AppContext, tmp_path: Path
) -> None:
    root = tmp_path / "metrics-lib"
    make_jpeg(root / "a.jpg", size=(40, 30))
    make_jpeg(root / "b.jpg", size=(40, 30), color=(1, 1, 1))
    add_library(client, auth, root)
    Watcher(ctx).tick(full=True)
    text = client.get("/metrics", headers=auth).text
    assert 'imageserver_media_count{kind="photo",library="metrics-lib"} 2.0' in text
    assert 'imageserver_backlog_items{drain="hash",library="metrics-lib"} 0.0' in text
    assert 'imageserver_tick_duration_seconds_count{library="metrics-lib",tick="full"}' in text
    assert 'imageserver_library_reachable{library="metrics-lib"} 1.0' in text
    libs = client.get("/libraries", headers=auth).json()
    assert libs[0]["last_full_scan_at"] is not None
    assert libs[0]["health"]["status"] == "reachable"
