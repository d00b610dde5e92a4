"""media rows and hash-keyed derived data (artefacts, embeddings, faces, people)

Revision ID: 20261125_0002
Revises: 20261125_0001
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "20261125_0002"
down_revision = "20261125_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "media",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("library_id", sa.Integer(), nullable=False),
        sa.Column("rel_path", sa.Text(), nullable=False),
        sa.Column("folder", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("format", sa.String(16), nullable=False),
        sa.Column("mime", sa.String(64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("mtime_ns", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.Column("seen_at", sa.Float(), nullable=False),
        sa.Column("retired_at", sa.Float(), nullable=True),
        sa.Column("content_hash", sa.String(64), nullable=True),
        sa.Column("hash_error", sa.Text(), nullable=True),
        sa.Column("hash_attempts", sa.Integer(), nullable=False),
        sa.Column("hash_retry_at", sa.Float(), nullable=True),
        sa.Column("meta_status", sa.String(16), nullable=False),
        sa.Column("meta_error", sa.Text(), nullable=True),
        sa.Column("meta_attempts", sa.Integer(), nullable=False),
        sa.Column("meta_retry_at", sa.Float(), nullable=True),
        sa.Column("meta_reader", sa.String(16), nullable=True),
        sa.Column("taken_at", sa.DateTime(timezone=False), nullable=False),
        sa.Column("taken_at_offset_min", sa.SmallInteger(), nullable=True),
        sa.Column("taken_at_source", sa.String(40), nullable=False),
        sa.Column("make", sa.String(255), nullable=True),
        sa.Column("model", sa.String(255), nullable=True),
        sa.Column("lens", sa.String(255), nullable=True),
        sa.Column("width", sa.Integer(), nullable=True),
        sa.Column("height", sa.Integer(), nullable=True),
        sa.Column("orientation", sa.SmallInteger(), nullable=True),
        sa.Column("latitude", sa.Float(), nullable=True),
        sa.Column("longitude", sa.Float(), nullable=True),
        sa.Column("altitude", sa.Float(), nullable=True),
        sa.Column("iso", sa.Integer(), nullable=True),
        sa.Column("f_number", sa.Float(), nullable=True),
        sa.Column("exposure_time", sa.Float(), nullable=True),
        sa.Column("focal_length", sa.Float(), nullable=True),
        sa.Column("duration", sa.Float(), nullable=True),
        sa.Column("video_codec", sa.String(32), nullable=True),
        sa.Column("audio_codec", sa.String(32), nullable=True),
        sa.Column("fps", sa.Float(), nullable=True),
        sa.Column("rotation", sa.SmallInteger(), nullable=True),
        sa.Column("extra", sa.JSON(), nullable=True),
        sa.Column("companion_id", sa.Integer(), nullable=True),
        sa.Column("companion_role", sa.String(8), nullable=True),
        sa.Column("motion_offset", sa.BigInteger(), nullable=True),
        sa.Column("motion_length", sa.BigInteger(), nullable=True),
        sa.Column("lease_owner", sa.String(64), nullable=True),
        sa.Column("lease_until", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(
            ["library_id"],
            ["libraries.id"],
            name="fk_media_library_id_libraries",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["companion_id"], ["media.id"], name="fk_media_companion_id_media", ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_media"),
        sa.UniqueConstraint("library_id", "rel_path", name="uq_media_library_id_rel_path"),
    )
    op.create_index("ix_media_listing", "media", ["library_id", "retired_at", "taken_at", "id"])
    op.create_index("ix_media_taken", "media", ["taken_at", "id"])
    op.create_index("ix_media_content_hash", "media", ["content_hash"])
    op.create_index("ix_media_folder", "media", ["library_id", "folder"])
    op.create_index("ix_media_meta_status", "media", ["meta_status"])

    op.create_table(
        "artefacts",
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(80), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.Float(), nullable=True),
        sa.Column("lease_owner", sa.String(64), nullable=True),
        sa.Column("lease_until", sa.Float(), nullable=True),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("content_hash", "kind", name="pk_artefacts"),
    )
    op.create_index("ix_artefacts_kind_status", "artefacts", ["kind", "status"])

    op.create_table(
        "clip_embeddings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("model_version", sa.String(160), nullable=False),
        sa.Column("dim", sa.Integer(), nullable=False),
        sa.Column("vector", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_clip_embeddings"),
        sa.UniqueConstraint(
            "content_hash", "model_version", name="uq_clip_embeddings_content_hash_model_version"
        ),
    )
    op.create_index("ix_clip_embeddings_version_id", "clip_embeddings", ["model_version", "id"])

    op.create_table(
        "people",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(200), nullable=True),
        sa.Column("hidden", sa.Boolean(), nullable=False),
        sa.Column("cover_face_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_people"),
    )
    op.create_table(
        "faces",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("face_index", sa.SmallInteger(), nullable=False),
        sa.Column("box_x", sa.Integer(), nullable=False),
        sa.Column("box_y", sa.Integer(), nullable=False),
        sa.Column("box_w", sa.Integer(), nullable=False),
        sa.Column("box_h", sa.Integer(), nullable=False),
        sa.Column("image_width", sa.Integer(), nullable=False),
        sa.Column("image_height", sa.Integer(), nullable=False),
        sa.Column("landmarks", sa.JSON(), nullable=False),
        sa.Column("embedding", sa.LargeBinary(), nullable=False),
        sa.Column("detector", sa.String(16), nullable=False),
        sa.Column("detection_score", sa.Float(), nullable=True),
        sa.Column("person_id", sa.Integer(), nullable=True),
        sa.Column("assignment", sa.String(8), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["person_id"], ["people.id"], name="fk_faces_person_id_people", ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_faces"),
        sa.UniqueConstraint("content_hash", "face_index", name="uq_faces_content_hash_face_index"),
    )
    op.create_index("ix_faces_person", "faces", ["person_id"])


def downgrade() -> None:
    op.drop_table("faces")
    op.drop_table("people")
    op.drop_table("clip_embeddings")
    op.drop_table("artefacts")
    op.drop_table("media")
