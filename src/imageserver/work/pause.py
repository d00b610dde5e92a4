"""A drain-wide pause while a service it needs is down (an outage, not an item's fault).

Kept in memory, exponential: an outage costs one failed call per pause, not one per item.
A restart forgets it, which is right: the first call after a restart is the probe.
"""

from __future__ import annotations

import threading
import time

PAUSE_BASE_SECONDS = 5.0
PAUSE_MAX_SECONDS = 300.0


class Pause:
    def __init__(self) -> None:
        self.until = 0.0
        self.failures = 0
        self._lock = threading.Lock()

    def active(self) -> bool:
        return time.monotonic() < self.until

    def failed(self) -> float:
        """One more failure: the pause doubles (capped); its length in seconds comes back."""
        with self._lock:
            self.failures += 1
            delay = float(min(PAUSE_MAX_SECONDS, PAUSE_BASE_SECONDS * 2 ** (self.failures - 1)))
            self.until = time.monotonic() + delay
            return delay

    def ok(self) -> None:
        with self._lock:
            self.failures, self.until = 0, 0.0
