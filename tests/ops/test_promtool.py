"""`promtool check metrics` (the real one, Debian's `prometheus` package) on /metrics after
a tick, every refresh and some HTTP traffic: every family the server exports lints clean."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from fastapi.testclient import TestClient

from imageserver.work.context import AppContext
from tests.fixtures import make_jpeg
from tests.scan.test_watcher import add_library
from tests.telemetry.test_metrics import refresh_all, scrape


def test_promtool_check_metrics_passes(
    client: TestClient, auth: dict[str, str], ctx: AppContext, tmp_path: Path
) -> None:
    promtool = shutil.which("promtool")
    assert promtool is not None, "promtool is missing: ./imageserver.sh installs `prometheus`"
    root = tmp_path / "lib"
    make_jpeg(root / "a.jpg", size=(40, 30))
    add_library(client, auth, root)
    refresh_all(ctx)
    assert client.get("/media/1", headers=auth).status_code in {200, 404}
    text = scrape(client, auth)
    for family in ("imageserver_media_items", "imageserver_http_requests_total", "process_"):
        assert family in text
    result = subprocess.run(
        [promtool, "check", "metrics"], input=text, capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == "" and result.stderr.strip() == ""
