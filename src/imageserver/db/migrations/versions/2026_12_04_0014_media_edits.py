"""media edits: the household's overlay of an item's curation, and its history for undo;
the file's own date and GPS kept on curation_items while a curated one shows on the row

Revision ID: 20261204_0014
Revises: 20261204_0012
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "20261204_0014"
down_revision = "20261204_0012"
branch_labels = None
depends_on = None

FIELDS = ("taken_at", "location", "title", "description", "tags", "rating")


def _fk(table: str, column: str, target: str, ondelete: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], [f"{target}.id"], name=f"fk_{table}_{column}_{target}", ondelete=ondelete
    )


def _who(field: str) -> list[sa.Column[int] | sa.Column[float]]:
    return [
        sa.Column(f"{field}_by", sa.Integer(), nullable=True),
        sa.Column(f"{field}_set_at", sa.Float(), nullable=True),
    ]


def upgrade() -> None:
    op.create_table(
        "media_edits",
        sa.Column("media_id", sa.Integer(), nullable=False),
        sa.Column("taken_at", sa.DateTime(timezone=False), nullable=True),
        sa.Column("taken_at_offset_min", sa.SmallInteger(), nullable=True),
        *_who("taken_at"),
        sa.Column("latitude", sa.Float(), nullable=True),
        sa.Column("longitude", sa.Float(), nullable=True),
        *_who("location"),
        sa.Column("title", sa.Text(), nullable=True),
        *_who("title"),
        sa.Column("description", sa.Text(), nullable=True),
        *_who("description"),
        sa.Column("tags", sa.JSON(), nullable=True),
        *_who("tags"),
        sa.Column("rating", sa.SmallInteger(), nullable=True),
        *_who("rating"),
        sa.Column("updated_at", sa.Float(), nullable=False),
        _fk("media_edits", "media_id", "media", "CASCADE"),
        *[_fk("media_edits", f"{f}_by", "users", "SET NULL") for f in FIELDS],
        sa.PrimaryKeyConstraint("media_id", name="pk_media_edits"),
    )
    op.create_table(
        "media_edit_history",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("media_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("at", sa.Float(), nullable=False),
        sa.Column("before", sa.JSON(), nullable=False),
        sa.Column("after", sa.JSON(), nullable=False),
        sa.Column("undone_at", sa.Float(), nullable=True),
        sa.Column("undone_by", sa.Integer(), nullable=True),
        _fk("media_edit_history", "media_id", "media", "CASCADE"),
        _fk("media_edit_history", "user_id", "users", "SET NULL"),
        _fk("media_edit_history", "undone_by", "users", "SET NULL"),
        sa.PrimaryKeyConstraint("id", name="pk_media_edit_history"),
    )
    op.create_index("ix_media_edit_history_media_id", "media_edit_history", ["media_id", "id"])
    op.add_column("curation_items", sa.Column("file_values", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("curation_items") as batch:
        batch.drop_column("file_values")
    op.drop_index("ix_media_edit_history_media_id", table_name="media_edit_history")
    op.drop_table("media_edit_history")
    op.drop_table("media_edits")
