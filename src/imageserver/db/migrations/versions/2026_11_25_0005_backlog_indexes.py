"""backlog indexes and change counters

Quick ticks over an unchanged library must not cost O(rows): the per-row drains count their
backlog from partial indexes, and the hash-keyed drains are skipped while nothing has
changed since they were last idle. "Changed" is a counter per table kept by triggers (not
timestamps: several machines' clocks need not agree), plus the next retry falling due.

Revision ID: 20261125_0005
Revises: 20261125_0004
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "20261125_0005"
down_revision = "20261125_0004"
branch_labels = None
depends_on = None

HASH_BACKLOG = "content_hash IS NULL AND retired_at IS NULL"
META_BACKLOG = "meta_status = 'pending' AND retired_at IS NULL"


# Writes that can create work for a hash-keyed drain, per watched table.
TRIGGERS = {
    "media": "AFTER UPDATE OF content_hash, retired_at, library_id",
    "artefacts": "AFTER INSERT OR UPDATE OR DELETE",
}


def _sqlite_triggers() -> list[str]:
    statements = []
    for table, when in TRIGGERS.items():
        events = when.removeprefix("AFTER ").split(" OR ")
        for event in events:
            name = f"trg_changes_{table}_{event.split()[0].lower()}"
            statements.append(
                f"CREATE TRIGGER {name} AFTER {event} ON {table} "
                f"BEGIN UPDATE changes SET seq = seq + 1 WHERE name = '{table}'; END"
            )
    return statements


def _postgresql_triggers() -> list[str]:
    statements = [
        "CREATE FUNCTION bump_changes() RETURNS trigger LANGUAGE plpgsql AS $$ "
        "BEGIN UPDATE changes SET seq = seq + 1 WHERE name = TG_ARGV[0]; RETURN NULL; END $$"
    ]
    for table, when in TRIGGERS.items():
        statements.append(
            f"CREATE TRIGGER trg_changes_{table} {when} ON {table} "
            f"FOR EACH STATEMENT EXECUTE FUNCTION bump_changes('{table}')"
        )
    return statements


def upgrade() -> None:
    op.create_table(
        "changes",
        sa.Column("name", sa.String(32), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_changes"),
    )
    for table in TRIGGERS:
        op.execute(f"INSERT INTO changes (name, seq) VALUES ('{table}', 0)")
    dialect = op.get_bind().dialect.name
    for statement in _postgresql_triggers() if dialect == "postgresql" else _sqlite_triggers():
        op.execute(statement)
    op.create_index(
        "ix_media_hash_backlog",
        "media",
        ["library_id", "retired_at", "id"],
        sqlite_where=sa.text(HASH_BACKLOG),
        postgresql_where=sa.text(HASH_BACKLOG),
    )
    op.create_index(
        "ix_media_meta_backlog",
        "media",
        ["library_id", "retired_at", "id"],
        sqlite_where=sa.text(META_BACKLOG),
        postgresql_where=sa.text(META_BACKLOG),
    )
    op.create_index("ix_artefacts_retry", "artefacts", ["status", "next_attempt_at"])


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in TRIGGERS:
            op.execute(f"DROP TRIGGER trg_changes_{table} ON {table}")
        op.execute("DROP FUNCTION bump_changes()")
    else:
        for statement in _sqlite_triggers():
            op.execute("DROP TRIGGER " + statement.split()[2])
    op.drop_table("changes")
    op.drop_index("ix_artefacts_retry", table_name="artefacts")
    op.drop_index("ix_media_meta_backlog", table_name="media")
    op.drop_index("ix_media_hash_backlog", table_name="media")
