"""The face drain of a tick: photos with a hash and no face scan yet, bounded per tick.

Detection runs in the shared drain pool (the tick itself is already off the event loop);
results are written every few images in one short transaction each: the face rows, their
placement into people, and the `faces` artefact state. A photo whose preview could never be
made is failed permanently; unreadable or missing previews are retried with backoff and
given up after MAX_ATTEMPTS. Faces of a hash are written once (never duplicated).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy import Connection

from imageserver.config import Settings
from imageserver.faces import detector, geometry, repo, service, source, stats
from imageserver.faces.cluster import Matcher
from imageserver.media.drains import pool
from imageserver.telemetry.metrics import BACKLOG, DRAIN_DONE, DRAIN_FAILED
from imageserver.work import artefacts
from imageserver.work.artefacts import FACES_KIND, Outcome
from imageserver.work.tick import TickContext

log = logging.getLogger("imageserver.faces")

MAX_ATTEMPTS = 5
WRITE_EVERY = 8


@dataclass(frozen=True)
class FoundFace:
    box: tuple[int, int, int, int]  # displayed-original pixels
    landmarks: list[list[float]]
    embedding: npt.NDArray[np.float32]
    score: float
    detector: str


@dataclass(frozen=True)
class Scan:
    faces: list[FoundFace]
    displayed: geometry.Size
    source: str
    upsample: int


def scan_image(settings: Settings, row: Any) -> Scan | Outcome:
    """Detect the faces of one photo (blocking; runs in a pool thread)."""
    try:
        image = source.load(settings, row)
    except source.SourceError as exc:
        return Outcome.failed(exc.reason) if exc.permanent else Outcome.retry(exc.reason)
    height, width = image.pixels.shape[:2]
    upsample = geometry.upsample_steps(
        (width, height), image.displayed, settings.face_max_side, settings.face_min_size
    )
    try:
        raw = detector.detect(
            image.pixels,
            detector=settings.face_detector,
            upsample=upsample,
            verify=settings.face_verify,
        )
    except detector.FaceModelsMissing as exc:
        return Outcome.retry(str(exc))
    except RuntimeError as exc:  # dlib rejects the pixels: the image itself is the problem
        return Outcome.failed(f"detection failed: {exc}")
    to_original = geometry.mapping((width, height), image.displayed)
    found = []
    for face in raw:
        box = geometry.clamp(to_original.box(face.box), image.displayed)
        if not geometry.big_enough(box, settings.face_min_size):
            continue
        landmarks = [[round(c, 1) for c in to_original.point(p)] for p in face.landmarks]
        found.append(FoundFace(box, landmarks, face.embedding, face.score, face.detector))
    found.sort(key=lambda f: (f.box[0], f.box[1]))
    return Scan(found, image.displayed, image.source, upsample)


def _safe_scan(settings: Settings, row: Any) -> Scan | Outcome:
    try:
        return scan_image(settings, row)
    except Exception as exc:  # a bug must not stop the drain; it is retried, then given up
        log.exception("event=faces_scan_crashed path=%r", row["rel_path"])
        return Outcome.retry(f"unexpected error: {exc!r}")


def face_rows(content_hash: str, scan: Scan, now: float) -> list[dict[str, Any]]:
    return [
        {
            "content_hash": content_hash,
            "face_index": index,
            "box_x": face.box[0],
            "box_y": face.box[1],
            "box_w": face.box[2],
            "box_h": face.box[3],
            "image_width": scan.displayed[0],
            "image_height": scan.displayed[1],
            "landmarks": face.landmarks,
            "embedding": repo.encode(face.embedding),
            "detector": face.detector,
            "detection_score": round(face.score, 4),
            "person_id": None,
            "assignment": "none",
            "created_at": now,
        }
        for index, face in enumerate(scan.faces)
    ]


def _record_failure(t: TickContext, conn: Connection, row: Any, outcome: Outcome) -> None:
    if outcome.status == "retry":
        previous = artefacts.get(conn, row["content_hash"], FACES_KIND)
        if (previous["attempts"] if previous else 0) + 1 >= MAX_ATTEMPTS:
            outcome = Outcome.failed(f"gave up after {MAX_ATTEMPTS} attempts: {outcome.detail}")
    artefacts.record(conn, row["content_hash"], FACES_KIND, outcome, t.now)
    permanent = outcome.status == "failed"
    t.counts["failed"] += 1
    DRAIN_FAILED.labels("faces", str(permanent).lower()).inc()
    log.info(
        "event=faces_failed library=%s path=%r permanent=%s reason=%r",
        t.library.name,
        row["rel_path"],
        permanent,
        outcome.detail,
    )


class _Writer:
    """Writes a tick's results; loads the people matcher once, on the first new faces."""

    def __init__(self, t: TickContext) -> None:
        self.t = t
        self.matcher: Matcher | None = None

    def write(self, results: list[tuple[Any, Scan | Outcome]]) -> None:
        """One transaction: face rows, their placement into people, the artefact states."""
        t, now = self.t, self.t.now
        with t.app.engine.begin() as conn:
            new_rows: list[dict[str, Any]] = []
            for row, result in results:
                digest = row["content_hash"]
                if isinstance(result, Outcome):
                    _record_failure(t, conn, row, result)
                    continue
                detail = f"faces={len(result.faces)} source={result.source} up={result.upsample}"
                if repo.has_faces(conn, digest):
                    detail += " (kept the faces found before)"
                else:
                    new_rows += face_rows(digest, result, now)
                    t.counts["faces_found"] += len(result.faces)
                artefacts.record(conn, digest, FACES_KIND, Outcome.done(detail), now)
                t.counts["face_scanned"] += 1
                DRAIN_DONE.labels("faces").inc()
            new_faces = repo.insert_faces(conn, new_rows)
            if not new_faces:
                return
            if self.matcher is None:
                exclude = [face_id for face_id, _ in new_faces]
                self.matcher = service.load_matcher(conn, t.app.settings, exclude)
            placed = service.assign_new_faces(conn, new_faces, t.app.settings, now, self.matcher)
        t.counts["faces_placed"] += placed.assigned
        t.counts["people_created"] += placed.people_created


def faces_stage(t: TickContext) -> None:
    settings, engine = t.app.settings, t.app.engine
    if not settings.faces_enabled:
        return
    limit = settings.face_batch_per_tick
    with engine.begin() as conn:
        blocked = repo.scan_batch(conn, t.library.id, t.now, limit, thumb_status="failed")
        batch = repo.scan_batch(conn, t.library.id, t.now, limit, thumb_status="done")
        # leased to this process: workers sharing the database never scan one image twice
        hashes = [r["content_hash"] for r in [*blocked, *batch]]
        won = artefacts.lease(conn, FACES_KIND, hashes, t.now)
    blocked = [r for r in blocked if r["content_hash"] in won]
    batch = [r for r in batch if r["content_hash"] in won]
    writer = _Writer(t)
    if blocked:
        writer.write(
            [(r, Outcome.failed(f"no decodable preview: {r['thumb_detail']}")) for r in blocked]
        )
    done: list[tuple[Any, Scan | Outcome]] = []
    results = pool(t.app).map(lambda row: _safe_scan(settings, row), batch)
    for row, result in zip(batch, results, strict=True):
        done.append((row, result))
        if len(done) >= WRITE_EVERY:
            writer.write(done)
            done = []
    if done:
        writer.write(done)
    with engine.connect() as conn:
        t.pending["faces"] = repo.count_pending(conn, t.library.id, t.now)
        if t.full:
            stats.compute(conn)
    BACKLOG.labels(t.library.name, "faces").set(t.pending["faces"])
