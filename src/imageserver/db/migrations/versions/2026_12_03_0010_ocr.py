"""ocr: text read in pictures, per content hash, searchable by words and substrings

PostgreSQL gets a pg_trgm GIN index on the text (ILIKE '%...%' uses it). On SQLite the
substring index is an FTS5 table with the trigram tokenizer, `ocr_fts`, which
imageserver/ocr/repo.py creates and keeps beside `ocr_text` (virtual tables and their
shadow tables are not part of db/tables.py); the downgrade drops it too.

Revision ID: 20261203_0010
Revises: 20261203_0009b
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "20261203_0010"
down_revision = "20261203_0009b"
branch_labels = None
depends_on = None


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    if postgres:
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    op.create_table(
        "ocr_text",
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("lines", sa.JSON(), nullable=False),
        sa.Column("engine", sa.String(80), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("content_hash", name="pk_ocr_text"),
    )
    # PostgreSQL: the trigram GIN index; SQLite: an empty partial index of the same name
    # (nothing is indexed there, search uses the FTS5 table).
    op.create_index(
        "ix_ocr_text_trgm",
        "ocr_text",
        ["text"],
        postgresql_using="gin",
        postgresql_ops={"text": "gin_trgm_ops"},
        sqlite_where=sa.text("0"),
    )


def downgrade() -> None:
    op.drop_index("ix_ocr_text_trgm", table_name="ocr_text")
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TABLE IF EXISTS ocr_fts")
    op.drop_table("ocr_text")
