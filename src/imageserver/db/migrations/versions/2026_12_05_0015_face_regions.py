"""face regions: the named face boxes of an item's winning curation source, and a flag
the face drain clears once it has matched them

Revision ID: 20261205_0015
Revises: 20261204_0014
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "20261205_0015"
down_revision = "20261204_0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("curation_items") as batch:
        batch.add_column(sa.Column("regions", sa.JSON(), nullable=True))
        batch.add_column(
            sa.Column("regions_changed", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    op.create_index(
        "ix_curation_items_regions_changed", "curation_items", ["regions_changed", "media_id"]
    )
    # XMP read before this revision kept region names only: the next scan reads each XMP
    # sidecar and each file's embedded XMP once more (a changed file state is a re-read).
    op.execute("UPDATE sidecars SET mtime_ns = -1 WHERE kind = 'xmp'")
    op.execute("UPDATE curation_items SET embedded_key = NULL")


def downgrade() -> None:
    op.drop_index("ix_curation_items_regions_changed", table_name="curation_items")
    with op.batch_alter_table("curation_items") as batch:
        batch.drop_column("regions_changed")
        batch.drop_column("regions")
