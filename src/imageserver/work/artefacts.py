"""State of hash-keyed derivations (the `artefacts` table), shared by every such drain.

No row means pending. A finished attempt writes `done`, `failed` (permanent: never
retried) or `retry` (transient: retried after an exponential backoff); work/outcome.py
decides which. Backlogs are queries, so a restart loses nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Connection, RowMapping, and_, func, or_, select
from sqlalchemy.dialects import postgresql, sqlite

from imageserver.db.tables import artefacts, libraries, media
from imageserver.work import leases
from imageserver.work.outcome import NEVER, GiveUp, Outcome, backoff, settle

log = logging.getLogger("imageserver.artefacts")

# Artefact kinds: one per derivation keyed by content hash.
THUMB_KIND = "thumb"
HLS_KIND = "hls"
FACES_KIND = "faces"
PLACES_KIND = "places"


def clip_kind(model_version: str) -> str:
    return f"clip:{model_version}"


def not_settled(kind: str, now: float) -> ColumnElement[bool]:
    """No state yet (or `pending`), or a retry whose time has come; and nobody's live lease."""
    a = artefacts.alias("a")
    settled = (
        select(a.c.content_hash)
        .where(
            a.c.content_hash == media.c.content_hash,
            a.c.kind == kind,
            or_(
                a.c.status.in_(("done", "failed")),
                and_(a.c.status == "retry", a.c.next_attempt_at > now),
                a.c.lease_until > now,
            ),
        )
        .exists()
    )
    return ~settled


def pending(
    conn: Connection,
    kind: str,
    media_kinds: Sequence[str],
    now: float,
    limit: int,
    library_id: int | None = None,
    formats: Sequence[str] | None = None,
) -> list[RowMapping]:
    """One representative live media row per content hash still waiting for `kind`."""
    where: list[ColumnElement[bool]] = [
        media.c.retired_at.is_(None),
        media.c.content_hash.is_not(None),
        media.c.kind.in_(media_kinds),
        not_settled(kind, now),
        libraries.c.enabled.is_(True),
    ]
    if library_id is not None:
        where.append(media.c.library_id == library_id)
    if formats is not None:
        where.append(media.c.format.in_(formats))
    firsts = (
        select(func.min(media.c.id).label("id"))
        .select_from(media.join(libraries, libraries.c.id == media.c.library_id))
        .where(*where)
        .group_by(media.c.content_hash)
        .limit(limit)
        .subquery()
    )
    query = (
        select(media, libraries.c.root_path)
        .select_from(media.join(libraries, libraries.c.id == media.c.library_id))
        .where(media.c.id.in_(select(firsts.c.id)))
        .order_by(media.c.id)
    )
    return list(conn.execute(query).mappings())


def count_pending(
    conn: Connection, kind: str, media_kinds: Sequence[str], now: float, library_id: int
) -> int:
    query = select(func.count(func.distinct(media.c.content_hash))).where(
        media.c.library_id == library_id,
        media.c.retired_at.is_(None),
        media.c.content_hash.is_not(None),
        media.c.kind.in_(media_kinds),
        not_settled(kind, now),
    )
    return int(conn.execute(query).scalar_one())


def get(conn: Connection, content_hash: str, kind: str) -> RowMapping | None:
    query = select(artefacts).where(
        artefacts.c.content_hash == content_hash, artefacts.c.kind == kind
    )
    return conn.execute(query).mappings().first()


def _insert_fn(conn: Connection) -> Any:
    return postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert


def lease(
    conn: Connection,
    kind: str,
    hashes: Sequence[str],
    now: float,
    seconds: float | None = None,
) -> set[str]:
    """Claim `kind` work on these hashes for this process; the claimed subset comes back.

    A hash is claimable when it has no state yet (or `pending`) or a retry whose time has
    come, and nobody else holds a live lease on it. The lease lives beside the status
    (lease_owner, lease_until), so releasing it restores the state untouched. Runs as one
    INSERT ... ON CONFLICT DO UPDATE ... WHERE ... RETURNING: two processes offered the
    same hashes never both win one, as the database serialises them on the primary key and
    the loser's conditional update matches nothing.
    """
    unique = sorted(set(hashes))
    if not unique:
        return set()
    me = leases.owner()
    until = now + (leases.lease_seconds() if seconds is None else seconds)
    rows = [
        {
            "content_hash": h,
            "kind": kind,
            "status": "pending",
            "attempts": 0,
            "lease_owner": me,
            "lease_until": until,
            "updated_at": now,
        }
        for h in unique
    ]
    stmt = _insert_fn(conn)(artefacts).values(rows)
    wanted = or_(
        artefacts.c.status == "pending",
        and_(artefacts.c.status == "retry", artefacts.c.next_attempt_at <= now),
    )
    free = or_(
        artefacts.c.lease_until.is_(None),
        artefacts.c.lease_until <= now,
        artefacts.c.lease_owner == me,
    )
    stmt = stmt.on_conflict_do_update(
        index_elements=[artefacts.c.content_hash, artefacts.c.kind],
        set_={"lease_owner": me, "lease_until": until, "updated_at": now},
        where=and_(wanted, free),
    ).returning(artefacts.c.content_hash)
    return {r[0] for r in conn.execute(stmt)}


