"""places: country, first-level region, nearest place and time zone of each GPS fix

Revision ID: 20261203_0009
Revises: 20261203_0007
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "20261203_0009"
down_revision = "20261203_0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "places",
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("latitude", sa.Float(), nullable=False),
        sa.Column("longitude", sa.Float(), nullable=False),
        sa.Column("country_code", sa.String(2), nullable=False),
        sa.Column("country", sa.String(100), nullable=False),
        sa.Column("region", sa.String(200), nullable=False),
        sa.Column("region_code", sa.String(16), nullable=False),
        sa.Column("place", sa.String(200), nullable=True),
        sa.Column("place_km", sa.Float(), nullable=True),
        sa.Column("timezone", sa.String(64), nullable=True),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("content_hash", name="pk_places"),
    )
    op.create_index("ix_places_country_region_place", "places", ["country_code", "region", "place"])


def downgrade() -> None:
    op.drop_index("ix_places_country_region_place", table_name="places")
    op.drop_table("places")
