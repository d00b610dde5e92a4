"""libraries.walk_skipped: the files the last complete walk passed over, by reason

Revision ID: 20261204_0012
Revises: 20261204_0013
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "20261204_0012"
down_revision = "20261204_0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("libraries") as batch:
        batch.add_column(sa.Column("walk_skipped", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("libraries") as batch:
        batch.drop_column("walk_skipped")
