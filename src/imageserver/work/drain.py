"""The one Drain protocol and its one runner: claim, run, record, retry or give up, report.

Every drain of a tick (hash, metadata, thumbnails, embeddings, faces, video) is declared
as a `Drain`: a name, a give-up policy and `open`, which returns the tick's `DrainRun` (or
None when the drain idles this tick: no model configured, feature off, service paused).
`run_drain` then does the same for all of them:

1. lease a bounded chunk (`claim`, one short transaction each, so several workers share
   a backlog evenly and nothing is leased that this tick will not reach);
2. do the slow part off the database (`work`, usually in the shared drain pool);
3. in one transaction per chunk, turn each result into an `Outcome`, apply the drain's
   give-up policy to it (`outcome.settle`, with the attempts the item's state holds) and
   `write` it; count it, update DRAIN_DONE / DRAIN_FAILED, log a failure once;
4. stop early when the run says so (`go_on`: the encoder went down);
5. report the backlog left in `t.pending[name]` and the BACKLOG gauge.

Two claim strategies sit behind the protocol: per-row drains keep their state on the
media row (hash, metadata: `RowRun` in media/drains.py), per-hash drains keep it in the
`artefacts` table (`HashRun` below). Adding a drain is one module defining a `Drain` and
one entry in scan/pipeline.py.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from sqlalchemy import Connection

from imageserver.telemetry.metrics import BACKLOG, DRAIN_DONE, DRAIN_FAILED
from imageserver.work import artefacts
from imageserver.work.outcome import NEVER, GiveUp, Outcome, settle
from imageserver.work.tick import TickContext

log = logging.getLogger("imageserver.drains")

Item = TypeVar("Item")
Result = TypeVar("Result")


class DrainRun(Protocol[Item, Result]):
    """One tick of one drain. Implementations usually extend `BaseRun` or `HashRun`."""

    total: int  # items this tick at most
    chunk: int  # items leased, worked and written together
    has_upfront: bool  # False: no `upfront` pass (and no write transaction for it)

    def upfront(self, conn: Connection) -> list[tuple[Item, Outcome]]:
        """Items leased whose outcome is known without work (a preview never made)."""
        ...

    def claim(self, conn: Connection, limit: int) -> list[Item]: ...

    def work(self, items: Sequence[Item]) -> list[Result]: ...

    def outcome(self, item: Item, result: Result) -> Outcome | None:
        """None: nothing to record (the file changed while read); `skip` runs instead."""
        ...

    def attempts(self, conn: Connection, item: Item) -> int:
        """Attempts recorded before this one."""
        ...

    def write(
        self, conn: Connection, item: Item, result: Result | None, outcome: Outcome, attempts: int
    ) -> bool:
        """Persist the settled outcome; False when nothing was written (lease lost)."""
        ...

    def skip(self, conn: Connection, item: Item) -> None: ...

    def written(self, conn: Connection) -> None:
        """After a chunk's outcomes, in the same transaction (vectors, faces and people)."""
        ...

    def go_on(self) -> bool: ...

    def path(self, item: Item) -> str: ...

    def pending(self, conn: Connection) -> int | None:
        """The backlog left (None: the drain reports it itself, as video does)."""
        ...

    def close(self) -> None:
        """The tick's run is over (memory back to the OS, the search index told)."""
        ...


@dataclass(frozen=True)
class Drain:
    """A drain as the pipeline declares it."""

    name: str  # the t.pending key and the drain label of the metrics
    open: Callable[[TickContext], DrainRun[Any, Any] | None]
    done_count: str  # the tick summary's counter of items done ("hashed", ...)
    failed_event: str  # logged once per failed item ("hash_failed", ...)
    policy: GiveUp = NEVER
    failed_count: str = "failed"
    failed_level: int = logging.INFO

    def stage(self, t: TickContext) -> None:
        """The pipeline's stage for this drain: one tick of it (`run_drain`)."""
        run_drain(t, self)


def when_enabled(
    run: Callable[[TickContext], DrainRun[Any, Any]], setting: str
) -> Callable[[TickContext], DrainRun[Any, Any] | None]:
    """An opener that runs the drain only while the boolean setting `setting` is on, so
    turning a feature off in the settings stops its work at the next tick."""

    def open_tick(t: TickContext) -> DrainRun[Any, Any] | None:
        return run(t) if getattr(t.app.settings, setting) else None

    return open_tick


