"""Login backoff: after a few failures for one username, each further try must wait.

The delay doubles with every failure past the threshold, up to a ceiling; a success
clears it. Kept per process and keyed by username (known or not), so guessing a password
costs exponentially more time while the rightful owner is never locked out for long.

It lives in the kernel (it needs only the clock) because the process context holds one
throttle for the whole process, and the context may name no feature type.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from imageserver.clock import Clock


@dataclass
class _Failures:
    count: int
    last_at: float


class LoginThrottle:
    def __init__(self, clock: Clock, after: int, max_delay: float) -> None:
        self._clock = clock
        self._after = after
        self._max_delay = max_delay
        self._failures: dict[str, _Failures] = {}
        self._lock = threading.Lock()

    def delay_for(self, count: int) -> float:
        if count < self._after:
            return 0.0
        return float(min(self._max_delay, 2 ** (count - self._after)))

    def wait_remaining(self, username: str) -> float:
        """Seconds before `username` may try again (0 when it may try now)."""
        with self._lock:
            entry = self._failures.get(username.lower())
            if entry is None:
                return 0.0
            remaining = entry.last_at + self.delay_for(entry.count) - self._clock()
            if remaining <= 0 and self._clock() - entry.last_at > self._max_delay * 10:
                del self._failures[username.lower()]  # forget old failures
            return max(0.0, remaining)

    def failed(self, username: str) -> int:
        with self._lock:
            entry = self._failures.setdefault(username.lower(), _Failures(0, 0.0))
            entry.count += 1
            entry.last_at = self._clock()
            if len(self._failures) > 100_000:  # bound memory under a username-spraying attack
                oldest = min(self._failures, key=lambda k: self._failures[k].last_at)
                del self._failures[oldest]
            return entry.count

    def succeeded(self, username: str) -> None:
        with self._lock:
            self._failures.pop(username.lower(), None)
