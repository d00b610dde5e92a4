"""Peak memory of a child process: GNU time's maximum RSS, plus a sampled whole-tree sum.

`/usr/bin/time -v` reports the largest single process (the Python server); helpers such as
a long-lived exiftool are separate processes, so a sampler also sums the RSS of the whole
process tree every few hundred milliseconds from /proc.
"""

from __future__ import annotations

import re
import threading
from pathlib import Path

GNU_TIME = Path("/usr/bin/time")


def gnu_time_prefix(report: Path) -> list[str]:
    """argv prefix that makes GNU time write its -v report to `report` (empty if missing)."""
    return [str(GNU_TIME), "-v", "-o", str(report)] if GNU_TIME.exists() else []


def parse_gnu_time(report: Path) -> int | None:
    """Maximum resident set size in bytes from a `time -v` report."""
    if not report.exists():
        return None
    match = re.search(r"Maximum resident set size \(kbytes\): (\d+)", report.read_text())
    return int(match.group(1)) * 1024 if match else None


def _children(pid: int) -> list[int]:
    kids: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            kids += [int(k) for k in (task / "children").read_text().split()]
        except OSError:
            continue
    return kids


def _rss(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def tree_rss(pid: int) -> int:
    total, stack, seen = 0, [pid], set()
    while stack:
        p = stack.pop()
        if p in seen:
            continue
        seen.add(p)
        total += _rss(p)
        stack += _children(p)
    return total


class TreeSampler:
    """Samples the summed RSS of a process tree in a thread until stopped; keeps the peak."""

    def __init__(self, pid: int, interval: float = 0.25) -> None:
        self.pid = pid
        self.interval = interval
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self) -> TreeSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self.peak = max(self.peak, tree_rss(self.pid))
