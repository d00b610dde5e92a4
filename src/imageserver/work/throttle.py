"""Login backoff and the bound on concurrent password checks.

Backoff: after a few failures, each further try must wait, the delay doubling up to a
ceiling; a success clears it. Failures are counted per (username, client address), so an
attacker hammering the owner's name from one address delays only that address, never the
owner logging in from elsewhere; and per address alone (with a higher threshold), so one
address spraying many usernames is slowed too. Usernames are keyed lower-cased, the same
case-insensitive rule as the lookup. Kept per process, bounded in memory.

Verification slots: every argon2 check costs ~64 MiB and a core for a while. At most
`max_concurrent` run at once; a login arriving while all slots are busy is refused at once
(503 + Retry-After) instead of queueing in the thread pool that serves the rest of the API.

It lives in the kernel (it needs only the clock) because the process context holds one
throttle for the whole process, and the context may name no feature type.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from imageserver.clock import Clock
from imageserver.errors import ServiceUnavailable

MAX_ENTRIES = 100_000


@dataclass
class _Failures:
    count: int
    last_at: float


class LoginThrottle:
    def __init__(
        self,
        clock: Clock,
        after: int,
        max_delay: float,
        *,
        after_per_address: int = 20,
        max_concurrent: int = 2,
    ) -> None:
        self._clock = clock
        self._after = after
        self._after_address = after_per_address
        self._max_delay = max_delay
        self._failures: dict[str, _Failures] = {}
        self._lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(max_concurrent)

    @staticmethod
    def _keys(username: str, address: str) -> tuple[str, str]:
        return f"u\0{username.lower()}\0{address}", f"a\0{address}"

    def delay_for(self, count: int, after: int | None = None) -> float:
        threshold = self._after if after is None else after
        if count < threshold:
            return 0.0
        return float(min(self._max_delay, 2 ** (count - threshold)))

    def _remaining(self, key: str, after: int, now: float) -> float:
        entry = self._failures.get(key)
        if entry is None:
            return 0.0
        remaining = entry.last_at + self.delay_for(entry.count, after) - now
        if remaining <= 0 and now - entry.last_at > self._max_delay * 10:
            del self._failures[key]  # forget old failures
        return max(0.0, remaining)

    def wait_remaining(self, username: str, address: str = "") -> float:
        """Seconds before `username` may try again from `address` (0: it may try now)."""
        pair, addr = self._keys(username, address)
        now = self._clock()
        with self._lock:
            return max(
                self._remaining(pair, self._after, now),
                self._remaining(addr, self._after_address, now),
            )

    def failed(self, username: str, address: str = "") -> int:
        """Count a failure; returns the failures of this username from this address."""
        now = self._clock()
        with self._lock:
            counts = []
            for key in self._keys(username, address):
                entry = self._failures.setdefault(key, _Failures(0, 0.0))
                entry.count += 1
                entry.last_at = now
                counts.append(entry.count)
            while len(self._failures) > MAX_ENTRIES:  # bound memory under spraying
                oldest = min(self._failures, key=lambda k: self._failures[k].last_at)
                del self._failures[oldest]
            return counts[0]

    def succeeded(self, username: str, address: str = "") -> None:
        """Clear this username's failures from this address (the address count decays)."""
        with self._lock:
            self._failures.pop(self._keys(username, address)[0], None)

    @contextmanager
    def verification_slot(self) -> Iterator[None]:
        """One of the few concurrent password checks, or 503 at once when none is free."""
        if not self._slots.acquire(blocking=False):
            raise ServiceUnavailable(
                "too many logins in progress; retry in a moment", headers={"Retry-After": "1"}
            )
        try:
            yield
        finally:
            self._slots.release()
