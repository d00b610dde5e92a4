"""The one place ffmpeg runs: an argv list, a timeout, a way to stop it, typed errors.

Blocking by design (call it from a worker thread, never on the event loop). The child gets
its own process group, so a timeout, a stop request or an exception in the caller kills
ffmpeg and anything it spawned: no orphaned encoder keeps writing after we gave up.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

POLL_SECONDS = 0.2
STDERR_KEEP = 64 * 1024


class FfmpegError(Exception):
    """A run that did not succeed; `transient` says whether trying again later can help."""

    transient = False

    def __init__(self, reason: str, stderr: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.stderr = stderr


class FfmpegFailed(FfmpegError):
    """ffmpeg exited with an error status; its stderr tells whether the source is at fault."""

    def __init__(self, returncode: int, stderr: str) -> None:
        super().__init__(f"ffmpeg exited with status {returncode}", stderr)
        self.returncode = returncode


class FfmpegTimeout(FfmpegError):
    transient = True


class FfmpegKilled(FfmpegError):
    """Ended by a signal we did not send (OOM killer, an operator's kill)."""

    transient = True


class FfmpegCancelled(FfmpegError):
    """Stopped because the server is shutting down."""

    transient = True


class ToolMissing(FfmpegError):
    transient = True


@dataclass
class RunControl:
    """Shared with a running job: set `cancel` to stop it; `pids` lists live children."""

    cancel: threading.Event = field(default_factory=threading.Event)
    pids: set[int] = field(default_factory=set)


@dataclass(frozen=True)
class RunResult:
    seconds: float
    stderr: str


def _kill(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(ProcessLookupError):
        proc.kill()


def _text(data: bytes | None) -> str:
    return (data or b"")[-STDERR_KEEP:].decode("utf-8", "replace")


def run(argv: Sequence[str], timeout: float, control: RunControl | None = None) -> RunResult:
    """Run to completion or raise: FfmpegFailed, FfmpegTimeout, FfmpegKilled, ..."""
    control = control or RunControl()
    if control.cancel.is_set():
        raise FfmpegCancelled("stopped before start")
    started = time.monotonic()
    try:
        proc = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
    except OSError as exc:
        raise ToolMissing(f"cannot run {argv[0]}: {exc.strerror or exc}") from exc
    control.pids.add(proc.pid)
    stderr = b""
    try:
        while True:
            try:
                _, stderr = proc.communicate(timeout=POLL_SECONDS)
                break
            except subprocess.TimeoutExpired:
                if control.cancel.is_set():
                    _kill(proc)
                    raise FfmpegCancelled("stopped: the server is shutting down") from None
                if time.monotonic() - started > timeout:
                    _kill(proc)
                    raise FfmpegTimeout(f"timed out after {timeout:.0f} s") from None
    except BaseException:
        _kill(proc)
        with contextlib.suppress(Exception):
            proc.communicate(timeout=5)
        raise
    finally:
        control.pids.discard(proc.pid)
    text = _text(stderr)
    if proc.returncode < 0:
        try:
            name = signal.Signals(-proc.returncode).name
        except ValueError:
            name = f"signal {-proc.returncode}"
        raise FfmpegKilled(f"killed by {name}", text)
    if proc.returncode != 0:
        raise FfmpegFailed(proc.returncode, text)
    return RunResult(time.monotonic() - started, text)
