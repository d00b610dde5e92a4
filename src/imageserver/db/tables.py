"""Every table of the schema, in one file so the whole data model reads at once.

Times the server makes (created, updated, leases, retries) are float epoch seconds: the
same on SQLite and PostgreSQL, trivially comparable, no time-zone ambiguity. Only
`media.taken_at` is a calendar value (the wall-clock time the camera recorded), kept naive
with its UTC offset beside it when the file states one.

Derived data is keyed by `content_hash` (blake3-256, 64 lowercase hex), never by path, so
the same bytes at several paths are thumbnailed, transcoded, embedded and face-scanned once.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
    func,
    text,
)

from imageserver.clock import wall_to_utc

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING)


def _utc_default(context: Any) -> datetime:
    """A row written with only its wall-clock time gets the instant the file or the server
    zone gives; writers that know the GPS zone set `taken_at_utc` themselves."""
    params = context.get_current_parameters()
    return wall_to_utc(params["taken_at"], params.get("taken_at_offset_min"))


HASH_LEN = 64

# Change counters kept by database triggers (migration 0005): one row per watched table,
# bumped on every write that can create work for a hash-keyed drain. Clock-free, so
# processes on machines with skewed clocks still agree on "something changed".
changes = Table(
    "changes",
    metadata,
    Column("name", String(32), primary_key=True),
    Column("seq", BigInteger, nullable=False),
)

kv = Table(
    "kv",
    metadata,
    Column("key", String(100), primary_key=True),
    Column("value", Text, nullable=False),
)

users = Table(
    "users",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("username", String(150), nullable=False, unique=True),
    Column("password_hash", String(255), nullable=False),
    Column("is_admin", Boolean, nullable=False, default=False),
    Column("created_at", Float, nullable=False),
    Column("password_changed_at", Float, nullable=False),
    # 'admin' or 'member' (migration 0006); `is_admin` is kept equal to role == 'admin'.
    Column("role", String(16), nullable=False, server_default="member"),
    Column("disabled_at", Float, nullable=True),
)
# Usernames are unique and looked up case-insensitively.
Index("uq_users_username_ci", func.lower(users.c.username), unique=True)

# What an access token (and the stream tokens it mints) points at: no row, no access.
sessions = Table(
    "sessions",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("expires_at", Float, nullable=False),
    # Refreshed at most once a minute (auth.sessions.TOUCH_EVERY), not on every request.
    Column("last_seen_at", Float, nullable=False),
    Column("user_agent", String(200), nullable=True),
    Column("address", String(64), nullable=True),
    Index("ix_sessions_user_id", "user_id"),
)

# Keys for scripts and apps: only the sha256 of the (high-entropy) secret is stored.
api_keys = Table(
    "api_keys",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(100), nullable=False),
    Column("prefix", String(16), nullable=False),
    Column("secret_hash", String(64), nullable=False, unique=True),
    Column("read_only", Boolean, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("last_used_at", Float, nullable=True),
    Index("ix_api_keys_user_id", "user_id"),
)

libraries = Table(
    "libraries",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(200), nullable=False, unique=True),
    Column("root_path", Text, nullable=False),
    Column("enabled", Boolean, nullable=False, default=True),
    Column("excluded_dirs", JSON, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    # Written by the watcher's probe so every process (and replica) sees the same health.
    Column("health", String(16), nullable=False, default="unknown"),
    Column("health_reason", Text, nullable=True),
    Column("health_checked_at", Float, nullable=True),
    Column("last_quick_scan_at", Float, nullable=True),
    Column("last_full_scan_at", Float, nullable=True),
    # Files the last complete walk passed over, by reason with examples (media/skipped.py).
    Column("walk_skipped", JSON, nullable=True),
)

# Library grants: a user sees the media of exactly the libraries granted here (admins
# included: they manage every library but see the media of the granted ones only).
library_members = Table(
    "library_members",
    metadata,
    Column("library_id", Integer, ForeignKey("libraries.id", ondelete="CASCADE"), nullable=False),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("created_at", Float, nullable=False),
    PrimaryKeyConstraint("library_id", "user_id"),
    Index("ix_library_members_user_id", "user_id"),
)

media = Table(
    "media",
    metadata,
    Column("id", Integer, primary_key=True),
    Column(
        "library_id",
        Integer,
        ForeignKey("libraries.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("rel_path", Text, nullable=False),
    Column("folder", Text, nullable=False),  # parent of rel_path, "" at the root
    Column("name", Text, nullable=False),
    Column("kind", String(8), nullable=False),  # photo | video
    Column("format", String(16), nullable=False),  # sniffed: jpeg, heic, cr2, mp4, ...
    Column("mime", String(64), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("mtime_ns", BigInteger, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    Column("seen_at", Float, nullable=False),
    Column("retired_at", Float, nullable=True),
    # content hash drain: NULL until hashed; failures recorded with a retry time
    Column("content_hash", String(HASH_LEN), nullable=True),
    Column("hash_error", Text, nullable=True),
    Column("hash_attempts", Integer, nullable=False, default=0),
    Column("hash_retry_at", Float, nullable=True),
    # metadata drain
    Column("meta_status", String(16), nullable=False, default="pending"),  # pending|ok|failed
    Column("meta_error", Text, nullable=True),
    Column("meta_attempts", Integer, nullable=False, default=0),
    Column("meta_retry_at", Float, nullable=True),
    Column("meta_reader", String(16), nullable=True),
    Column("taken_at", DateTime(timezone=False), nullable=False),
    Column("taken_at_offset_min", SmallInteger, nullable=True),
    Column("taken_at_source", String(40), nullable=False),
    # the instant the grid sorts by (naive UTC): offset from the file, the GPS zone (set by
    # media.repo.refresh_utc once the places drain knows it) or the server's zone
    Column("taken_at_utc", DateTime(timezone=False), nullable=False, default=_utc_default),
    Column("make", String(255), nullable=True),
    Column("model", String(255), nullable=True),
    Column("lens", String(255), nullable=True),
    Column("width", Integer, nullable=True),  # as displayed, after orientation/rotation
    Column("height", Integer, nullable=True),
    Column("orientation", SmallInteger, nullable=True),
    Column("latitude", Float, nullable=True),
    Column("longitude", Float, nullable=True),
    Column("altitude", Float, nullable=True),
    Column("iso", Integer, nullable=True),
    Column("f_number", Float, nullable=True),
    Column("exposure_time", Float, nullable=True),
    Column("focal_length", Float, nullable=True),
    Column("duration", Float, nullable=True),
    Column("video_codec", String(32), nullable=True),
    Column("audio_codec", String(32), nullable=True),
    Column("fps", Float, nullable=True),
    Column("rotation", SmallInteger, nullable=True),
    Column("extra", JSON, nullable=True),  # reader-specific details (HDR transfer, ...)
    # companions: a RAW beside its JPEG, a live-photo video beside its still
    Column("companion_id", Integer, ForeignKey("media.id", ondelete="SET NULL"), nullable=True),
    Column("companion_role", String(8), nullable=True),  # raw | live
    Column("motion_offset", BigInteger, nullable=True),  # video embedded in a JPEG
    Column("motion_length", BigInteger, nullable=True),
    # lease for per-row drains shared by several worker processes
    Column("lease_owner", String(64), nullable=True),
    Column("lease_until", Float, nullable=True),
    UniqueConstraint("library_id", "rel_path"),
    Index("ix_media_listing_utc", "library_id", "retired_at", "taken_at_utc", "id"),
    Index("ix_media_taken_utc", "taken_at_utc", "id"),
    Index("ix_media_taken", "taken_at", "id"),
    Index("ix_media_content_hash", "content_hash"),
    # "a live row of a library in scope shows this hash" (faces, albums): migration 0009b
    Index("ix_media_hash_live", "content_hash", "retired_at", "library_id"),
    Index("ix_media_folder", "library_id", "folder"),
    Index("ix_media_meta_status", "meta_status"),
    # Live videos by hash, covering: /hls/stats groups by hash without reading the table.
    Index(
        "ix_media_video_live",
        "content_hash",
        "library_id",
        "kind",
        "retired_at",
        sqlite_where=text("kind = 'video' AND retired_at IS NULL"),
        postgresql_where=text("kind = 'video' AND retired_at IS NULL"),
    ),
    # Backlogs of the per-row drains: partial, so counting them costs the backlog, not N.
    Index(
        "ix_media_hash_backlog",
        "library_id",
        "retired_at",
        "id",
        sqlite_where=text("content_hash IS NULL AND retired_at IS NULL"),
        postgresql_where=text("content_hash IS NULL AND retired_at IS NULL"),
    ),
    Index(
        "ix_media_meta_backlog",
        "library_id",
        "retired_at",
        "id",
        sqlite_where=text("meta_status = 'pending' AND retired_at IS NULL"),
        postgresql_where=text("meta_status = 'pending' AND retired_at IS NULL"),
    ),
)

# State of every hash-keyed derivation (thumbnails, playlists, previews, faces, embeddings):
# a row appears when an attempt finishes. No row = pending. The drains' backlogs are queries
# over this table, so a restart loses nothing and several workers can lease from it.
artefacts = Table(
    "artefacts",
    metadata,
    Column("content_hash", String(HASH_LEN), primary_key=True),
    Column("kind", String(80), primary_key=True),  # thumb | hls | preview | faces | clip:<ver>
    Column("status", String(16), nullable=False),  # pending | done | failed | retry
    Column("detail", Text, nullable=True),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", Float, nullable=True),
    Column("lease_owner", String(64), nullable=True),
    Column("lease_until", Float, nullable=True),
    Column("updated_at", Float, nullable=False),
    Index("ix_artefacts_kind_status", "kind", "status"),
    Index("ix_artefacts_retry", "status", "next_attempt_at"),
)

clip_embeddings = Table(
    "clip_embeddings",
    metadata,
    # id gives replicas a cheap "what is new since I last looked" cursor.
    Column("id", Integer, primary_key=True),
    Column("content_hash", String(HASH_LEN), nullable=False),
    Column("model_version", String(160), nullable=False),
    Column("dim", Integer, nullable=False),
    Column("vector", LargeBinary, nullable=False),  # float32 little-endian, L2-normalised
    Column("created_at", Float, nullable=False),
    UniqueConstraint("content_hash", "model_version"),
    Index("ix_clip_embeddings_version_id", "model_version", "id"),
)

people = Table(
    "people",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(200), nullable=True),
    Column("hidden", Boolean, nullable=False, default=False),
    Column("cover_face_id", Integer, nullable=True),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
)

faces = Table(
    "faces",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("content_hash", String(HASH_LEN), nullable=False),
    Column("face_index", SmallInteger, nullable=False),
    # box in displayed-image pixels (EXIF orientation applied), full resolution
    Column("box_x", Integer, nullable=False),
    Column("box_y", Integer, nullable=False),
    Column("box_w", Integer, nullable=False),
    Column("box_h", Integer, nullable=False),
    Column("image_width", Integer, nullable=False),
    Column("image_height", Integer, nullable=False),
    Column("landmarks", JSON, nullable=False),
    Column("embedding", LargeBinary, nullable=False),  # 128 float32
    Column("detector", String(16), nullable=False),
    Column("detection_score", Float, nullable=True),
    Column("person_id", Integer, ForeignKey("people.id", ondelete="SET NULL"), nullable=True),
    Column("assignment", String(8), nullable=False, default="none"),  # none|auto|user|rejected
    Column("created_at", Float, nullable=False),
    UniqueConstraint("content_hash", "face_index"),
    Index("ix_faces_person", "person_id"),
)

# --- collections (issue 17): per-user marks, albums, public share links -------------------
# Every row hangs off a user and/or a media row with ON DELETE CASCADE, so deleting a user,
# an album or a library (its media rows cascade) leaves nothing dangling on either database.

favorites = Table(
    "favorites",
    metadata,
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("media_id", Integer, ForeignKey("media.id", ondelete="CASCADE"), nullable=False),
    Column("created_at", Float, nullable=False),
    PrimaryKeyConstraint("user_id", "media_id"),
    Index("ix_favorites_media_id", "media_id"),
)

# Archived: hidden from that user's timeline and memories, still in folders and albums.
archives = Table(
    "archives",
    metadata,
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("media_id", Integer, ForeignKey("media.id", ondelete="CASCADE"), nullable=False),
    Column("created_at", Float, nullable=False),
    PrimaryKeyConstraint("user_id", "media_id"),
    Index("ix_archives_media_id", "media_id"),
)

albums = Table(
    "albums",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("owner_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(200), nullable=False),
    Column("description", Text, nullable=False, server_default=""),
    Column("cover_media_id", Integer, ForeignKey("media.id", ondelete="SET NULL"), nullable=True),
    Column("sort_order", String(16), nullable=False, server_default="taken_asc"),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    Index("ix_albums_owner_id", "owner_id"),
)

album_items = Table(
    "album_items",
    metadata,
    Column("album_id", Integer, ForeignKey("albums.id", ondelete="CASCADE"), nullable=False),
    Column("media_id", Integer, ForeignKey("media.id", ondelete="CASCADE"), nullable=False),
    Column("added_by", Integer, ForeignKey("users.id", ondelete="SET NULL"), nullable=True),
    Column("added_at", Float, nullable=False),
    PrimaryKeyConstraint("album_id", "media_id"),
    Index("ix_album_items_media_id", "media_id"),
)

album_members = Table(
    "album_members",
    metadata,
    Column("album_id", Integer, ForeignKey("albums.id", ondelete="CASCADE"), nullable=False),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("role", String(8), nullable=False),  # viewer | editor
    Column("created_at", Float, nullable=False),
    PrimaryKeyConstraint("album_id", "user_id"),
    Index("ix_album_members_user_id", "user_id"),
)

# A public link: an album's items or a fixed list (share_items). The token is 256 random
# bits (secrets.token_urlsafe); the password, if any, is stored as a password hash.
shares = Table(
    "shares",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("owner_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("token", String(64), nullable=False, unique=True),
    Column("album_id", Integer, ForeignKey("albums.id", ondelete="CASCADE"), nullable=True),
    Column("expires_at", Float, nullable=True),
    Column("password_hash", String(255), nullable=True),
    Column("allow_download", Boolean, nullable=False),
    Column("show_metadata", Boolean, nullable=False),
    Column("view_count", Integer, nullable=False, server_default="0"),
    Column("last_viewed_at", Float, nullable=True),
    Column("created_at", Float, nullable=False),
    Index("ix_shares_owner_id", "owner_id"),
)

share_items = Table(
    "share_items",
    metadata,
    Column("share_id", Integer, ForeignKey("shares.id", ondelete="CASCADE"), nullable=False),
    Column("media_id", Integer, ForeignKey("media.id", ondelete="CASCADE"), nullable=False),
    PrimaryKeyConstraint("share_id", "media_id"),
    Index("ix_share_items_media_id", "media_id"),
)

# Where a photo was taken (places drain, migration 0009): keyed by content hash like every
# derivation, since the GPS fix lives in the file's bytes. State (done / failed / retry) is
# the `artefacts` row of kind `places`; a row here exists only for a point that is somewhere
# (country_code "" at sea, where only the time zone is known).
places = Table(
    "places",
    metadata,
    Column("content_hash", String(HASH_LEN), primary_key=True),
    Column("latitude", Float, nullable=False),  # the point looked up
    Column("longitude", Float, nullable=False),
    Column("country_code", String(2), nullable=False),  # ISO 3166-1 alpha-2, "" at sea
    Column("country", String(100), nullable=False),
    Column("region", String(200), nullable=False),  # first level (places/regions.py)
    Column("region_code", String(16), nullable=False),
    Column("place", String(200), nullable=True),  # nearest populated place in the region
    Column("place_km", Float, nullable=True),
    Column("timezone", String(64), nullable=True),  # IANA zone at the point
    Column("created_at", Float, nullable=False),
    Index("ix_places_country_region_place", "country_code", "region", "place"),
)

# Text read in a picture (OCR), once per content hash. `text` is the lines joined by
# newlines; `lines` holds each line's text, confidence and box (four corners, preview
# pixels scaled to 0..1). PostgreSQL searches `text` through a pg_trgm GIN index (ILIKE);
# SQLite through the FTS5 trigram table `ocr_fts`, which imageserver/ocr/repo.py keeps
# (a virtual table is not part of this metadata).
ocr_text = Table(
    "ocr_text",
    metadata,
    Column("content_hash", String(HASH_LEN), primary_key=True),
    Column("text", Text, nullable=False),
    Column("lines", JSON, nullable=False),
    Column("engine", String(80), nullable=False),
    Column("created_at", Float, nullable=False),
    Index(
        "ix_ocr_text_trgm",
        "text",
        postgresql_using="gin",
        postgresql_ops={"text": "gin_trgm_ops"},
        sqlite_where=text("0"),  # SQLite: an empty partial index (search uses ocr_fts)
    ),
)

# Curation people already wrote (curation/): metadata files beside a media file (XMP
# sidecars, Google Takeout JSON), never media items themselves. One row per (media file,
# sidecar): `IMG.xmp` serves both `IMG.CR2` and `IMG.JPG`. Keyed by the media file's path,
# not its id, so a sidecar that arrives before its photo (or outlives it) is still known;
# `size`/`mtime_ns` tell the quick tick whether to read it again, `data` is what was read.
sidecars = Table(
    "sidecars",
    metadata,
    Column("library_id", Integer, ForeignKey("libraries.id", ondelete="CASCADE"), nullable=False),
    Column("media_path", Text, nullable=False),
    Column("path", Text, nullable=False),  # the sidecar's library-relative path
    Column("folder", Text, nullable=False),  # shared by both paths
    Column("kind", String(16), nullable=False),  # xmp | takeout
    Column("size", BigInteger, nullable=False),
    Column("mtime_ns", BigInteger, nullable=False),
    Column("data", JSON, nullable=False),
    Column("read_at", Float, nullable=False),
    PrimaryKeyConstraint("library_id", "media_path", "path"),
    Index("ix_sidecars_library_id_folder", "library_id", "folder"),
)

# Per media row: what the file's own XMP/IPTC says (`embedded`, read for the file state
# `embedded_key` = "size:mtime_ns") and the effective values after the precedence of
# curation/precedence.py; `sources` names where each effective field came from.
curation_items = Table(
    "curation_items",
    metadata,
    Column("media_id", Integer, ForeignKey("media.id", ondelete="CASCADE"), primary_key=True),
    Column("embedded_key", String(64), nullable=True),
    Column("embedded", JSON, nullable=True),
    Column("rating", SmallInteger, nullable=True),
    Column("label", String(32), nullable=True),
    Column("title", Text, nullable=True),
    Column("description", Text, nullable=True),
    Column("taken_at", DateTime(timezone=False), nullable=True),
    Column("taken_at_offset_min", SmallInteger, nullable=True),
    Column("latitude", Float, nullable=True),
    Column("longitude", Float, nullable=True),
    Column("people", JSON, nullable=True),
    # named face boxes of the winning source, fractions of the stored image; the face
    # drain names the faces they cover (faces/regions.py)
    Column("regions", JSON, nullable=True),
    # set when `regions` changes, cleared by the face drain once it has matched them
    Column("regions_changed", Boolean, nullable=False, server_default=false()),
    Column("sources", JSON, nullable=False),
    # the file's own date and GPS while a curated one (an edit, an XMP or Takeout date or
    # place) is shown on the media row (media/overrides.py); NULL: the row shows the file's
    Column("file_values", JSON, nullable=True),
    Column("updated_at", Float, nullable=False),
    # the face drain's per-tick look for changed regions reads the flagged rows only
    Index("ix_curation_items_regions_changed", "regions_changed", "media_id"),
)

# Effective tags of a media row, hierarchical levels joined by "/" ("Places/France/Paris");
# `?tag=Places` matches the tag and every tag below it.
item_tags = Table(
    "item_tags",
    metadata,
    Column("media_id", Integer, ForeignKey("media.id", ondelete="CASCADE"), nullable=False),
    Column("tag", String(500), nullable=False),
    PrimaryKeyConstraint("media_id", "tag"),
    Index("ix_item_tags_tag", "tag"),
)

# The household's own edits of an item (curation/edits_service.py): one overlay row per
# media row, shared by every user who may see it (a family curates one collection), the
# top layer of the curation precedence. Each field has who set it and when; NULL means
# "no edit", so the sidecar's or the file's value shows.
media_edits = Table(
    "media_edits",
    metadata,
    Column("media_id", Integer, ForeignKey("media.id", ondelete="CASCADE"), primary_key=True),
    Column("taken_at", DateTime(timezone=False), nullable=True),
    Column("taken_at_offset_min", SmallInteger, nullable=True),
    Column("taken_at_by", Integer, ForeignKey("users.id", ondelete="SET NULL"), nullable=True),
    Column("taken_at_set_at", Float, nullable=True),
    Column("latitude", Float, nullable=True),
    Column("longitude", Float, nullable=True),
    Column("location_by", Integer, ForeignKey("users.id", ondelete="SET NULL"), nullable=True),
    Column("location_set_at", Float, nullable=True),
    Column("title", Text, nullable=True),
    Column("title_by", Integer, ForeignKey("users.id", ondelete="SET NULL"), nullable=True),
    Column("title_set_at", Float, nullable=True),
    Column("description", Text, nullable=True),
    Column("description_by", Integer, ForeignKey("users.id", ondelete="SET NULL"), nullable=True),
    Column("description_set_at", Float, nullable=True),
    Column("tags", JSON, nullable=True),
    Column("tags_by", Integer, ForeignKey("users.id", ondelete="SET NULL"), nullable=True),
    Column("tags_set_at", Float, nullable=True),
    Column("rating", SmallInteger, nullable=True),
    Column("rating_by", Integer, ForeignKey("users.id", ondelete="SET NULL"), nullable=True),
    Column("rating_set_at", Float, nullable=True),
    Column("updated_at", Float, nullable=False),
)

# Every change of an item's edits, for the history and undo: the fields' values before
# (with who had set them and when) and after. Undo reverts the newest entry not undone.
media_edit_history = Table(
    "media_edit_history",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("media_id", Integer, ForeignKey("media.id", ondelete="CASCADE"), nullable=False),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="SET NULL"), nullable=True),
    Column("at", Float, nullable=False),
    Column("before", JSON, nullable=False),
    Column("after", JSON, nullable=False),
    Column("undone_at", Float, nullable=True),
    Column("undone_by", Integer, ForeignKey("users.id", ondelete="SET NULL"), nullable=True),
    Index("ix_media_edit_history_media_id", "media_id", "id"),
)
