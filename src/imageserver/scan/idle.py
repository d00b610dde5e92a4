"""Skip hash-keyed drains while nothing they depend on has changed.

A drain's backlog query ("live hashes without a done artefact of my kind") is an anti-join
over every media row: cheap enough per tick while there is work, but it would make every
quick tick over an unchanged 100k library cost O(rows) five times over. New work for these
drains can only come from a write that leaves a trace: a media row's hash or retirement
changing, an artefact written, leased or deleted, or a retry or lease falling due.
Database triggers count those writes in the `changes` table (migration 0005); a drain
found idle at one watermark is skipped until the watermark moves.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, func, select

from imageserver.db.tables import artefacts, changes


@dataclass(frozen=True)
class Watermark:
    seqs: tuple[tuple[str, int], ...]  # change counters per watched table
    next_due: float | None  # earliest retry time or lease expiry of any artefact


def read_watermark(conn: Connection) -> Watermark:
    seqs = tuple(sorted((r.name, int(r.seq)) for r in conn.execute(select(changes))))
    retry = conn.execute(
        select(func.min(artefacts.c.next_attempt_at)).where(artefacts.c.status == "retry")
    ).scalar()
    lease = conn.execute(select(func.min(artefacts.c.lease_until))).scalar()
    present = [v for v in (retry, lease) if v is not None]
    return Watermark(seqs=seqs, next_due=min(present) if present else None)


class IdleTracker:
    """Per (library, drain): the watermark at which that drain last found no work."""

    def __init__(self) -> None:
        self._idle: dict[tuple[int, str], Watermark] = {}

    def can_skip(self, library_id: int, drain: str, mark: Watermark, now: float) -> bool:
        previous = self._idle.get((library_id, drain))
        if not mark.seqs or previous is None or previous.seqs != mark.seqs:
            return False  # no counters (never expected): always look
        return mark.next_due is None or mark.next_due > now

    def update(self, library_id: int, drain: str, mark: Watermark, pending: int) -> None:
        """Remember an idle drain; forget it as soon as it reports work."""
        if pending == 0:
            self._idle[(library_id, drain)] = mark
        else:
            self._idle.pop((library_id, drain), None)

    def forget(self, library_id: int) -> None:
        for key in [k for k in self._idle if k[0] == library_id]:
            del self._idle[key]
