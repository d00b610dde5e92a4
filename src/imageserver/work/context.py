"""What a running server holds: settings, the engine, the clock and long-lived services.

One `AppContext` is built per process (by `create_app` or the CLI) and handed to routers
through `request.app.state.ctx`; background loops receive it directly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine

from imageserver.auth.throttle import LoginThrottle
from imageserver.clock import Clock, system_clock
from imageserver.config import Settings
from imageserver.libraries.registry import LibraryRegistry


@dataclass
class AppContext:
    settings: Settings
    engine: Engine
    jwt_secret: str
    clock: Clock = system_clock
    throttle: LoginThrottle = field(init=False)
    registry: LibraryRegistry = field(init=False)
    # Feature services attach themselves here (video queue, search index, encoder, ...).
    services: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.throttle = LoginThrottle(
            self.clock,
            after=self.settings.login_backoff_after,
            max_delay=self.settings.login_backoff_max_seconds,
        )
        self.registry = LibraryRegistry(self.engine)
