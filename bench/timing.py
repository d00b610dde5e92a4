"""Wall-clock timing of Python callables and external commands, plus machine-noise hints."""

from __future__ import annotations

import os
import resource
import statistics
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")


@dataclass
class Timed:
    seconds: float
    returncode: int = 0
    stdout: str = ""
    stderr: str = ""
    # user+sys CPU seconds of this process and of the children it waited for meanwhile:
    # much steadier than wall time when other work shares the machine.
    cpu: float = 0.0


def cpu_seconds() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def time_call(fn: Callable[[], T]) -> tuple[float, T]:
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def measure(fn: Callable[[], T]) -> tuple[Timed, T]:
    """Wall and CPU time of a call (CPU includes every thread and any reaped child)."""
    cpu, start = cpu_seconds(), time.perf_counter()
    result = fn()
    return Timed(time.perf_counter() - start, cpu=cpu_seconds() - cpu), result


def run(
    argv: Sequence[str | Path],
    *,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    stdout_path: Path | None = None,
    check: bool = False,
) -> Timed:
    """Run a command, timing it from spawn to exit; stdout goes to a file when it is large."""
    cpu, start = cpu_seconds(), time.perf_counter()
    if stdout_path is not None:
        with stdout_path.open("wb") as out:
            proc = subprocess.run(
                [str(a) for a in argv], cwd=cwd, env=env, stdout=out, stderr=subprocess.PIPE
            )
        out_text = ""
    else:
        proc = subprocess.run([str(a) for a in argv], cwd=cwd, env=env, capture_output=True)
        out_text = proc.stdout.decode("utf-8", "replace")
    elapsed, used = time.perf_counter() - start, cpu_seconds() - cpu
    err = proc.stderr.decode("utf-8", "replace")
    if check and proc.returncode != 0:
        raise RuntimeError(f"{argv[0]} exited {proc.returncode}: {err[-2000:]}")
    return Timed(elapsed, proc.returncode, out_text, err, cpu=used)


def run_parallel(argvs: Sequence[Sequence[str | Path]], cwd: Path | None = None) -> Timed:
    """Start every command at once and time until the last one exits (return code: worst)."""
    cpu, start = cpu_seconds(), time.perf_counter()
    procs = [
        subprocess.Popen(
            [str(a) for a in argv], cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        for argv in argvs
    ]
    errors = [p.communicate()[1].decode("utf-8", "replace") for p in procs]
    elapsed, used = time.perf_counter() - start, cpu_seconds() - cpu
    worst = max((p.returncode for p in procs), key=abs, default=0)
    return Timed(elapsed, worst, "", "\n".join(errors), cpu=used)


def best(samples: Sequence[float]) -> float:
    """The least-disturbed sample: on a shared machine noise only ever adds time."""
    return min(samples)


def median(samples: Sequence[float]) -> float:
    return statistics.median(samples)


def load_average() -> tuple[float, float, float]:
    return os.getloadavg()
