"""Face drain vs a bare dlib loop over the same previews (python -m bench.rows.faces).

Ours: the `faces` pipeline stage in watcher ticks over an indexed library of unique copies
of the corpus face pictures: backlog query, preview decode, detection, face rows, placement
into people, artefact state. The reference: the same dlib calls on the same previews with
the same upsampling (HOG, CNN confirmation of doubtful candidates, 5-point landmarks,
128-d descriptors) in a plain loop on the same number of threads, and nothing else. Both
load their models before the clock starts. Target: our images/s >= 0.9x (overhead <= 10%).
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from bench.library import build_library, find_sources
from bench.table import Row, render

GROUP = "faces"
DEFAULT_IMAGES = 96
UPSAMPLE = re.compile(r"\bup=(\d+)")


def indexed_library(images: int, corpus: Path, workdir: Path) -> Any:
    """An AppContext whose library of `images` face pictures is indexed, faces not scanned."""
    from imageserver.config import LibrarySeed, Settings
    from imageserver.scan.watcher import Watcher
    from imageserver.server.bootstrap import bootstrap

    sources = [s for s in find_sources(corpus) if s.rel.startswith("faces/")]
    lib = build_library(workdir / "lib", sources, images)
    settings = Settings(
        _env_file=None,
        data_dir=workdir / "data",
        libraries=[LibrarySeed(name="bench", root_path=lib.root)],
        admin_password="bench-password",
        run_background=False,
        faces_enabled=False,
    )
    ctx = bootstrap(settings).ctx
    watcher = Watcher(ctx)
    for tick in range(50):
        [t] = watcher.tick(full=tick == 0)
        if not sum(t.pending.values()):
            break
    return ctx


def reset_faces(ctx: Any) -> None:
    from sqlalchemy import delete

    from imageserver.db.tables import artefacts, faces, people
    from imageserver.work.artefacts import FACES_KIND

    with ctx.engine.begin() as conn:
        conn.execute(delete(faces))
        conn.execute(delete(people))
        conn.execute(delete(artefacts).where(artefacts.c.kind == FACES_KIND))


def run_drain(ctx: Any) -> tuple[float, int, int]:
    """(seconds, pictures scanned, faces found) for the faces stage to empty its backlog."""
    from imageserver.faces.drain import faces_stage
    from imageserver.scan.pipeline import Stage
    from imageserver.scan.watcher import Watcher

    ctx.settings.faces_enabled = True
    watcher = Watcher(ctx, stages=[Stage("faces", faces_stage)])
    scanned = found = 0
    start = time.perf_counter()
    while True:
        [t] = watcher.tick(full=False)
        scanned += t.counts["face_scanned"]
        found += t.counts["faces_found"]
        if not t.pending.get("faces") or not t.counts["face_scanned"]:
            break
    return time.perf_counter() - start, scanned, found


def scanned_previews(ctx: Any) -> list[tuple[Path, int]]:
    """(large preview, upsample steps the drain chose) of every scanned picture."""
    from sqlalchemy import select

    from imageserver.db.tables import artefacts
    from imageserver.media.layout import thumb_path
    from imageserver.work.artefacts import FACES_KIND

    with ctx.engine.connect() as conn:
        rows = conn.execute(
            select(artefacts.c.content_hash, artefacts.c.detail).where(
                artefacts.c.kind == FACES_KIND, artefacts.c.status == "done"
            )
        ).all()
    out = []
    for digest, detail in rows:
        found = UPSAMPLE.search(detail or "")
        out.append(
            (thumb_path(ctx.settings.thumbs_dir, digest, "large"), int(found[1]) if found else 0)
        )
    return out


class BareDlib:
    """The reference loop: dlib calls only, one model set per thread."""

    def __init__(self, threads: int) -> None:
        self.threads = threads
        self.local = threading.local()

    def models(self) -> Any:
        if not hasattr(self.local, "hog"):
            import dlib
            import face_recognition_models as w

            self.local.hog = dlib.get_frontal_face_detector()
            self.local.shape = dlib.shape_predictor(w.pose_predictor_five_point_model_location())
            self.local.encoder = dlib.face_recognition_model_v1(w.face_recognition_model_location())
            self.local.cnn = dlib.cnn_face_detection_model_v1(w.cnn_face_detector_model_location())
        return self.local

    def one(self, job: tuple[Path, int]) -> int:
        import dlib
        from PIL import Image

        from imageserver.faces import detector as d

        path, upsample = job
        m = self.models()
        with Image.open(path) as opened:
            image = opened.convert("RGB")
        pixels = np.asarray(image)
        rects, scores, _ = m.hog.run(pixels, upsample, d.HOG_CANDIDATE_SCORE)
        doubtful = sorted(
            ((s, r) for r, s in zip(rects, scores, strict=True) if s < d.HOG_SURE_SCORE),
            key=lambda item: -item[0],
        )
        kept = [r for r, s in zip(rects, scores, strict=True) if s >= d.HOG_SURE_SCORE]
        for _, rect in doubtful[: d.MAX_VERIFY_PER_IMAGE]:
            pad = rect.width() * d.VERIFY_MARGIN
            scale = d.VERIFY_FACE_PX / max(1, rect.width())
            box = (rect.left() - pad, rect.top() - pad, rect.right() + pad, rect.bottom() + pad)
            size = (round((box[2] - box[0]) * scale), round((box[3] - box[1]) * scale))
            crop = image.transform(size, Image.Transform.EXTENT, box, Image.Resampling.BILINEAR)
            if len(m.cnn(np.asarray(crop), 0)):
                kept.append(rect)
        if kept:
            shapes = dlib.full_object_detections([m.shape(pixels, r) for r in kept])
            m.encoder.compute_face_descriptor(pixels, shapes)
        return len(kept)

    def run(self, jobs: list[tuple[Path, int]]) -> tuple[float, int]:
        with ThreadPoolExecutor(self.threads) as pool:
            barrier = threading.Barrier(self.threads)  # every thread loads its set now

            def load(_: int) -> None:
                self.models()
                barrier.wait()

            list(pool.map(load, range(self.threads)))
            start = time.perf_counter()
            found = sum(pool.map(self.one, jobs))
            return time.perf_counter() - start, found


def drain_rows(images: int, corpus: Path, workdir: Path, repeats: int) -> list[Row]:
    from imageserver.faces import detector

    ctx = indexed_library(images, corpus, workdir)
    threads = ctx.settings.worker_threads
    detector.warm_up(threads)
    bare = BareDlib(threads)
    ours_s: list[float] = []
    ref_s: list[float] = []
    scanned = found = ref_found = 0
    for _ in range(repeats):
        reset_faces(ctx)
        seconds, scanned, found = run_drain(ctx)
        ours_s.append(seconds)
        ref_seconds, ref_found = bare.run(scanned_previews(ctx))
        ref_s.append(ref_seconds)
    ours, reference = scanned / min(ours_s), scanned / min(ref_s)
    return [
        Row(
            GROUP,
            f"face drain, {scanned} pictures",
            "images/s",
            ours,
            reference,
            "bare dlib loop",
            target=0.9,
            goal="higher",
            note=f"unique copies of the corpus face pictures, large previews, {threads} threads, "
            f"best of {repeats}; the drain also queries the backlog, decodes previews, writes "
            f"face rows and artefact states and places faces into people; faces found: ours "
            f"{found}, reference {ref_found} (ours drops faces under FACE_MIN_SIZE); "
            "target = overhead <= 10%",
            details={"ours_seconds": ours_s, "reference_seconds": ref_s},
        )
    ]


def run(ctx: Any) -> list[Row]:
    """Entry for bench/__main__.py's GROUPS."""
    images = min(ctx.args.files, DEFAULT_IMAGES)
    ctx.log(f"{GROUP}: face drain vs bare dlib over {images} pictures ...")
    return drain_rows(images, ctx.corpus, ctx.path("faces"), ctx.args.repeats)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.rows.faces")
    parser.add_argument("--images", type=int, default=DEFAULT_IMAGES)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument(
        "--corpus", default=str(Path(__file__).resolve().parents[3] / "shared" / "corpus")
    )
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-faces-") as tmp:
        rows = drain_rows(args.images, Path(args.corpus), Path(tmp), args.repeats)
    print(render(rows))
    print("load average during the run:", os.getloadavg(), file=sys.stderr)


if __name__ == "__main__":
    main()
