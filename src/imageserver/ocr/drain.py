"""The OCR drain of a tick: photos with a large preview and no text read yet, bounded per
tick (OCR_BATCH_PER_TICK), read by rapidocr (engine.py) off the database.

Outcomes, recorded in `artefacts` under kind "ocr" by the kernel runner (work/drain.py):
- read: the lines (text, confidence, box) stored once per content hash in `ocr_text`
  (and the SQLite trigram index) when any text was found; done either way.
- a preview that could never be made, or one that does not decode: failed for good.
- the preview file missing, or an engine error: retried with backoff, given up at the
  MAX_ATTEMPTS-th try.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import Connection, RowMapping

from imageserver.config import Settings
from imageserver.media.layout import thumb_path
from imageserver.ocr import engine, repo, stats
from imageserver.work.drain import Drain, HashRun, when_enabled
from imageserver.work.outcome import GiveUp, Outcome
from imageserver.work.tick import TickContext

log = logging.getLogger("imageserver.ocr")

MAX_ATTEMPTS = 5
WRITE_EVERY = 8


def read_preview(settings: Settings, content_hash: str) -> engine.Reading | Outcome:
    """The text of one photo's large preview (blocking; runs in a pool thread)."""
    path = thumb_path(settings.thumbs_dir, content_hash, "large")
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return Outcome.retry("large preview missing")
    try:
        return engine.read(data, settings.ocr_min_confidence)
    except engine.Unreadable as exc:
        return Outcome.failed(f"preview does not decode: {exc}")
    except Exception as exc:  # an engine error must not stop the drain
        log.exception("event=ocr_crashed hash=%s", content_hash)
        return Outcome.retry(f"unexpected error: {exc!r}")


def text_row(content_hash: str, reading: engine.Reading, name: str, now: float) -> dict[str, Any]:
    return {
        "content_hash": content_hash,
        "text": reading.text,
        "lines": [
            {"text": line.text, "confidence": line.confidence, "box": line.box}
            for line in reading.lines
        ],
        "engine": name,
        "created_at": now,
    }


class OcrTick(HashRun[RowMapping, "engine.Reading | Outcome"]):
    kind = repo.OCR_KIND
    has_upfront = True

    def __init__(self, t: TickContext) -> None:
        super().__init__(t)
        self.total, self.chunk = t.app.settings.ocr_batch_per_tick, WRITE_EVERY
        self.rows: list[dict[str, Any]] = []
        self.engine_name = engine.engine_version()

    def upfront(self, conn: Connection) -> list[tuple[RowMapping, Outcome]]:
        t = self.t
        blocked = repo.read_batch(conn, t.library.id, t.now, self.total, "failed")
        return [
            (r, Outcome.failed(f"no decodable preview: {r['thumb_detail']}"))
            for r in self.lease(conn, blocked)
        ]

    def claim(self, conn: Connection, limit: int) -> list[RowMapping]:
        t = self.t
        return self.lease(conn, repo.read_batch(conn, t.library.id, t.now, limit, "done"))

    def one(self, item: RowMapping) -> engine.Reading | Outcome:
        return read_preview(self.t.app.settings, item["content_hash"])

    def outcome(self, item: RowMapping, result: engine.Reading | Outcome) -> Outcome:
        if isinstance(result, Outcome):
            return result
        return Outcome.done(f"lines={len(result.lines)}")

    def write(
        self,
        conn: Connection,
        item: RowMapping,
        result: engine.Reading | Outcome | None,
        outcome: Outcome,
        attempts: int,
    ) -> bool:
        if isinstance(result, engine.Reading) and result.lines:
            self.rows.append(text_row(item["content_hash"], result, self.engine_name, self.t.now))
        return super().write(conn, item, result, outcome, attempts)

    def written(self, conn: Connection) -> None:
        rows, self.rows = self.rows, []
        self.t.counts["ocr_with_text"] += repo.insert_texts(conn, rows)

    def pending(self, conn: Connection) -> int:
        if self.t.full:
            stats.refresh(conn)
        return repo.count_pending(conn, self.t.library.id, self.t.now)


OCR = Drain(
    "ocr",
    when_enabled(OcrTick, "ocr_enabled"),
    policy=GiveUp(MAX_ATTEMPTS),
    done_count="ocr_read",
    failed_event="ocr_failed",
)

ocr_stage = OCR.stage
