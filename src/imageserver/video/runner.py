"""ffmpeg's face of the one runner (imageserver.proc): argv, timeout, stop, typed errors.

Blocking by design (call it from a worker thread, never on the event loop). proc gives the
child its own process group, so a timeout, a stop request or an exception in the caller
kills ffmpeg and anything it spawned, and ties its life to the server's: no orphaned
encoder keeps writing after we gave up or died. The error names read as ffmpeg's here;
they are proc's classes, so `transient`, `reason` and `stderr` mean the same everywhere.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from imageserver import proc
from imageserver.proc import RunControl, ToolMissing

FfmpegError = proc.ToolError
FfmpegFailed = proc.ToolFailed
FfmpegTimeout = proc.ToolTimeout
FfmpegKilled = proc.ToolKilled
FfmpegCancelled = proc.ToolCancelled

__all__ = [
    "FfmpegCancelled",
    "FfmpegError",
    "FfmpegFailed",
    "FfmpegKilled",
    "FfmpegTimeout",
    "RunControl",
    "RunResult",
    "ToolMissing",
    "run",
    "run_json",
]


@dataclass(frozen=True)
class RunResult:
    seconds: float
    stderr: str


def run(argv: Sequence[str], timeout: float, control: RunControl | None = None) -> RunResult:
    """Run to completion or raise: FfmpegFailed, FfmpegTimeout, FfmpegKilled, ..."""
    done = proc.run(argv, timeout=timeout, control=control, capture_stdout=False)
    return RunResult(done.seconds, done.stderr_text)


def run_json(argv: Sequence[str], timeout: float, control: RunControl | None = None) -> object:
    """Run a tool that prints JSON (ffprobe -print_format json) and parse its stdout."""
    done = proc.run(argv, timeout=timeout, control=control, capture_stdout=True)
    return json.loads(done.stdout.decode("utf-8", "replace") or "null")
