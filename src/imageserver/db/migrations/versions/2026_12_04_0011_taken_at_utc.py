"""media.taken_at_utc: the grid sorts by the instant, not by the camera's wall clock

A trip across zones listed by wall-clock time puts a photo taken at 09:00 in Lisbon after
one taken at 08:00 in Berlin, though it came an hour later. The instant is the wall time
less its offset: the file's own, else the zone at its GPS fix (the places drain's answer),
else the server's zone. Existing rows are filled here in batches with the same rule, so a
cursor over an upgraded database is exact at once; the keyset indexes move to the new key.

Revision ID: 20261204_0011
Revises: 20261203_0010
Create Date: 2026-12-04
"""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import sqlalchemy as sa
from alembic import op

revision = "20261204_0011"
down_revision = "20261203_0010"
branch_labels = None
depends_on = None

BATCH = 5000


def _instant(taken: datetime, offset: int | None, source: str, zone: str | None) -> datetime:
    """media.localtime.sort_instant, frozen here as migrations must not import the app."""
    naive = taken.replace(tzinfo=None)
    if offset is not None:
        aware = naive.replace(tzinfo=timezone(timedelta(minutes=offset)))
    else:
        aware = naive.astimezone()
        if zone and source != "file_mtime":
            with contextlib.suppress(ZoneInfoNotFoundError, ValueError):
                aware = naive.replace(tzinfo=ZoneInfo(zone), fold=0)
    return aware.astimezone(UTC).replace(tzinfo=None)


def _backfill(conn: sa.Connection) -> None:
    media = sa.table(
        "media",
        sa.column("id", sa.Integer),
        sa.column("content_hash", sa.String),
        sa.column("taken_at", sa.DateTime),
        sa.column("taken_at_offset_min", sa.SmallInteger),
        sa.column("taken_at_source", sa.String),
        sa.column("taken_at_utc", sa.DateTime),
    )
    places = sa.table("places", sa.column("content_hash", sa.String), sa.column("timezone"))
    joined = media.outerjoin(places, places.c.content_hash == media.c.content_hash)
    last = 0
    while True:
        rows = conn.execute(
            sa.select(
                media.c.id,
                media.c.taken_at,
                media.c.taken_at_offset_min,
                media.c.taken_at_source,
                places.c.timezone,
            )
            .select_from(joined)
            .where(media.c.id > last)
            .order_by(media.c.id)
            .limit(BATCH)
        ).all()
        if not rows:
            return
        values = [
            {
                "row_id": r.id,
                "utc": _instant(r.taken_at, r.taken_at_offset_min, r.taken_at_source, r.timezone),
            }
            for r in rows
        ]
        conn.execute(
            media.update()
            .where(media.c.id == sa.bindparam("row_id"))
            .values(taken_at_utc=sa.bindparam("utc")),
            values,
        )
        last = rows[-1].id


def upgrade() -> None:
    # NOT NULL from the start with a placeholder default, filled at once below: SQLite adds
    # such a column in place, where making it NOT NULL later would rebuild `media` (and,
    # with foreign keys on, its drop would cascade into faces, albums and marks).
    placeholder = sa.text("'1970-01-01 00:00:00'")
    op.add_column(
        "media",
        sa.Column(
            "taken_at_utc",
            sa.DateTime(timezone=False),
            nullable=False,
            server_default=placeholder,
        ),
    )
    _backfill(op.get_bind())
    if op.get_bind().dialect.name == "postgresql":
        op.alter_column("media", "taken_at_utc", server_default=None)
    op.drop_index("ix_media_listing", table_name="media")
    op.create_index(
        "ix_media_listing_utc", "media", ["library_id", "retired_at", "taken_at_utc", "id"]
    )
    op.create_index("ix_media_taken_utc", "media", ["taken_at_utc", "id"])


def downgrade() -> None:
    op.drop_index("ix_media_taken_utc", table_name="media")
    op.drop_index("ix_media_listing_utc", table_name="media")
    op.create_index("ix_media_listing", "media", ["library_id", "retired_at", "taken_at", "id"])
    op.drop_column("media", "taken_at_utc")
