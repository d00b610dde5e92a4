"""media by content hash, live and in a library: the lookup every hash-keyed feature makes

"Does a live row of a library in scope show this picture?" is asked per face (people list,
covers), per album item and per artefact. Keyed on content_hash alone, SQLite (which has no
statistics until ANALYZE) preferred ix_media_listing (library_id, retired_at) for it and
scanned every row of the library per face: /people over 20 000 items took minutes. With
content_hash, retired_at and library_id all equality terms of one index, both databases
take the one row(s) of that hash.

Revision ID: 20261203_0009b
Revises: 20261203_0009
Create Date: 2026-12-03
"""

from __future__ import annotations

from alembic import op

revision = "20261203_0009b"
down_revision = "20261203_0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_media_hash_live", "media", ["content_hash", "retired_at", "library_id"])


def downgrade() -> None:
    op.drop_index("ix_media_hash_live", table_name="media")
