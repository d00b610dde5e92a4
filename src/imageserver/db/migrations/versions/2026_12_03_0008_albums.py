"""collections: favorites, archive, albums with members, public share links

Revision ID: 20261203_0008
Revises: 20261203_0007
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "20261203_0008"
down_revision = "20261203_0007"
branch_labels = None
depends_on = None


def _fk(table: str, column: str, target: str, ondelete: str = "CASCADE") -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], [f"{target}.id"], name=f"fk_{table}_{column}_{target}", ondelete=ondelete
    )


def _marks(name: str) -> None:
    op.create_table(
        name,
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("media_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        _fk(name, "user_id", "users"),
        _fk(name, "media_id", "media"),
        sa.PrimaryKeyConstraint("user_id", "media_id", name=f"pk_{name}"),
    )
    op.create_index(f"ix_{name}_media_id", name, ["media_id"])


def upgrade() -> None:
    _marks("favorites")
    _marks("archives")
    op.create_table(
        "albums",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False, server_default=""),
        sa.Column("cover_media_id", sa.Integer(), nullable=True),
        sa.Column("sort_order", sa.String(16), nullable=False, server_default="taken_asc"),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
        _fk("albums", "owner_id", "users"),
        _fk("albums", "cover_media_id", "media", "SET NULL"),
        sa.PrimaryKeyConstraint("id", name="pk_albums"),
    )
    op.create_index("ix_albums_owner_id", "albums", ["owner_id"])
    op.create_table(
        "album_items",
        sa.Column("album_id", sa.Integer(), nullable=False),
        sa.Column("media_id", sa.Integer(), nullable=False),
        sa.Column("added_by", sa.Integer(), nullable=True),
        sa.Column("added_at", sa.Float(), nullable=False),
        _fk("album_items", "album_id", "albums"),
        _fk("album_items", "media_id", "media"),
        sa.ForeignKeyConstraint(
            ["added_by"], ["users.id"], name="fk_album_items_added_by_users", ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("album_id", "media_id", name="pk_album_items"),
    )
    op.create_index("ix_album_items_media_id", "album_items", ["media_id"])
    op.create_table(
        "album_members",
        sa.Column("album_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(8), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        _fk("album_members", "album_id", "albums"),
        _fk("album_members", "user_id", "users"),
        sa.PrimaryKeyConstraint("album_id", "user_id", name="pk_album_members"),
    )
    op.create_index("ix_album_members_user_id", "album_members", ["user_id"])
    op.create_table(
        "shares",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("token", sa.String(64), nullable=False),
        sa.Column("album_id", sa.Integer(), nullable=True),
        sa.Column("expires_at", sa.Float(), nullable=True),
        sa.Column("password_hash", sa.String(255), nullable=True),
        sa.Column("allow_download", sa.Boolean(), nullable=False),
        sa.Column("show_metadata", sa.Boolean(), nullable=False),
        sa.Column("view_count", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("last_viewed_at", sa.Float(), nullable=True),
        sa.Column("created_at", sa.Float(), nullable=False),
        _fk("shares", "owner_id", "users"),
        _fk("shares", "album_id", "albums"),
        sa.PrimaryKeyConstraint("id", name="pk_shares"),
        sa.UniqueConstraint("token", name="uq_shares_token"),
    )
    op.create_index("ix_shares_owner_id", "shares", ["owner_id"])
    op.create_table(
        "share_items",
        sa.Column("share_id", sa.Integer(), nullable=False),
        sa.Column("media_id", sa.Integer(), nullable=False),
        _fk("share_items", "share_id", "shares"),
        _fk("share_items", "media_id", "media"),
        sa.PrimaryKeyConstraint("share_id", "media_id", name="pk_share_items"),
    )
    op.create_index("ix_share_items_media_id", "share_items", ["media_id"])


def downgrade() -> None:
    for table in ("share_items", "shares", "album_members", "album_items"):
        op.drop_table(table)
    op.drop_table("albums")
    op.drop_table("archives")
    op.drop_table("favorites")
