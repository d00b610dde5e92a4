"""Every Prometheus metric of the server, named imageserver_<noun>_<unit or total>.

Other modules import these objects and update them; nothing else creates metrics. Labels:
`library` is the library name; `kind` is photo|video; `drain` is hash|metadata|thumbnails|
hls|embeddings|faces; `stage` is a pipeline stage name; `tick` is quick|full.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

REGISTRY = CollectorRegistry(auto_describe=True)

# --- HTTP and auth ---------------------------------------------------------------------
LOGIN_FAILURES = Counter(
    "imageserver_login_failures_total", "Failed login attempts.", registry=REGISTRY
)

# --- libraries and the watcher ---------------------------------------------------------
LIBRARY_UP = Gauge(
    "imageserver_library_reachable",
    "1 when the library root is reachable, 0 when it is stale.",
    ["library"],
    registry=REGISTRY,
)
MEDIA_COUNT = Gauge(
    "imageserver_media_count",
    "Live (not retired) media rows.",
    ["library", "kind"],
    registry=REGISTRY,
)
BACKLOG = Gauge(
    "imageserver_backlog_items",
    "Items waiting for a drain.",
    ["library", "drain"],
    registry=REGISTRY,
)
TICK_SECONDS = Histogram(
    "imageserver_tick_duration_seconds",
    "Duration of one watcher tick over one library.",
    ["library", "tick"],
    buckets=(0.01, 0.05, 0.1, 0.5, 1, 2, 5, 10, 30, 60, 300, 900, 3600),
    registry=REGISTRY,
)
STAGE_SECONDS = Histogram(
    "imageserver_stage_duration_seconds",
    "Duration of one pipeline stage over one library.",
    ["stage"],
    buckets=(0.001, 0.01, 0.05, 0.1, 0.5, 1, 5, 30, 120, 600),
    registry=REGISTRY,
)
TICK_FAILURES = Counter(
    "imageserver_tick_failures_total",
    "Ticks that ended with an error.",
    ["library"],
    registry=REGISTRY,
)
DRAIN_DONE = Counter(
    "imageserver_drain_items_total", "Items a drain finished.", ["drain"], registry=REGISTRY
)
DRAIN_FAILED = Counter(
    "imageserver_drain_failures_total",
    "Items a drain failed on, by permanence.",
    ["drain", "permanent"],
    registry=REGISTRY,
)
RETIRED = Counter(
    "imageserver_media_retired_total",
    "Rows retired because their file is gone.",
    ["library"],
    registry=REGISTRY,
)

# --- video -------------------------------------------------------------------------------
HLS_TOTAL = Gauge(
    "imageserver_hls_videos_total",
    "Videos with a content hash (dedup by hash).",
    ["library"],
    registry=REGISTRY,
)
HLS_WITH_PLAYLIST = Gauge(
    "imageserver_hls_videos_with_playlist",
    "Videos whose playlist exists.",
    ["library"],
    registry=REGISTRY,
)
HLS_PENDING = Gauge(
    "imageserver_hls_videos_pending",
    "Videos waiting for a playlist.",
    ["library"],
    registry=REGISTRY,
)
HLS_UNSUPPORTED = Gauge(
    "imageserver_hls_videos_unsupported",
    "Videos with the unsupported sentinel.",
    ["library"],
    registry=REGISTRY,
)
TRANSCODES = Counter(
    "imageserver_transcodes_total",
    "ffmpeg runs by job and outcome (ok|unsupported|transient).",
    ["job", "outcome"],
    registry=REGISTRY,
)
TRANSCODE_SECONDS = Histogram(
    "imageserver_transcode_duration_seconds",
    "Wall time of one ffmpeg job.",
    ["job"],
    buckets=(0.5, 1, 2, 5, 10, 30, 60, 120, 300, 900, 1800),
    registry=REGISTRY,
)
HLS_QUEUE_DEPTH = Gauge(
    "imageserver_hls_queue_depth", "Video jobs queued or running.", registry=REGISTRY
)
ORPHANS_REMOVED = Counter(
    "imageserver_hls_orphans_removed_total",
    "Hash folders removed by orphan cleanup.",
    registry=REGISTRY,
)

# --- search and faces ----------------------------------------------------------------------
ML_IMAGES = Gauge(
    "imageserver_ml_images",
    "Images by embedding state (dedup by hash).",
    ["library", "state"],
    registry=REGISTRY,
)
SEARCH_SECONDS = Histogram(
    "imageserver_search_duration_seconds",
    "Search latency (encode + rank).",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
    registry=REGISTRY,
)
FACES_IMAGES = Gauge(
    "imageserver_faces_images",
    "Images by face-scan state (dedup by hash).",
    ["library", "state"],
    registry=REGISTRY,
)
FACES_DETECTED = Gauge(
    "imageserver_faces_detected",
    "Faces found on live images (dedup by hash; library=_all: every library).",
    ["library"],
    registry=REGISTRY,
)
