"""video stats index: partial and covering (index-only scans on PostgreSQL)

Replaces ix_media_kind_live_hash (0003) with an index over live video rows only, ordered by
content hash: /hls/stats groups by hash straight from it on both databases.

Revision ID: 20261125_0004
Revises: 20261125_0003
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "20261125_0004"
down_revision = "20261125_0003"
branch_labels = None
depends_on = None

LIVE_VIDEO = "kind = 'video' AND retired_at IS NULL"


def upgrade() -> None:
    op.drop_index("ix_media_kind_live_hash", table_name="media")
    op.create_index(
        "ix_media_video_live",
        "media",
        ["content_hash", "library_id", "kind", "retired_at"],
        sqlite_where=sa.text(LIVE_VIDEO),
        postgresql_where=sa.text(LIVE_VIDEO),
    )


def downgrade() -> None:
    op.drop_index("ix_media_video_live", table_name="media")
    op.create_index(
        "ix_media_kind_live_hash", "media", ["kind", "retired_at", "content_hash", "library_id"]
    )
