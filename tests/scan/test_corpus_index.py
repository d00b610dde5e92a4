"""Index the whole shared corpus in place: every file gets a row, broken ones a reason.

The corpus is indexed where it lies (read-only use), which also proves that a full index
leaves a real library byte-identical. One index per session (SQLite): the database layer
itself is covered on both databases elsewhere.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import select

from imageserver.clock import FakeClock
from imageserver.db.tables import artefacts, media
from imageserver.scan.pipeline import STAGES
from imageserver.scan.watcher import Watcher
from imageserver.server.background import close_services
from imageserver.server.bootstrap import bootstrap
from imageserver.work.context import AppContext
from imageserver.work.tick import TickContext
from tests.conftest import make_settings, require_corpus
from tests.fixtures import insert_library

pytestmark = [pytest.mark.corpus, pytest.mark.slow]


def digest_tree(root: Path) -> dict[str, str]:
    out = {}
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            path = Path(dirpath) / name
            out[str(path.relative_to(root))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


@dataclass
class Indexed:
    ctx: AppContext
    root: Path
    rows: dict[str, dict[str, object]]
    thumbs: dict[str, dict[str, object]]
    ticks: list[list[TickContext]]
    before: dict[str, str]


@pytest.fixture(scope="module")
def indexed(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Iterator[Indexed]:
    corpus = require_corpus()
    tmp = tmp_path_factory.mktemp("corpus-index")
    db = tmp / "db.sqlite"
    db.write_bytes(sqlite_template.read_bytes())
    settings = make_settings(tmp, f"sqlite:///{db}")
    clock = FakeClock()
    ctx = bootstrap(settings, clock=clock).ctx
    before = digest_tree(corpus)
    insert_library(ctx.engine, "corpus", corpus)
    # Every stage but HLS: tests/video/test_corpus.py transcodes the corpus videos itself.
    watcher = Watcher(ctx, stages=[stage for stage in STAGES if stage.name != "hls"])
    ticks = [watcher.tick(full=True)]
    while sum(ticks[-1][0].pending.values()) and len(ticks) < 20:
        clock.advance(7 * 3600)  # past any retry backoff: transient failures settle or give up
        ticks.append(watcher.tick(full=False))
    with ctx.engine.connect() as conn:
        rows = {r["rel_path"]: dict(r) for r in conn.execute(select(media)).mappings()}
        thumbs = {
            r["content_hash"]: dict(r)
            for r in conn.execute(select(artefacts).where(artefacts.c.kind == "thumb")).mappings()
        }
    yield Indexed(ctx, corpus, rows, thumbs, ticks, before)
    close_services(ctx)
    ctx.engine.dispose()


def manifest_paths(root: Path) -> list[str]:
    lines = (root / "MANIFEST.tsv").read_text(encoding="utf-8").splitlines()[1:]
    return [line.split("\t")[0] for line in lines if line.strip()]


def test_every_media_file_gets_a_row_and_ticks_complete(indexed: Indexed) -> None:
    expected = set(manifest_paths(indexed.root))
    assert expected - set(indexed.rows) == set(), "files without a row"
    assert set(indexed.rows) - expected == set(), "rows for non-media files"
    assert all(ticks and not ticks[0].stale for ticks in indexed.ticks)
    assert sum(indexed.ticks[-1][0].pending.values()) == 0, indexed.ticks[-1][0].pending


# Files no decoder can make an image of (the manifest's tools all fail on them too).
UNUSABLE = {
    "broken/Issue_419.rw2",
    "broken/github_15.heic",
    "broken/crash-20ca2625.heic",
    "broken/corrupt-header.jpg",
    "broken/its_3ba6af611cc5467cfdbd5566561b8478.jpg",
    "broken/invalid-bitstream.webm",
}


def test_broken_files_end_settled_with_reasons(indexed: Indexed) -> None:
    """Every broken/ file has a row and ends settled: served normally where our decoders
    cope (libvips reads some files Pillow refuses; the manifest's README allows that), or
    failed with a reason. Nothing stays pending, and truly unusable files always fail."""
    broken = [p for p in manifest_paths(indexed.root) if p.startswith("broken/")]
    assert len(broken) >= 20
    for rel in broken:
        row = indexed.rows.get(rel)
        assert row is not None, f"{rel}: no row"
        assert row["meta_status"] in ("ok", "failed"), f"{rel}: metadata {row['meta_status']}"
        if row["meta_status"] == "failed":
            assert str(row["meta_error"] or "").strip(), f"{rel}: failed without a reason"
        thumb = indexed.thumbs.get(str(row["content_hash"]))
        assert thumb is not None and thumb["status"] in ("done", "failed"), f"{rel}: {thumb}"
        if thumb["status"] == "failed":
            assert str(thumb["detail"] or "").strip(), f"{rel}: thumbnail failed silently"
        if rel in UNUSABLE:
            assert thumb["status"] == "failed", f"{rel}: an unusable file got a thumbnail"


def test_kinds_follow_content(indexed: Indexed) -> None:
    kinds = {rel: row["kind"] for rel, row in indexed.rows.items()}
    assert all(kinds[p] == "video" for p in kinds if p.startswith("videos/"))
    assert all(kinds[p] == "photo" for p in kinds if p.startswith(("photos/", "faces/")))
    assert indexed.rows["photos/exif_edge/Issue_247-1.nef"]["format"] == "jpeg"


def test_good_photos_get_thumbnails(indexed: Indexed) -> None:
    made = [
        rel
        for rel, row in indexed.rows.items()
        if rel.startswith(("photos/orientation", "photos/phones_cameras", "faces/"))
        and indexed.thumbs.get(str(row["content_hash"]), {}).get("status") == "done"
    ]
    assert len(made) >= 50


def test_the_corpus_is_byte_identical_after_indexing(indexed: Indexed) -> None:
    assert digest_tree(indexed.root) == indexed.before
