"""/metrics: no series of a deleted or renamed library, no `_all` aggregate, HTTP request
metrics by route template, process metrics, and the deprecated names still exported."""

from __future__ import annotations

import re
from pathlib import Path

from fastapi.testclient import TestClient

from imageserver.faces import stats as faces_stats
from imageserver.ml.stats import refresh_gauges
from imageserver.scan.watcher import Watcher
from imageserver.video import stats as video_stats
from imageserver.work.context import AppContext
from tests.fixtures import make_jpeg
from tests.scan.test_watcher import add_library


def scrape(client: TestClient, auth: dict[str, str]) -> str:
    response = client.get("/metrics", headers=auth)
    assert response.status_code == 200, response.text
    return response.text


def library_labels(text: str) -> set[str]:
    return set(re.findall(r'library="([^"]*)"', text))


def refresh_all(ctx: AppContext) -> None:
    Watcher(ctx).tick(full=True)
    refresh_gauges(ctx)
    with ctx.engine.connect() as conn:
        faces_stats.refresh(conn)
        video_stats.refresh(conn)


def test_deleted_and_renamed_libraries_leave_no_series(
    client: TestClient, auth: dict[str, str], ctx: AppContext, tmp_path: Path
) -> None:
    keep, gone, renamed = tmp_path / "keep", tmp_path / "gone", tmp_path / "old-name"
    for root in (keep, gone, renamed):
        make_jpeg(root / "a.jpg", size=(40, 30))
    add_library(client, auth, keep)
    gone_id = add_library(client, auth, gone)
    renamed_id = add_library(client, auth, renamed)
    refresh_all(ctx)
    before = scrape(client, auth)
    assert {"keep", "gone", "old-name"} <= library_labels(before)
    assert 'imageserver_media_items{kind="photo",library="gone"} 1.0' in before
    assert "_all" not in library_labels(before)  # sum() over library is the total

    assert client.delete(f"/libraries/{gone_id}", headers=auth).status_code == 204
    response = client.patch(f"/libraries/{renamed_id}", headers=auth, json={"name": "new-name"})
    assert response.status_code == 200, response.text
    after = scrape(client, auth)
    labels = library_labels(after)
    assert "gone" not in labels and "old-name" not in labels, sorted(labels)
    assert "keep" in labels
    assert 'imageserver_media_items{kind="photo",library="keep"} 1.0' in after
    refresh_all(ctx)
    again = scrape(client, auth)
    assert 'imageserver_media_items{kind="photo",library="new-name"} 1.0' in again
    assert not {"gone", "old-name", "_all"} & library_labels(again)


def test_renamed_gauges_keep_their_old_names_for_one_release(
    client: TestClient, auth: dict[str, str], ctx: AppContext, tmp_path: Path
) -> None:
    root = tmp_path / "lib"
    make_jpeg(root / "a.jpg", size=(40, 30))
    add_library(client, auth, root)
    refresh_all(ctx)
    text = scrape(client, auth)
    assert "# TYPE imageserver_media_items gauge" in text
    assert "# TYPE imageserver_media_count untyped" in text
    assert 'imageserver_media_count{kind="photo",library="lib"} 1.0' in text
    assert "# TYPE imageserver_hls_videos gauge" in text
    assert "# TYPE imageserver_hls_videos_total untyped" in text
    assert 'imageserver_hls_videos_total{library="lib"} 0.0' in text
    assert "# TYPE imageserver_hls_videos_total gauge" not in text


def test_http_metrics_use_route_templates(
    client: TestClient, auth: dict[str, str], ctx: AppContext, tmp_path: Path
) -> None:
    root = tmp_path / "lib"
    make_jpeg(root / "a.jpg", size=(40, 30))
    add_library(client, auth, root)
    assert client.get("/media/987654321", headers=auth).status_code == 404
    assert client.get("/no/such/path/123", headers=auth).status_code == 404
    assert client.request("BREW", "/health").status_code in {404, 405}
    text = scrape(client, auth)
    http = [line for line in text.splitlines() if line.startswith("imageserver_http_")]
    assert http
    assert not any("987654321" in line or "/no/such" in line for line in http), http
    assert re.search(
        r'imageserver_http_requests_total\{method="GET",route="/media/\{media_id\}",'
        r'status="404"\} [1-9]',
        text,
    ), http
    assert 'route="unmatched"' in text
    assert 'method="other"' in text
    assert re.search(
        r'imageserver_http_request_duration_seconds_bucket\{le="\+Inf",method="POST",'
        r'route="/libraries",status="201"\} [1-9]',
        text,
    ), http


def test_process_metrics_are_exported(client: TestClient, auth: dict[str, str]) -> None:
    text = scrape(client, auth)
    for name in ("process_cpu_seconds_total", "process_resident_memory_bytes", "python_info"):
        assert re.search(rf"^{name}(\{{[^}}]*\}})? ", text, re.M), name
