"""curation: sidecars beside media files, embedded and effective curation, tags

Revision ID: 20261204_0013
Revises: 20261204_0011
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "20261204_0013"
down_revision = "20261204_0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sidecars",
        sa.Column("library_id", sa.Integer(), nullable=False),
        sa.Column("media_path", sa.Text(), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("folder", sa.Text(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("mtime_ns", sa.BigInteger(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("read_at", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["library_id"],
            ["libraries.id"],
            name="fk_sidecars_library_id_libraries",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("library_id", "media_path", "path", name="pk_sidecars"),
    )
    op.create_index("ix_sidecars_library_id_folder", "sidecars", ["library_id", "folder"])
    op.create_table(
        "curation_items",
        sa.Column("media_id", sa.Integer(), nullable=False),
        sa.Column("embedded_key", sa.String(64), nullable=True),
        sa.Column("embedded", sa.JSON(), nullable=True),
        sa.Column("rating", sa.SmallInteger(), nullable=True),
        sa.Column("label", sa.String(32), nullable=True),
        sa.Column("title", sa.Text(), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("taken_at", sa.DateTime(timezone=False), nullable=True),
        sa.Column("taken_at_offset_min", sa.SmallInteger(), nullable=True),
        sa.Column("latitude", sa.Float(), nullable=True),
        sa.Column("longitude", sa.Float(), nullable=True),
        sa.Column("people", sa.JSON(), nullable=True),
        sa.Column("sources", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["media_id"], ["media.id"], name="fk_curation_items_media_id_media", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("media_id", name="pk_curation_items"),
    )
    op.create_table(
        "item_tags",
        sa.Column("media_id", sa.Integer(), nullable=False),
        sa.Column("tag", sa.String(500), nullable=False),
        sa.ForeignKeyConstraint(
            ["media_id"], ["media.id"], name="fk_item_tags_media_id_media", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("media_id", "tag", name="pk_item_tags"),
    )
    op.create_index("ix_item_tags_tag", "item_tags", ["tag"])


def downgrade() -> None:
    op.drop_index("ix_item_tags_tag", table_name="item_tags")
    op.drop_table("item_tags")
    op.drop_table("curation_items")
    op.drop_index("ix_sidecars_library_id_folder", table_name="sidecars")
    op.drop_table("sidecars")