class BaseRun(Generic[Item, Result]):
    """Defaults: no up-front items, the slow part is `one` per item in the drain pool."""

    total = 0
    chunk = 1
    has_upfront = False

    def __init__(self, t: TickContext) -> None:
        self.t = t

    def upfront(self, conn: Connection) -> list[tuple[Item, Outcome]]:
        return []

    def one(self, item: Item) -> Result:
        raise NotImplementedError

    def work(self, items: Sequence[Item]) -> list[Result]:
        return list(self.t.app.pool.map(self.one, items))

    def skip(self, conn: Connection, item: Item) -> None:
        return None

    def written(self, conn: Connection) -> None:
        return None

    def go_on(self) -> bool:
        return True

    def path(self, item: Item) -> str:
        return str(item["rel_path"])  # type: ignore[index]

    def close(self) -> None:
        return None


class HashRun(BaseRun[Item, Result]):
    """Per-hash state in the `artefacts` table under one kind; items are media rows."""

    kind = ""

    def attempts(self, conn: Connection, item: Item) -> int:
        return artefacts.attempts_of(conn, self.digest(item), self.kind)

    def digest(self, item: Item) -> str:
        return str(item["content_hash"])  # type: ignore[index]

    def write(
        self, conn: Connection, item: Item, result: Result | None, outcome: Outcome, attempts: int
    ) -> bool:
        artefacts.record(conn, self.digest(item), self.kind, outcome, self.t.now)
        return True

    def lease(self, conn: Connection, items: list[Item]) -> list[Item]:
        """The items whose hash this process managed to lease (call inside a transaction)."""
        won = artefacts.lease(conn, self.kind, [self.digest(i) for i in items], self.t.now)
        return [i for i in items if self.digest(i) in won]


def claimed_chunks(
    t: TickContext, claim: Callable[[Connection, int], list[Item]], total: int, size: int
) -> Iterator[list[Item]]:
    """Lease work a chunk at a time (up to `total` per tick), each claim its own short
    transaction: several workers then share a backlog evenly instead of one taking it all."""
    left = total
    while left > 0:
        with t.app.engine.begin() as conn:
            chunk = claim(conn, min(size, left))
        if not chunk:
            return
        left -= len(chunk)
        yield chunk


def run_drain(t: TickContext, drain: Drain) -> None:
    """One tick of `drain` over `t.library`: see the module docstring."""
    run = drain.open(t)
    if run is None:
        return
    engine = t.app.engine
    try:
        if run.has_upfront:
            with engine.begin() as conn:
                for item, outcome in run.upfront(conn):
                    _record(t, drain, run, conn, item, None, outcome)
                run.written(conn)
        for chunk in claimed_chunks(t, run.claim, run.total, run.chunk):
            results = run.work(chunk)
            with engine.begin() as conn:
                for item, result in zip(chunk, results, strict=True):
                    judged = run.outcome(item, result)
                    if judged is None:
                        run.skip(conn, item)
                    else:
                        _record(t, drain, run, conn, item, result, judged)
                run.written(conn)
            if not run.go_on():
                break
    finally:
        run.close()
    with engine.connect() as conn:
        left = run.pending(conn)
    if left is not None:
        t.pending[drain.name] = left
        BACKLOG.labels(t.library.name, drain.name).set(left)


def _record(
    t: TickContext,
    drain: Drain,
    run: DrainRun[Any, Any],
    conn: Connection,
    item: Any,
    result: Any,
    outcome: Outcome,
) -> None:
    """Settle (the one place a retry is given up), write, count, log."""
    attempts = run.attempts(conn, item) + 1
    outcome = settle(outcome, attempts, drain.policy)
    written = run.write(conn, item, result, outcome, attempts)
    if outcome.status == "done":
        if written:
            t.counts[drain.done_count] += 1
            DRAIN_DONE.labels(drain.name).inc()
        return
    t.counts[drain.failed_count] += 1
    DRAIN_FAILED.labels(drain.name, str(outcome.permanent).lower()).inc()
    log.log(
        drain.failed_level,
        "event=%s library=%s path=%r permanent=%s reason=%r",
        drain.failed_event,
        t.library.name,
        run.path(item),
        outcome.permanent,
        outcome.detail,
    )
