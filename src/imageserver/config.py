"""One typed Settings object: every knob of the server, its default and why it exists.

The README's configuration table is generated from this class (`imageserver config-table`),
and a test keeps the two in step, so a knob added here is documented by construction.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any, Literal, get_args, get_origin

from pydantic import BaseModel, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

ENV_PREFIX = "IMAGESERVER_"


class LibrarySeed(BaseModel):
    """A library created on first start when the libraries table is empty."""

    name: str = Field(min_length=1, max_length=200)
    root_path: Path
    excluded_dirs: list[str] = Field(default_factory=list)


def _default_data_dir() -> Path:
    return Path.home() / ".local" / "share" / "imageserver"


class Settings(BaseSettings):
    """Server configuration from IMAGESERVER_* environment variables and an optional .env."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        validate_default=True,
    )

    # --- storage -------------------------------------------------------------------------
    data_dir: Path = Field(
        default_factory=_default_data_dir,
        description="Folder for everything the server writes (database, thumbnails, secrets).",
    )
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL; empty means SQLite at DATA_DIR/imageserver.db. "
        "Use postgresql+psycopg://user@host/db for PostgreSQL.",
    )
    video_path: Path | None = Field(
        default=None,
        description="Folder for HLS playlists, segments and preview clips; "
        "empty means DATA_DIR/video.",
    )

    # --- HTTP ---------------------------------------------------------------------------
    host: str = Field(default="0.0.0.0", description="Address the HTTP server binds to.")
    port: int = Field(default=8080, ge=1, le=65535, description="TCP port of the HTTP server.")
    json_body_max_bytes: int = Field(
        default=1024 * 1024,
        ge=1024,
        description="Largest request body of every route but uploads (JSON); a larger "
        "Content-Length is refused with 413 before it is read, a chunked one cut off.",
    )
    upload_max_bytes: int = Field(
        default=51 * 1024 * 1024,
        ge=1024 * 1024,
        description="Largest request body of an upload (search by image, multipart "
        "included); uploads are refused 401 before the body is read without valid "
        "credentials.",
    )
    http_header_timeout_seconds: float = Field(
        default=10.0,
        gt=0,
        le=300,
        description="A connection whose request head is not complete this long after it "
        "opened (or after its previous response) is closed.",
    )
    http_header_max_bytes: int = Field(
        default=16 * 1024,
        ge=4096,
        le=1024 * 1024,
        description="Largest request head (request line and headers); larger is a 400.",
    )
    log_level: Literal["debug", "info", "warning", "error"] = Field(
        default="info", description="Lowest log level written."
    )
    log_format: Literal["text", "json"] = Field(
        default="text", description="text: key=value lines; json: one JSON object per line."
    )

    health_min_free_bytes: int = Field(
        default=1024 * 1024 * 1024,
        ge=0,
        description="/health reports the data folder degraded below this many free bytes.",
    )

    # --- auth -----------------------------------------------------------------------------
    jwt_secret: SecretStr | None = Field(
        default=None,
        description="HS256 signing secret; empty means one generated once and kept in "
        "DATA_DIR/jwt_secret.",
    )
    jwt_lifetime_seconds: int = Field(
        default=7 * 24 * 3600, gt=0, description="How long a login token stays valid."
    )
    stream_token_lifetime_seconds: int = Field(
        default=6 * 3600, gt=0, description="How long a signed video stream URL stays valid."
    )
    admin_username: str = Field(
        default="admin", min_length=1, description="User created on first start."
    )
    admin_password: SecretStr | None = Field(
        default=None,
        description="Password of the first-start admin; empty means generated and printed once.",
    )
    login_backoff_after: int = Field(
        default=3,
        ge=1,
        description="Failed logins for one user from one address before each try is delayed.",
    )
    login_backoff_max_seconds: float = Field(
        default=60.0, gt=0, description="Longest delay imposed between failed logins."
    )
    login_backoff_after_per_address: int = Field(
        default=20,
        ge=1,
        description="Failed logins from one client address (any username) before it is delayed.",
    )
    metrics_token: SecretStr | None = Field(
        default=None,
        description="Bearer token a Prometheus scraper sends to GET /metrics; empty means "
        "only an admin's credential opens it.",
    )
    login_max_concurrent: int = Field(
        default=1,
        ge=1,
        le=64,
        description="Password checks (argon2, ~64 MiB each) run at once; more get a quick 503.",
    )

    # --- libraries and the watcher --------------------------------------------------------
    libraries: Annotated[list[LibrarySeed], NoDecode] = Field(
        default_factory=list,
        description="Libraries seeded on first start: JSON list of {name, root_path, "
        "excluded_dirs} or NAME=PATH pairs separated by commas.",
    )
    run_background: bool = Field(
        default=True,
        description="Run the watcher, drains and cleanup loops inside the API process.",
    )
    watch_quick_interval_seconds: float = Field(
        default=60.0, gt=0, description="Seconds between quick ticks (new and changed files)."
    )
    watch_full_interval_seconds: float = Field(
        default=3600.0, gt=0, description="Seconds between full scans (every file, retirements)."
    )
    hash_batch_per_tick: int = Field(
        default=2000, gt=0, description="Most content hashes computed per library per tick."
    )
    metadata_batch_per_tick: int = Field(
        default=2000, gt=0, description="Most files read for metadata per library per tick."
    )
    thumbnail_batch_per_tick: int = Field(
        default=1000, gt=0, description="Most thumbnail pairs made per library per tick."
    )
    lease_seconds: float = Field(
        default=600.0,
        gt=0,
        description="How long a claimed work item stays leased; a worker that dies loses "
        "its items after this long.",
    )
    worker_threads: int = Field(
        default=2, ge=1, le=64, description="Threads used by CPU-bound drains (hash, thumbs)."
    )

    # --- thumbnails -----------------------------------------------------------------------
    thumb_small_px: int = Field(default=250, ge=32, le=1024, description="Grid thumbnail size.")
    thumb_large_px: int = Field(
        default=1440, ge=256, le=4096, description="Large preview longest side."
    )
    thumb_quality: int = Field(default=80, ge=1, le=100, description="WebP/JPEG quality.")

    # --- video ----------------------------------------------------------------------------
    hls_concurrency: int = Field(
        default=1, ge=1, le=32, description="Most ffmpeg processes running at once."
    )
    hls_segment_seconds: int = Field(default=4, ge=1, le=30, description="HLS segment length.")
    hls_preset: Literal[
        "ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower"
    ] = Field(default="veryfast", description="libx264 preset when re-encoding.")
    hls_accel: Literal["none", "auto", "vaapi", "nvenc", "qsv"] = Field(
        default="none",
        description="Hardware H.264 encoder for re-encodes: none (libx264), auto (probed at "
        "start: listed by ffmpeg and a one-second test encode passes), or vaapi|nvenc|qsv. "
        "A failed hardware encode is redone with libx264 for that video.",
    )
    hls_crf: int = Field(default=23, ge=0, le=51, description="libx264 CRF when re-encoding.")
    hls_max_height: int = Field(
        default=1080,
        ge=144,
        le=4320,
        description="Re-encoded videos are scaled down so their shorter side (the height of "
        "a landscape video) is at most this; never enlarged.",
    )
    hls_timeout_seconds: float = Field(
        default=1800.0, gt=0, description="ffmpeg run longer than this is killed (transient)."
    )
    hls_batch_per_tick: int = Field(
        default=8, gt=0, description="Most videos queued for HLS per library per tick."
    )
    hls_audio_bitrate: str = Field(
        default="160k",
        pattern=r"^[1-9][0-9]{1,3}k$",
        description="AAC bitrate when audio is re-encoded (stereo).",
    )
    hls_ladder: str = Field(
        default="360,720,1080",
        pattern=r"^([1-9][0-9]{2,3}(,[1-9][0-9]{2,3})*)?$",
        description="Shorter-side heights of the lower adaptive-bitrate rungs, made beside "
        "the main rendition when below its size (never upscaled); empty: one rendition.",
    )
    hls_preview_seconds: float = Field(
        default=3.0, gt=0, le=30, description="Length of the muted hover preview clip."
    )
    hls_preview_width: int = Field(
        default=320, ge=64, le=1920, description="Width of the preview clip (never enlarged)."
    )
    orphan_cleanup_interval_seconds: float = Field(
        default=24 * 3600.0, gt=0, description="Seconds between orphan cleanup cycles."
    )

    # --- semantic search ------------------------------------------------------------------
    clip_model_path: Path | None = Field(
        default=None, description="Local CLIP model folder (visual/, textual/, configs)."
    )
    clip_remote_urls: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Encoder service URLs tried in order (comma-separated); used instead of "
        "the local model when set.",
    )
    clip_remote_model_name: str = Field(
        default="ViT-B-32__openai", description="Model name asked of a remote encoder."
    )
    clip_remote_secret: SecretStr | None = Field(
        default=None, description="Shared secret sent to / required by the encoder service."
    )
    clip_backlog_max_per_tick: int = Field(
        default=32, gt=0, description="Most images encoded per tick."
    )
    clip_encode_concurrency: int = Field(
        default=4, ge=1, le=64, description="Images encoded at once by the drain."
    )
    clip_onnx_threads: int = Field(
        default=2, ge=1, le=64, description="CPU threads of each in-process ONNX model."
    )
    clip_remote_timeout_seconds: float = Field(
        default=30.0, gt=0, description="Timeout of one request to an encoder service."
    )
    clip_remote_retries: int = Field(
        default=2, ge=0, le=10, description="Retries (with backoff) when every encoder URL failed."
    )
    clip_search_threshold: float = Field(
        default=0.20, ge=-1, le=1, description="Default lowest cosine similarity of a search hit."
    )
    search_quantize_above: int = Field(
        default=300_000,
        ge=0,
        description="Embeddings of one model version above which the search index keeps int8 "
        "codes + float16 rescoring instead of exact float32 (0.77x the memory, about 3x "
        "faster at 1M; recall@10 measured by the bench).",
    )

    # --- places and maps ------------------------------------------------------------------
    places_enabled: bool = Field(
        default=True, description="Reverse-geocode GPS fixes offline (country, region, place)."
    )
    places_batch_per_tick: int = Field(
        default=5000, gt=0, description="Most GPS fixes geocoded per library per tick."
    )
    map_tile_url: str = Field(
        default="https://tile.openstreetmap.org/{z}/{x}/{y}.png",
        description="Map tile URL template ({z}/{x}/{y}); when tiles cannot be loaded the map "
        "falls back to the server's own country outlines.",
    )
    map_tile_attribution: str = Field(
        default='&copy; <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a> '
        "contributors",
        description="Attribution shown with the map tiles (HTML).",
    )

    # --- faces ----------------------------------------------------------------------------
    faces_enabled: bool = Field(default=True, description="Run face detection on images.")
    face_detector: Literal["hog", "cnn"] = Field(
        default="hog", description="dlib detector: hog (fast, CPU) or cnn (accurate, slow)."
    )
    face_batch_per_tick: int = Field(default=32, gt=0, description="Most images scanned per tick.")
    face_max_side: int = Field(
        default=1440,
        ge=200,
        le=8000,
        description="Longest side of the copy faces are detected on; above THUMB_LARGE_PX "
        "the original is decoded instead of the large preview (slower).",
    )
    face_min_size: int = Field(
        default=32, ge=8, description="Faces smaller than this (px, original image) are ignored."
    )
    face_verify: bool = Field(
        default=True,
        description="Confirm doubtful HOG detections with the CNN detector on a small crop.",
    )
    face_match_distance: float = Field(
        default=0.6, gt=0, lt=2, description="Euclidean distance joining a face to a person."
    )
    face_cluster_distance: float = Field(
        default=0.55,
        gt=0,
        lt=2,
        description="Stricter distance under which unplaced faces count as look-alikes that "
        "start a new person (and recluster's graph edges).",
    )
    face_min_faces_per_person: int = Field(
        default=2, ge=1, description="Similar unassigned faces needed to create a person."
    )

    # --- text in pictures (OCR) -------------------------------------------------------------
    ocr_enabled: bool = Field(
        default=False,
        description="Read text in photos (PP-OCR via rapidocr-onnxruntime, from the large "
        "preview; about a second a picture on one core).",
    )
    ocr_batch_per_tick: int = Field(
        default=16, gt=0, description="Most images read for text per tick."
    )
    ocr_min_confidence: float = Field(
        default=0.5, ge=0, le=1, description="Recognised lines below this confidence are dropped."
    )

    @field_validator(
        "database_url",
        "video_path",
        "clip_model_path",
        "jwt_secret",
        "admin_password",
        "clip_remote_secret",
        mode="before",
    )
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        """`IMAGESERVER_X=` (empty) means "not set", never the current folder or ''."""
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("libraries", mode="before")
    @classmethod
    def _parse_libraries(cls, value: object) -> object:
        if isinstance(value, str):
            return _parse_library_list(value)
        return value

    @field_validator("clip_remote_urls", mode="before")
    @classmethod
    def _parse_urls(cls, value: object) -> object:
        if isinstance(value, str):
            return [u.strip() for u in value.split(",") if u.strip()]
        return value

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'imageserver.db'}"

    @property
    def resolved_video_path(self) -> Path:
        return self.video_path or self.data_dir / "video"

    @property
    def thumbs_dir(self) -> Path:
        return self.data_dir / "thumbs"

    @property
    def faces_dir(self) -> Path:
        return self.data_dir / "faces"

    @property
    def export_dir(self) -> Path:
        """Where `POST /export/xmp` writes sidecars (never beside the originals)."""
        return self.data_dir / "export"

    def owned_dirs(self) -> list[Path]:
        """Folders the server writes into; walkers never index them."""
        return [self.data_dir, self.resolved_video_path]