def _set_my_leases(conn: Connection, kind: str, hashes: Sequence[str], until: float | None) -> None:
    """Set lease_until on this process's leases of `kind` on `hashes` (None: release)."""
    if not hashes:
        return
    mine = artefacts.update().where(
        artefacts.c.kind == kind,
        artefacts.c.content_hash.in_(list(hashes)),
        artefacts.c.lease_owner == leases.owner(),
    )
    if until is None:
        conn.execute(mine.values(lease_owner=None, lease_until=None))
    else:
        conn.execute(mine.values(lease_until=until))


def release(conn: Connection, kind: str, hashes: Sequence[str]) -> None:
    """Give back leases this process will not use (work left undone this tick)."""
    _set_my_leases(conn, kind, hashes, None)


def renew(conn: Connection, kind: str, hashes: Sequence[str], until: float) -> None:
    """Extend this process's live leases (long work that outlasts one lease)."""
    _set_my_leases(conn, kind, hashes, until)


def claim(
    conn: Connection,
    kind: str,
    media_kinds: Sequence[str],
    now: float,
    limit: int,
    library_id: int | None = None,
    seconds: float | None = None,
) -> list[RowMapping]:
    """`pending` rows whose hash this process managed to lease (call inside a transaction)."""
    rows = pending(conn, kind, media_kinds, now, limit, library_id)
    won = lease(conn, kind, [r["content_hash"] for r in rows], now, seconds)
    return [r for r in rows if r["content_hash"] in won]


def attempts_of(conn: Connection, content_hash: str, kind: str) -> int:
    """Attempts recorded so far (0: none yet)."""
    previous = get(conn, content_hash, kind)
    return int(previous["attempts"]) if previous else 0


def record(
    conn: Connection,
    content_hash: str,
    kind: str,
    outcome: Outcome,
    now: float,
    policy: GiveUp = NEVER,
) -> Outcome:
    """Upsert the outcome of one attempt; a retry schedules the next one with backoff, or
    is given up by `settle` under the drain's policy. The outcome recorded comes back.

    The write is refused (and logged) when another process holds a live lease on the item:
    this one's lease expired mid-work and the item belongs to someone else now.
    """
    attempts = attempts_of(conn, content_hash, kind) + 1
    outcome = settle(outcome, attempts, policy)
    status, detail = outcome.status, outcome.detail
    values = {
        "content_hash": content_hash,
        "kind": kind,
        "status": status,
        "detail": detail,
        "attempts": attempts,
        "next_attempt_at": now + backoff(attempts) if status == "retry" else None,
        "lease_owner": None,
        "lease_until": None,
        "updated_at": now,
    }
    stmt = _insert_fn(conn)(artefacts).values(**values)
    # IS NOT NULL first: an unleased row makes the comparisons NULL, and NOT NULL would
    # refuse the write (a retry could never become done).
    someone_elses = and_(
        artefacts.c.lease_until.is_not(None),
        artefacts.c.lease_owner.is_not(None),
        artefacts.c.lease_until > now,
        artefacts.c.lease_owner != leases.owner(),
    )
    stmt = stmt.on_conflict_do_update(
        index_elements=[artefacts.c.content_hash, artefacts.c.kind],
        set_={k: v for k, v in values.items() if k not in ("content_hash", "kind")},
        where=~someone_elses,
    )
    if conn.execute(stmt).rowcount == 0:
        log.warning("event=lease_lost kind=%s hash=%s", kind, content_hash)
    return outcome


def forget(conn: Connection, content_hash: str, kind: str) -> None:
    """Drop the state so the artefact is made again (its file went missing, say)."""
    conn.execute(
        artefacts.delete().where(artefacts.c.content_hash == content_hash, artefacts.c.kind == kind)
    )
