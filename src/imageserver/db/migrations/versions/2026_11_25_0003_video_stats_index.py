"""covering index for per-hash video queries (/hls/stats at 100k videos)

Revision ID: 20261125_0003
Revises: 20261125_0002
Create Date: 2026-11-25
"""

from __future__ import annotations

from alembic import op

revision = "20261125_0003"
down_revision = "20261125_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_media_kind_live_hash",
        "media",
        ["kind", "retired_at", "content_hash", "library_id"],
    )


def downgrade() -> None:
    op.drop_index("ix_media_kind_live_hash", table_name="media")