def _parse_library_list(text: str) -> list[dict[str, object]]:
    import json

    text = text.strip()
    if not text:
        return []
    if text.startswith("["):
        parsed = json.loads(text)
        if not isinstance(parsed, list):
            raise ValueError("expected a JSON list")
        return parsed
    seeds: list[dict[str, object]] = []
    for part in text.split(","):
        name, sep, path = part.partition("=")
        if not sep or not name.strip() or not path.strip():
            raise ValueError(f"expected NAME=PATH, got {part!r}")
        seeds.append({"name": name.strip(), "root_path": path.strip()})
    return seeds


def describe_validation_error(exc: ValidationError) -> str:
    """One line naming the environment variable at fault, for start-up errors."""
    err = exc.errors()[0]
    field = str(err["loc"][0]) if err["loc"] else "?"
    value = err.get("input")
    shown = "" if isinstance(value, dict) else f" (got {value!r})"
    return f"invalid configuration: {ENV_PREFIX}{field.upper()}: {err['msg']}{shown}"


def config_table_markdown() -> str:
    """The README's configuration table, generated so the two never disagree."""
    rows = ["| Variable | Type | Default | Description |", "|---|---|---|---|"]
    for name, field in Settings.model_fields.items():
        annotation = field.annotation
        if get_origin(annotation) is Literal:
            type_name = " / ".join(str(a) for a in get_args(annotation))
        else:
            type_name = getattr(annotation, "__name__", None) or str(annotation)
        type_name = type_name.replace("typing.", "").replace("pathlib.", "")
        type_name = type_name.replace("pydantic.types.", "").replace("imageserver.config.", "")
        type_name = type_name.replace(" | None", " (optional)").replace("|", "or")
        if field.default_factory is not None:
            default = (
                "[]" if name in ("libraries", "clip_remote_urls") else "~/.local/share/imageserver"
            )
        elif field.default is None:
            default = "(empty)"
        else:
            default = str(field.default)
        description = (field.description or "").replace("|", "\\|")
        rows.append(f"| `{ENV_PREFIX}{name.upper()}` | {type_name} | `{default}` | {description} |")
    return "\n".join(rows)


def load_settings(**overrides: Any) -> Settings:
    """Settings from the environment (+ overrides); a bad value exits with one clear line."""
    try:
        return Settings(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as exc:
        print(describe_validation_error(exc), file=sys.stderr)
        raise SystemExit(2) from None
