"""library grants: which users may see which libraries

Every library that exists when this runs is granted to every admin that exists, so an
upgrade hides nothing from the people who already used the server as its root.

Revision ID: 20261203_0007
Revises: 20261203_0006
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "20261203_0007"
down_revision = "20261203_0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "library_members",
        sa.Column("library_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["library_id"],
            ["libraries.id"],
            name="fk_library_members_library_id_libraries",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name="fk_library_members_user_id_users", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("library_id", "user_id", name="pk_library_members"),
    )
    op.create_index("ix_library_members_user_id", "library_members", ["user_id"])
    op.execute(
        "INSERT INTO library_members (library_id, user_id, created_at) "
        "SELECT libraries.id, users.id, libraries.created_at FROM libraries, users "
        "WHERE users.is_admin"
    )


def downgrade() -> None:
    op.drop_index("ix_library_members_user_id", table_name="library_members")
    op.drop_table("library_members")
