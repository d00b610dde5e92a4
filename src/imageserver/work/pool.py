"""Batching: the shared drain thread pool, chunks of a sequence, parallel map.

Every drain runs its slow part (hashing, decoding, detection, reading previews) in one
process-wide pool of WORKER_THREADS threads, so the drains of a tick never add up to more
threads than the operator allowed. The pool is made on first use and again after `close`,
so a context closed by one test or one foreground scan can be used again.

Its threads run at DRAIN_NICE, below the threads that answer requests (0) and check
passwords (auth/passwords.CHECK_NICE): indexing takes what the household leaves. Native
thread pools started from a drain thread (libvips, onnxruntime) inherit it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from imageserver.proc import lower_this_thread

T = TypeVar("T")
R = TypeVar("R")

DRAIN_NICE = 15


def _lower_priority() -> None:
    lower_this_thread(DRAIN_NICE)


class DrainPool:
    def __init__(self, threads: int) -> None:
        self.threads = threads
        self._executor: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()

    def executor(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(
                    self.threads, thread_name_prefix="drain", initializer=_lower_priority
                )
            return self._executor

    def map(self, fn: Callable[[T], R], items: Iterable[T]) -> Iterator[R]:
        """Results in the order of `items`, computed `threads` at a time."""
        return self.executor().map(fn, items)

    def close(self) -> None:
        """Stop the threads; queued work is cancelled, running work finishes on its own."""
        with self._lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=False, cancel_futures=True)


def chunks(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
