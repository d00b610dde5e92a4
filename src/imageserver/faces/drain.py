"""The face drain of a tick: photos with a hash and no face scan yet, bounded per tick.

Detection runs in the shared drain pool (the tick itself is already off the event loop);
results are written every few images in one short transaction each: the face rows, their
placement into people (then the names of the sidecars' face regions, regions.py), and the
`faces` artefact state. A photo whose preview could never be
made is failed permanently; unreadable or missing previews are retried with backoff and
given up at the MAX_ATTEMPTS-th try. Faces of a hash are written once (never duplicated).
Claiming, recording, give-up and metrics are the kernel runner's (work/drain.py).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy import Connection, RowMapping

from imageserver.config import Settings
from imageserver.faces import detector, geometry, regions, repo, service, source, stats
from imageserver.faces.cluster import Matcher
from imageserver.work.artefacts import FACES_KIND
from imageserver.work.drain import Drain, HashRun, when_enabled
from imageserver.work.outcome import GiveUp, Outcome
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


class FacesTick(HashRun[RowMapping, "Scan | Outcome"]):
    kind = FACES_KIND
    has_upfront = True

    def __init__(self, t: TickContext) -> None:
        super().__init__(t)
        self.total, self.chunk = t.app.settings.face_batch_per_tick, WRITE_EVERY
        self.new_rows: list[dict[str, Any]] = []
        self.matcher: Matcher | None = None  # loaded once, on the tick's first new faces

    def upfront(self, conn: Connection) -> list[tuple[RowMapping, Outcome]]:
        t = self.t
        # items whose curation changed (a sidecar with face regions came, changed or went)
        t.counts["faces_named"] += regions.changed_pass(conn, t.library.id, t.now)
        blocked = repo.scan_batch(conn, t.library.id, t.now, self.total, thumb_status="failed")
        return [
            (r, Outcome.failed(f"no decodable preview: {r['thumb_detail']}"))
            for r in self.lease(conn, blocked)
        ]

    def claim(self, conn: Connection, limit: int) -> list[RowMapping]:
        t = self.t
        # leased to this process: workers sharing the database never scan one image twice
        return self.lease(conn, repo.scan_batch(conn, t.library.id, t.now, limit, "done"))

    def one(self, item: RowMapping) -> Scan | Outcome:
        return _safe_scan(self.t.app.settings, item)

    def outcome(self, item: RowMapping, result: Scan | Outcome) -> Outcome:
        if isinstance(result, Outcome):
            return result
        return Outcome.done(
            f"faces={len(result.faces)} source={result.source} up={result.upsample}"
        )

    def write(
        self,
        conn: Connection,
        item: RowMapping,
        result: Scan | Outcome | None,
        outcome: Outcome,
        attempts: int,
    ) -> bool:
        digest = item["content_hash"]
        if isinstance(result, Scan):
            if repo.has_faces(conn, digest):
                outcome = Outcome.done(f"{outcome.detail} (kept the faces found before)")
            else:
                self.new_rows += face_rows(digest, result, self.t.now)
                self.t.counts["faces_found"] += len(result.faces)
        return super().write(conn, item, result, outcome, attempts)

    def written(self, conn: Connection) -> None:
        """The chunk's new faces, and their placement into people, in its transaction."""
        t, rows, self.new_rows = self.t, self.new_rows, []
        new_faces = repo.insert_faces(conn, rows)
        if not new_faces:
            return
        if self.matcher is None:
            exclude = [face_id for face_id, _ in new_faces]
            self.matcher = service.load_matcher(conn, t.app.settings, exclude)
        placed = service.assign_new_faces(conn, new_faces, t.app.settings, t.now, self.matcher)
        t.counts["faces_placed"] += placed.assigned
        t.counts["people_created"] += placed.people_created
        hashes = sorted({digest for _, digest in new_faces})
        t.counts["faces_named"] += regions.name_faces(conn, hashes, t.now)

    def pending(self, conn: Connection) -> int:
        if self.t.full:
            stats.refresh(conn)
        return repo.count_pending(conn, self.t.library.id, self.t.now)


FACES = Drain(
    "faces",
    when_enabled(FacesTick, "faces_enabled"),
    policy=GiveUp(MAX_ATTEMPTS),
    done_count="face_scanned",
    failed_event="faces_failed",
)

faces_stage = FACES.stage
