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
- an item-level transient error: retried with backoff, given up at the MAX_ATTEMPTS-th try.

With no model configured the drain idles and writes nothing. Claiming, recording,
give-up and metrics are the kernel runner's (work/drain.py); this module says how a
group is encoded and what each result means.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from sqlalchemy import Connection

from imageserver.media.layout import thumb_path
from imageserver.ml import encoders, repo
from imageserver.ml.encoders import BatchFailed, Encoder, EncoderUnavailable, ItemFailure
from imageserver.work import artefacts
from imageserver.work.artefacts import THUMB_KIND, clip_kind
from imageserver.work.context import AppContext
from imageserver.work.drain import Drain, HashRun, run_drain
from imageserver.work.outcome import GiveUp, Outcome
from imageserver.work.tick import TickContext

log = logging.getLogger("imageserver.ml.drain")

MAX_ATTEMPTS = 5
PREVIEW_FAILURES_PER_TICK = 500


@dataclass
class Loaded:
    item: repo.Item
    data: bytes | None = None  # None: the preview file is gone


@dataclass(frozen=True)
class Encoded:
    """What became of one image of a group."""

    vector: NDArray[np.float32] | None = None
    failure: ItemFailure | None = None
    gone: bool = False  # its preview file vanished
    unavailable: str | None = None  # the encoder as a whole was down


def _read_preview(ctx: AppContext, item: repo.Item) -> Loaded:
    path = thumb_path(ctx.settings.thumbs_dir, item.content_hash, "large")
    try:
        return Loaded(item, path.read_bytes())
    except FileNotFoundError:
        return Loaded(item)


class EmbeddingsTick(HashRun[repo.Item, Encoded]):
    has_upfront = True

    def __init__(self, t: TickContext, encoder: Encoder) -> None:
        super().__init__(t)
        self.encoder, self.version = encoder, encoder.model_version
        self.kind = clip_kind(self.version)
        self.total = t.app.settings.clip_backlog_max_per_tick
        self.chunk = t.app.settings.clip_encode_concurrency
        self.stored: list[tuple[str, NDArray[np.float32]]] = []
        self.any_stored = False
        self.down: str | None = None

    def digest(self, item: repo.Item) -> str:
        return item.content_hash

    def path(self, item: repo.Item) -> str:
        return item.rel_path

    def upfront(self, conn: Connection) -> list[tuple[repo.Item, Outcome]]:
        t = self.t
        blocked = repo.without_preview(conn, self.version, t.library.id, PREVIEW_FAILURES_PER_TICK)
        # leased first: another worker may be recording the same ones
        return [
            (
                item,
                Outcome.failed(
                    f"no decodable preview: {repo.thumb_detail(conn, item.content_hash)}"
                ),
            )
            for item in self.lease(conn, blocked)
        ]

    def claim(self, conn: Connection, limit: int) -> list[repo.Item]:
        t = self.t
        # leased to this process: workers sharing the database never encode one image twice
        return self.lease(conn, repo.backlog(conn, self.version, t.library.id, t.now, limit))

    def work(self, items: Sequence[repo.Item]) -> list[Encoded]:
        ctx = self.t.app
        loaded = list(ctx.pool.map(lambda item: _read_preview(ctx, item), items))
        present = [i for i, entry in enumerate(loaded) if entry.data is not None]
        out = [Encoded(gone=True) if entry.data is None else Encoded() for entry in loaded]
        if not present:
            return out
        try:
            vectors = self.encoder.encode_images([loaded[i].data or b"" for i in present])
            found = {n: Encoded(vector=vectors[n]) for n in range(len(present))}
        except BatchFailed as exc:
            found = {n: Encoded(vector=v) for n, v in exc.vectors.items()}
            found.update({n: Encoded(failure=f) for n, f in exc.failures.items()})
        except EncoderUnavailable as exc:
            self.down = str(exc)
            found = {}
        except Exception as exc:  # an inference error: transient for every image of the group
            log.warning("event=encode_error library=%s error=%r", self.t.library.name, exc)
            failure = ItemFailure(f"{type(exc).__name__}: {exc}", False)
            found = {n: Encoded(failure=failure) for n in range(len(present))}
        for n, i in enumerate(present):
            out[i] = found.get(n, Encoded(unavailable=self.down))
        return out

    def outcome(self, item: repo.Item, result: Encoded) -> Outcome | None:
        if result.gone:
            return None
        if result.vector is not None:
            return Outcome.done()
        failure = result.failure
        if failure is None:  # the service is down: not the image's fault
            return Outcome.retry_forever(result.unavailable or "not encoded")
        return (
            Outcome.failed(failure.reason) if failure.permanent else Outcome.retry(failure.reason)
        )

    def skip(self, conn: Connection, item: repo.Item) -> None:
        # the preview vanished: have the thumbnail drain make it again
        artefacts.forget(conn, item.content_hash, THUMB_KIND)

    def write(
        self,
        conn: Connection,
        item: repo.Item,
        result: Encoded | None,
        outcome: Outcome,
        attempts: int,
    ) -> bool:
        if result is not None and result.vector is not None:
            self.stored.append((item.content_hash, result.vector))
        return super().write(conn, item, result, outcome, attempts)

    def written(self, conn: Connection) -> None:
        repo.insert_vectors(conn, self.version, self.stored)
        self.any_stored = self.any_stored or bool(self.stored)
        self.stored = []

    def go_on(self) -> bool:
        """After each group: an unavailable encoder pauses the drain and ends the tick."""
        pause = self.t.app.embeddings_pause
        if self.down is None:
            pause.ok()
            return True
        delay = pause.failed()
        log.warning(
            "event=embeddings_paused library=%s seconds=%.0f reason=%r",
            self.t.library.name,
            delay,
            self.down,
        )
        return False

    def pending(self, conn: Connection) -> int:
        t = self.t
        return repo.count_backlog(conn, self.version, t.library.id, t.now)

    def close(self) -> None:
        if self.any_stored:
            notify_index(self.t.app, self.version)


def open_tick(t: TickContext) -> EmbeddingsTick | None:
    """Idle without a model (or with a broken one: logged once by get_encoder, nothing is
    marked, the model is at fault) and while the encoder service is paused."""
    try:
        encoder = encoders.get_encoder(t.app)
    except encoders.ModelError:
        return None
    if encoder is None:
        return None
    if t.app.embeddings_pause.active():
        t.counts["embeddings_paused"] += 1
        return None
    return EmbeddingsTick(t, encoder)


EMBEDDINGS = Drain(
    "embeddings",
    open_tick,
    policy=GiveUp(MAX_ATTEMPTS),
    done_count="encoded",
    failed_count="encode_failed",
    failed_event="embedding_failed",
)


def embeddings_stage(t: TickContext) -> None:
    run_drain(t, EMBEDDINGS)


def notify_index(ctx: AppContext, version: str) -> None:
    """Let this process's search index pick up the rows just committed."""
    if ctx.search_index is not None:
        ctx.search_index.refresh(version)
