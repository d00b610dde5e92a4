"""The embedding drain of a tick: photos with a preview and no vector of the current model.

Bounded per tick (CLIP_BACKLOG_MAX_PER_TICK per library), encoded CLIP_ENCODE_CONCURRENCY
at a time from the large preview (a WebP that the thumbnail drain made for every format,
EXIF orientation applied), each group written in one short transaction. Outcomes:

- encoded: the vector is stored once per (hash, model version); the search index of this
  process is told at once.
- undecodable image, or a preview that could never be made: failed for good, with reason.
- the encoder as a whole unavailable (remote down, timeout): the group is marked for a
  retry with backoff and attempt count, and the drain pauses (in memory, exponential) so
  an outage costs one failed call per pause, not one per image.
- an item-level transient error: retried with backoff, given up after MAX_ATTEMPTS.

With no model configured the drain idles and writes nothing.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from imageserver.media.drains import chunks, pool
from imageserver.media.layout import thumb_path
from imageserver.ml import encoders, repo
from imageserver.ml.encoders import BatchFailed, Encoder, EncoderUnavailable, ItemFailure
from imageserver.telemetry.metrics import BACKLOG, DRAIN_DONE, DRAIN_FAILED
from imageserver.work import artefacts
from imageserver.work.artefacts import THUMB_KIND, Outcome, clip_kind
from imageserver.work.context import AppContext
from imageserver.work.tick import TickContext

log = logging.getLogger("imageserver.ml.drain")

MAX_ATTEMPTS = 5
PAUSE_BASE_SECONDS = 5.0
PAUSE_MAX_SECONDS = 300.0
PREVIEW_FAILURES_PER_TICK = 500


class Pause:
    """In-memory backoff for the encoder as a whole (a service outage)."""

    def __init__(self) -> None:
        self.until = 0.0
        self.failures = 0
        self._lock = threading.Lock()

    def active(self) -> bool:
        return time.monotonic() < self.until

    def failed(self) -> float:
        with self._lock:
            self.failures += 1
            delay = float(min(PAUSE_MAX_SECONDS, PAUSE_BASE_SECONDS * 2 ** (self.failures - 1)))
            self.until = time.monotonic() + delay
            return delay

    def ok(self) -> None:
        with self._lock:
            self.failures, self.until = 0, 0.0


def pause_of(ctx: AppContext) -> Pause:
    found = ctx.services.get("embeddings_pause")
    if not isinstance(found, Pause):
        found = ctx.services["embeddings_pause"] = Pause()
    return found


@dataclass
class Loaded:
    item: repo.Item
    data: bytes | None = None  # None: the preview file is gone


def _read_preview(ctx: AppContext, item: repo.Item) -> Loaded:
    path = thumb_path(ctx.settings.thumbs_dir, item.content_hash, "large")
    try:
        return Loaded(item, path.read_bytes())
    except FileNotFoundError:
        return Loaded(item)


def embeddings_stage(t: TickContext) -> None:
    ctx = t.app
    try:
        encoder = encoders.get_encoder(ctx)
    except encoders.ModelError:
        return  # logged once by get_encoder; nothing is marked: the model is at fault
    if encoder is None:
        return
    pause = pause_of(ctx)
    if pause.active():
        t.counts["embeddings_paused"] += 1
        return
    version = encoder.model_version
    settings = ctx.settings
    kind = clip_kind(version)
    with ctx.engine.begin() as conn:
        blocked = repo.without_preview(conn, version, t.library.id, PREVIEW_FAILURES_PER_TICK)
        won = artefacts.lease(conn, kind, [i.content_hash for i in blocked], t.now)
        for item in blocked:
            if item.content_hash not in won:
                continue  # another worker is recording it
            reason = f"no decodable preview: {repo.thumb_detail(conn, item.content_hash)}"
            artefacts.record(conn, item.content_hash, kind, Outcome.failed(reason), t.now)
            t.counts["encode_failed"] += 1
    with ctx.engine.begin() as conn:
        batch = repo.backlog(conn, version, t.library.id, t.now, settings.clip_backlog_max_per_tick)
        # leased to this process: workers sharing the database never encode one image twice
        won = artefacts.lease(conn, kind, [i.content_hash for i in batch], t.now)
    batch = [item for item in batch if item.content_hash in won]
    groups = list(chunks(batch, settings.clip_encode_concurrency))
    for index, group in enumerate(groups):
        if not _encode_group(t, encoder, version, group):
            left = [i.content_hash for g in groups[index + 1 :] for i in g]
            with ctx.engine.begin() as conn:
                artefacts.release(conn, kind, left)  # the encoder is down: leave them
            break
    with ctx.engine.connect() as conn:
        t.pending["embeddings"] = repo.count_backlog(conn, version, t.library.id, t.now)
    BACKLOG.labels(t.library.name, "embeddings").set(t.pending["embeddings"])


def _encode_group(
    t: TickContext, encoder: Encoder, version: str, group: Sequence[repo.Item]
) -> bool:
    """Encode and record one group; False when the encoder is unavailable (stop the tick)."""
    ctx = t.app
    loaded = list(pool(ctx).map(lambda item: _read_preview(ctx, item), group))
    present = [entry for entry in loaded if entry.data is not None]
    vectors: dict[int, NDArray[np.float32]] = {}
    failures: dict[int, ItemFailure] = {}
    unavailable: str | None = None
    if present:
        try:
            encoded = encoder.encode_images([entry.data for entry in present if entry.data])
            vectors = {i: encoded[i] for i in range(len(present))}
        except BatchFailed as exc:
            vectors, failures = exc.vectors, exc.failures
        except EncoderUnavailable as exc:
            unavailable = str(exc)
        except Exception as exc:  # an inference error: transient for every image of the group
            log.warning("event=encode_error library=%s error=%r", t.library.name, exc)
            reason = f"{type(exc).__name__}: {exc}"
            failures = {i: ItemFailure(reason, False) for i in range(len(present))}
    _record(t, version, loaded, present, vectors, failures, unavailable)
    if unavailable is not None:
        delay = pause_of(ctx).failed()
        log.warning(
            "event=embeddings_paused library=%s seconds=%.0f reason=%r",
            t.library.name,
            delay,
            unavailable,
        )
        return False
    pause_of(ctx).ok()
    return True


def _record(
    t: TickContext,
    version: str,
    loaded: list[Loaded],
    present: list[Loaded],
    vectors: dict[int, NDArray[np.float32]],
    failures: dict[int, ItemFailure],
    unavailable: str | None,
) -> None:
    kind = clip_kind(version)
    stored: list[tuple[str, NDArray[np.float32]]] = []
    with t.app.engine.begin() as conn:
        for entry in loaded:
            if entry.data is None:  # the preview vanished: have the thumbnail drain redo it
                artefacts.forget(conn, entry.item.content_hash, THUMB_KIND)
        for i, entry in enumerate(present):
            digest = entry.item.content_hash
            if i in vectors:
                stored.append((digest, vectors[i]))
                continue
            outcome = _failure_outcome(conn, digest, kind, failures.get(i), unavailable)
            artefacts.record(conn, digest, kind, outcome, t.now)
            permanent = outcome.status == "failed"
            t.counts["encode_failed"] += 1
            DRAIN_FAILED.labels("embeddings", str(permanent).lower()).inc()
            log.info(
                "event=embedding_failed library=%s path=%r permanent=%s reason=%r",
                t.library.name,
                entry.item.rel_path,
                permanent,
                outcome.detail,
            )
        repo.insert_vectors(conn, version, stored)
        for digest, _ in stored:
            artefacts.record(conn, digest, kind, Outcome.done(), t.now)
    t.counts["encoded"] += len(stored)
    DRAIN_DONE.labels("embeddings").inc(len(stored))
    if stored:
        notify_index(t.app, version)


def _failure_outcome(
    conn: Any, digest: str, kind: str, failure: ItemFailure | None, unavailable: str | None
) -> Outcome:
    if unavailable is not None or failure is None:
        return Outcome.retry(unavailable or "not encoded")
    if failure.permanent:
        return Outcome.failed(failure.reason)
    previous = artefacts.get(conn, digest, kind)
    attempts = (previous["attempts"] if previous else 0) + 1
    if attempts >= MAX_ATTEMPTS:
        return Outcome.failed(f"gave up after {attempts} attempts: {failure.reason}")
    return Outcome.retry(failure.reason)


def notify_index(ctx: AppContext, version: str) -> None:
    """Let this process's search index pick up the rows just committed."""
    index = ctx.services.get("search_index")
    if index is not None:
        index.refresh(version)
