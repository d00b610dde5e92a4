"""The places drain inside real watcher ticks, on both databases: geocoded once per hash,
capped per tick, (0, 0) and missing fixes answered without a row, failures recorded."""

from __future__ import annotations

import shutil
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from imageserver.clock import FakeClock
from imageserver.config import Settings
from imageserver.db.tables import artefacts, media, places
from imageserver.places import drain as places_drain
from imageserver.places import geocode
from imageserver.places.repo import PLACES_KIND
from imageserver.scan.pipeline import STAGES
from imageserver.scan.watcher import Watcher
from imageserver.work.context import AppContext
from tests.conftest import make_settings
from tests.fixtures import insert_library, make_jpeg

GENEVA = (46.2044, 6.1432)  # Switzerland, a few km from France
ANNEMASSE = (46.1934, 6.2342)  # France, across the border from Geneva
KEHL = (48.5730, 7.8150)  # Germany, across the Rhine from Strasbourg
NEW_YORK = (40.7128, -74.0060)

BEFORE = [s for s in STAGES if s.name not in ("places", "thumbnails", "embeddings", "hls")]
PLACES_ONLY = [s for s in STAGES if s.name == "places"]


@pytest.fixture
def settings(tmp_path: Path, db_url: str) -> Settings:
    return make_settings(tmp_path, db_url, places_batch_per_tick=2)


def library(ctx: AppContext, tmp_path: Path) -> Path:
    root = tmp_path / "lib"
    taken = datetime(2026, 7, 1, 12, 0, 0)
    make_jpeg(root / "geneva.jpg", gps=GENEVA, taken=taken, color=(10, 10, 200))
    make_jpeg(root / "annemasse.jpg", gps=ANNEMASSE, taken=taken, color=(10, 200, 10))
    make_jpeg(root / "kehl.jpg", gps=KEHL, taken=taken, color=(200, 10, 10))
    make_jpeg(root / "ny.jpg", gps=NEW_YORK, taken=taken, color=(200, 200, 10))
    make_jpeg(root / "null-island.jpg", gps=(0.0, 0.0), taken=taken, color=(10, 200, 200))
    make_jpeg(root / "nogps.jpg", taken=taken, color=(200, 10, 200))
    shutil.copy(root / "geneva.jpg", root / "geneva-copy.jpg")  # same bytes, one lookup
    insert_library(ctx.engine, "lib", root)
    Watcher(ctx, stages=BEFORE).tick(full=True)
    return root


def place_rows(ctx: AppContext) -> dict[str, dict[str, object]]:
    with ctx.engine.connect() as conn:
        rows = conn.execute(
            select(media.c.name, places).join(places, places.c.content_hash == media.c.content_hash)
        ).mappings()
        return {str(r["name"]): dict(r) for r in rows}


def states(ctx: AppContext) -> dict[str, tuple[str, str | None, int]]:
    with ctx.engine.connect() as conn:
        rows = conn.execute(
            select(media.c.name, artefacts.c.status, artefacts.c.detail, artefacts.c.attempts)
            .join(artefacts, artefacts.c.content_hash == media.c.content_hash)
            .where(artefacts.c.kind == PLACES_KIND, artefacts.c.status != "pending")
        ).all()
        return {str(name): (status, detail, attempts) for name, status, detail, attempts in rows}


def test_drain_places_every_fix_once_capped_per_tick(ctx: AppContext, tmp_path: Path) -> None:
    library(ctx, tmp_path)
    watcher = Watcher(ctx, stages=PLACES_ONLY)
    [first] = watcher.tick(full=False)
    # 4 distinct hashes with a fix (the copy shares Geneva's; metadata drops the (0, 0)
    # "fix", so Null Island has none); 2 per tick
    assert first.counts["placed"] == 2 and first.pending["places"] == 2
    for _ in range(3):
        [last] = watcher.tick(full=False)
    assert last.pending["places"] == 0
    rows = place_rows(ctx)
    assert set(rows) == {"geneva.jpg", "geneva-copy.jpg", "annemasse.jpg", "kehl.jpg", "ny.jpg"}
    assert (rows["geneva.jpg"]["country_code"], rows["geneva.jpg"]["place"]) == ("CH", "Genève")
    assert rows["geneva.jpg"]["region"] == "Genève"
    assert rows["annemasse.jpg"]["country_code"] == "FR"
    assert rows["annemasse.jpg"]["place"] == "Annemasse"
    assert rows["kehl.jpg"]["country_code"] == "DE" and rows["kehl.jpg"]["place"] == "Kehl"
    assert rows["ny.jpg"]["timezone"] == "America/New_York"
    assert rows["ny.jpg"]["region"] == "New York"
    found = states(ctx)
    assert "null-island.jpg" not in found and "nogps.jpg" not in found
    assert found["geneva.jpg"][0] == "done"


def test_a_failing_geocoder_is_retried_then_given_up(
    ctx: AppContext, clock: FakeClock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    library(ctx, tmp_path)

    def broken(lats: object, lons: object) -> list[geocode.Place | None]:
        raise OSError("boundaries.npz unreadable")

    monkeypatch.setattr(geocode, "lookup_many", broken)
    watcher = Watcher(ctx, stages=PLACES_ONLY)
    [t] = watcher.tick(full=False)
    assert t.counts["failed"] == 2 and t.pending["places"] == 2
    failed = {k: v for k, v in states(ctx).items() if v[0] == "retry"}
    assert len(failed) == 2 and all("unreadable" in str(v[1]) for v in failed.values())
    for _ in range(places_drain.MAX_ATTEMPTS * 3):  # 2 a tick: 4 hashes, 3 tries each
        clock.advance(86_400)
        watcher.tick(full=False)
    assert {v[0] for v in states(ctx).values()} == {"failed"}
    assert {v[2] for v in states(ctx).values()} == {places_drain.MAX_ATTEMPTS}
    assert place_rows(ctx) == {}
