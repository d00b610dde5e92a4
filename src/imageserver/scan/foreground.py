"""`imageserver scan`: one full or quick tick in the foreground, then drain to empty."""

from __future__ import annotations

import time
from collections.abc import Sequence

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from imageserver.scan.watcher import SUMMARY_KEYS, Watcher
from imageserver.work.context import AppContext
from imageserver.work.tick import TickContext


def run_foreground_scan(ctx: AppContext, library: str | None, full: bool, drain: bool) -> int:
    console = Console(stderr=True)
    watcher = Watcher(ctx)
    if library is not None and not watcher.libraries(library):
        console.print(f"[red]no enabled library named {library!r}[/red]")
        return 1
    totals: dict[str, int] = {}
    started = time.perf_counter()
    try:
        with Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            TextColumn("{task.completed}/{task.total}"),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        ) as progress:
            task = progress.add_task("scanning", total=None)
            results = watcher.tick(full=full, only=library)
            _add(totals, results)
            first_pending = max(1, _pending(results))
            progress.update(task, total=first_pending, completed=0, description="indexing")
            while drain and _pending(results) > 0 and _progressing(results):
                results = watcher.tick(full=False, only=library)
                _add(totals, results)
                progress.update(task, completed=max(0, first_pending - _pending(results)))
    finally:
        ctx.close()
    elapsed = time.perf_counter() - started
    summary = " ".join(f"{k}={totals.get(k, 0)}" for k in SUMMARY_KEYS)
    stale = [t.library.name for t in results if t.stale]
    console.print(
        f"scan done in {elapsed:.1f} s: {summary} pending={_pending(results)}", soft_wrap=True
    )
    if stale:
        console.print(f"[yellow]stale libraries (skipped): {', '.join(stale)}[/yellow]")
    return 0


def _pending(results: Sequence[TickContext]) -> int:
    return sum(sum(t.pending.values()) for t in results)


def _progressing(results: Sequence[TickContext]) -> bool:
    """Stop when a tick did nothing: what is left waits for a retry time."""
    return any(
        t.counts["hashed"]
        or t.counts["described"]
        or t.counts["thumbnailed"]
        or t.counts["failed"]
        or t.counts.get("progress", 0)
        for t in results
    )


def _add(totals: dict[str, int], results: Sequence[TickContext]) -> None:
    for t in results:
        for key, value in t.counts.items():
            totals[key] = totals.get(key, 0) + value
