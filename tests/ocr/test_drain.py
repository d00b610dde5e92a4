"""The OCR drain in a real tick with the real models, then search, text and stats over HTTP,
on both databases; the substring index is what answers the search (EXPLAIN)."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, text

from imageserver.config import Settings
from imageserver.db.tables import artefacts, media, ocr_text
from imageserver.ocr import repo
from imageserver.scan.watcher import Watcher
from imageserver.telemetry.metrics import REGISTRY
from imageserver.work.context import AppContext
from tests.conftest import make_settings
from tests.fixtures import make_jpeg
from tests.ocr.pictures import text_photo
from tests.scan.test_watcher import add_library


@pytest.fixture
def settings(tmp_path: Path, db_url: str) -> Settings:
    return make_settings(tmp_path, db_url, ocr_enabled=True, ocr_batch_per_tick=8)


def build(root: Path) -> None:
    root.mkdir()
    text_photo(root / "receipt.jpg", ["RECEIPT 4711", "Coffee shop total"], seed=0)
    text_photo(root / "sign.jpg", ["Trailhead North", "Shop ahead"], seed=1, angle=-2.0)
    make_jpeg(root / "plain.jpg")
    (root / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0" + b"\0" * 300)


def search(client: TestClient, headers: dict[str, str], q: str, **params: object) -> list[str]:
    response = client.get("/ocr/search", headers=headers, params={"q": q, **params})
    assert response.status_code == 200, response.text
    return [item["path"] for item in response.json()["items"]]


def test_tick_reads_text_and_search_finds_words_and_substrings_in_scope(
    client: TestClient,
    auth: dict[str, str],
    member: dict[str, str],
    ctx: AppContext,
    tmp_path: Path,
) -> None:
    root = tmp_path / "lib"
    build(root)
    library_id = add_library(client, auth, root)

    [t] = Watcher(ctx).tick(full=True)

    assert (t.counts["ocr_read"], t.counts["ocr_with_text"], t.pending["ocr"]) == (3, 2, 0)
    with ctx.engine.connect() as conn:
        states = dict(
            conn.execute(
                select(media.c.rel_path, artefacts.c.status).join(
                    artefacts,
                    (artefacts.c.content_hash == media.c.content_hash)
                    & (artefacts.c.kind == repo.OCR_KIND),
                )
            ).all()
        )
        assert len(conn.execute(select(ocr_text)).all()) == 2
    assert states == {
        "receipt.jpg": "done",
        "sign.jpg": "done",
        "plain.jpg": "done",
        "broken.jpg": "failed",
    }

    # words, substrings, case, several words (all must occur), no match
    assert search(client, auth, "receipt") == ["receipt.jpg"]
    assert search(client, auth, "ecei") == ["receipt.jpg"]
    assert search(client, auth, "TRAILHEAD") == ["sign.jpg"]
    assert search(client, auth, "coffee total") == ["receipt.jpg"]
    assert search(client, auth, "coffee north") == []
    assert search(client, auth, "4711 to") == ["receipt.jpg"]  # a short word with a long one
    assert search(client, auth, "zebra") == []
    assert client.get("/ocr/search", headers=auth, params={"q": "to"}).status_code == 422

    # pages: one item a page, then the next with the cursor
    assert sorted(search(client, auth, "shop")) == ["receipt.jpg", "sign.jpg"]
    page = client.get("/ocr/search", headers=auth, params={"q": "shop", "limit": 1}).json()
    assert len(page["items"]) == 1 and page["next_cursor"] is not None
    rest = client.get(
        "/ocr/search", headers=auth, params={"q": "shop", "limit": 1, "cursor": page["next_cursor"]}
    ).json()
    assert len(rest["items"]) == 1 and rest["next_cursor"] is None
    assert {page["items"][0]["path"], rest["items"][0]["path"]} == {"receipt.jpg", "sign.jpg"}
    bad = client.get("/ocr/search", headers=auth, params={"q": "shop", "cursor": "x"})
    assert bad.status_code == 422

    # scope: a member without a grant sees nothing; with the grant, the same as the admin
    assert search(client, member, "receipt") == []
    assert search(client, member, "receipt", library_id=library_id) == []
    ids = {r["rel_path"]: r["id"] for r in media_rows(ctx)}
    assert client.get(f"/media/{ids['receipt.jpg']}/text", headers=member).status_code == 404
    me = client.get("/auth/me", headers=member).json()["id"]
    granted = client.put(f"/libraries/{library_id}/members/{me}", headers=auth)
    assert granted.status_code in (200, 201, 204), granted.text
    assert search(client, member, "receipt") == ["receipt.jpg"]
    assert search(client, member, "receipt", library_id=library_id + 1) == []

    # the text of an item, lines with boxes and confidences
    body = client.get(f"/media/{ids['receipt.jpg']}/text", headers=member).json()
    assert body["status"] == "done" and body["engine"].startswith("rapidocr-onnxruntime")
    assert "coffee shop total" in body["text"].lower()
    assert len(body["lines"]) == 2 and all(len(line["box"]) == 4 for line in body["lines"])
    broken = client.get(f"/media/{ids['broken.jpg']}/text", headers=auth).json()
    assert broken["status"] == "failed" and broken["error"] and broken["lines"] == []

    # stats and gauges
    stats = client.get("/ocr/stats", headers=auth).json()
    assert {k: stats["total"][k] for k in ("images", "read", "with_text", "failed")} == {
        "images": 4,
        "read": 3,
        "with_text": 2,
        "failed": 1,
    }
    assert stats["total"]["pending"] == 0
    samples = [
        s
        for metric in REGISTRY.collect()
        if metric.name == "imageserver_ocr_images"
        for s in metric.samples
        if s.labels["state"] == "with_text"
    ]
    # per library only (no "_all" series): sum() over the libraries is the total
    assert "_all" not in {s.labels["library"] for s in samples}
    assert sum(s.value for s in samples) == 2

    # a second tick reads nothing again
    [again] = Watcher(ctx).tick(full=True)
    assert again.counts["ocr_read"] == 0


def media_rows(ctx: AppContext) -> list[dict[str, object]]:
    with ctx.engine.connect() as conn:
        return [dict(r) for r in conn.execute(select(media.c.id, media.c.rel_path)).mappings()]


def test_the_index_answers_the_search(ctx: AppContext) -> None:
    """EXPLAIN: FTS5 MATCH on SQLite, the pg_trgm GIN index on PostgreSQL."""
    rows = [
        {
            "content_hash": f"{n:064x}",
            "text": f"line {n} receipt" if n % 50 == 0 else f"words {n} of a sign",
            "lines": [],
            "engine": "test",
            "created_at": 0.0,
        }
        for n in range(400)
    ]
    with ctx.engine.begin() as conn:
        repo.insert_texts(conn, rows)
        query = repo.matching_hashes(conn, ["ecei"])
        compiled = query.compile(conn, compile_kwargs={"literal_binds": True})
        if conn.dialect.name == "postgresql":
            conn.execute(text("ANALYZE ocr_text"))
            conn.execute(text("SET LOCAL enable_seqscan = off"))
            plan = "\n".join(r[0] for r in conn.execute(text(f"EXPLAIN {compiled}")))
            assert "ix_ocr_text_trgm" in plan, plan
        else:
            plan = "\n".join(
                str(r[-1]) for r in conn.execute(text(f"EXPLAIN QUERY PLAN {compiled}"))
            )
            assert "VIRTUAL TABLE INDEX" in plan and "ocr_fts" in plan, plan
        found = {r[0] for r in conn.execute(query)}
        assert found == {f"{n:064x}" for n in range(0, 400, 50)}
