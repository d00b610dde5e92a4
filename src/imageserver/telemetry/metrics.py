"""Every Prometheus metric of the server, named imageserver_<noun>_<unit or total>.

Other modules import these objects and update them; nothing else creates metrics. Labels:
`library` is the library name; `kind` is photo|video; `drain` is hash|metadata|thumbnails|
hls|embeddings|faces; `stage` is a pipeline stage name; `tick` is quick|full; `route` is
the route template (`/media/{media_id}`, never the raw path; `unmatched` when no route
matched), `method` the HTTP method and `status` the response status code.

Names pass `promtool check metrics`: a gauge never ends in `_total` or `_count`. Two gauges
were renamed; their old names are still exported, as untyped families (which promtool
does not lint), until the next release: `imageserver_media_count` (now
`imageserver_media_items`) and `imageserver_hls_videos_total` (now `imageserver_hls_videos`).

There is no cross-library (`library="_all"`) series: `sum()` over `library` is the total.
Series of a deleted or renamed library are removed (`prune_libraries`, on every scrape).
"""

from __future__ import annotations

from collections.abc import Collection, Iterator

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    Metric,
)
from prometheus_client.core import UnknownMetricFamily
from prometheus_client.gc_collector import GCCollector
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.registry import Collector

REGISTRY = CollectorRegistry(auto_describe=True)
ProcessCollector(registry=REGISTRY)
PlatformCollector(registry=REGISTRY)
GCCollector(registry=REGISTRY)

# --- HTTP and auth ---------------------------------------------------------------------
LOGIN_FAILURES = Counter(
    "imageserver_login_failures_total", "Failed login attempts.", registry=REGISTRY
)
HTTP_REQUESTS = Counter(
    "imageserver_http_requests_total",
    "HTTP requests answered, by route template, method and status.",
    ["route", "method", "status"],
    registry=REGISTRY,
)
HTTP_SECONDS = Histogram(
    "imageserver_http_request_duration_seconds",
    "Time from request start to the end of the response body.",
    ["route", "method", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
    registry=REGISTRY,
)

# --- libraries and the watcher ---------------------------------------------------------
LIBRARY_UP = Gauge(
    "imageserver_library_reachable",
    "1 when the library root is reachable, 0 when it is stale.",
    ["library"],
    registry=REGISTRY,
)
MEDIA_COUNT = Gauge(
    "imageserver_media_items",
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
    "imageserver_hls_videos",
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
HLS_ACCEL_FALLBACKS = Counter(
    "imageserver_hls_accel_fallbacks_total",
    "Hardware re-encodes that failed and were redone with libx264, by encoder.",
    ["encoder"],
    registry=REGISTRY,
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
    "Faces found on live images (dedup by hash).",
    ["library"],
    registry=REGISTRY,
)


# --- deprecated names (removed in the next release) ---------------------------------------
DEPRECATED_NAMES: dict[str, Gauge] = {
    "imageserver_media_count": MEDIA_COUNT,
    "imageserver_hls_videos_total": HLS_TOTAL,
}


class DeprecatedNames(Collector):
    """The renamed gauges under their old names, as untyped families (lint-clean)."""

    def collect(self) -> Iterator[Metric]:
        for old, gauge in DEPRECATED_NAMES.items():
            family = UnknownMetricFamily(
                old,
                f"Deprecated: use {gauge._name}. Removed in the next release.",
                labels=gauge._labelnames,
            )
            for metric in gauge.collect():
                for sample in metric.samples:
                    family.add_metric([sample.labels[n] for n in gauge._labelnames], sample.value)
            yield family

    def describe(self) -> Iterator[Metric]:
        return iter(())


REGISTRY.register(DeprecatedNames())


def _library_labelled() -> Iterator[Gauge | Counter | Histogram]:
    for value in globals().values():
        if isinstance(value, Gauge | Counter | Histogram) and "library" in value._labelnames:
            yield value


def prune_libraries(live: Collection[str]) -> int:
    """Remove every series whose `library` label is not a library's current name (deleted,
    renamed, or an old `_all` aggregate); returns how many were removed."""
    removed = 0
    for metric in _library_labelled():
        position = metric._labelnames.index("library")
        with metric._lock:
            stale = [key for key in metric._metrics if key[position] not in live]
        for key in stale:
            metric.remove(*key)
            removed += 1
    return removed
