"""What a running server holds: settings, the engine, the clock and long-lived helpers.

One `AppContext` is built per process (by `server.bootstrap`) and handed to routers
through `request.app.state.ctx`; background loops receive it directly. Every helper is a
typed field, set once at start-up or made on first use by the one feature that owns it;
helpers that cross feature lines are typed by the Protocols of work/ports.py, so the
kernel names no feature and a reader sees every hand-over in this one class.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Engine

from imageserver.clock import Clock, system_clock
from imageserver.config import Settings
from imageserver.work.pause import Pause
from imageserver.work.pool import DrainPool
from imageserver.work.ports import (
    Closeable,
    JobQueue,
    LibraryLookup,
    SharedStreams,
    VersionIndex,
    Waker,
)
from imageserver.work.throttle import LoginThrottle


@dataclass
class AppContext:
    settings: Settings
    engine: Engine
    jwt_secret: str
    registry: LibraryLookup
    clock: Clock = system_clock
    throttle: LoginThrottle = field(init=False)
    # The process-wide pool for blocking drain work (hashing, decoding, detection).
    pool: DrainPool = field(init=False)
    # Set by the server's background wiring (None in a process without them).
    watcher: Waker | None = None
    video_queue: JobQueue | None = None
    # Set by server/bootstrap (albums/shares.py); None: no share link's token plays a video.
    shared_streams: SharedStreams | None = None
    # Made on first use by their owners: search/service, ml/encoders, media/drains.
    search_index: VersionIndex | None = None
    encoder: Closeable | None = None
    encoder_loaded: bool = False  # True once tried: None then means "none configured"
    encoder_error: str | None = None  # the last load failure, logged once per reason
    metadata_reader: Closeable | None = None
    # The embeddings drain's pause while the encoder service is down.
    embeddings_pause: Pause = field(default_factory=Pause)
    video_startup_done: bool = False

    def __post_init__(self) -> None:
        self.throttle = LoginThrottle(
            self.clock,
            after=self.settings.login_backoff_after,
            max_delay=self.settings.login_backoff_max_seconds,
            after_per_address=self.settings.login_backoff_after_per_address,
            max_concurrent=self.settings.login_max_concurrent,
        )
        self.pool = DrainPool(self.settings.worker_threads)

    def close(self) -> None:
        """Release long-lived helpers: the drain pool, the exiftool process (reusable after:
        each is made again on next use)."""
        self.pool.close()
        reader, self.metadata_reader = self.metadata_reader, None
        if reader is not None:
            reader.close()
