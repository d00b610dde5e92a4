"""What every row group shares: options, the work folder, the generated library, a cache.

Expensive things (the library, an indexed data folder, a reference tool's timing) are made
once, on first use, and cached here, so `--only` can pick any rows and the end-to-end row
reuses the reference timings the other rows already paid for.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.library import Library, build_library, find_sources


@dataclass
class BenchContext:
    args: argparse.Namespace
    workdir: Path
    started: float = field(default_factory=time.perf_counter)
    cache: dict[str, Any] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)  # written to --json beside the rows

    @property
    def corpus(self) -> Path:
        return Path(self.args.corpus)

    @property
    def threads(self) -> int:
        """The drain pool size the server would use (Settings().worker_threads)."""
        if "threads" not in self.cache:
            from imageserver.config import Settings

            self.cache["threads"] = Settings(_env_file=None).worker_threads
        return int(self.cache["threads"])

    def log(self, message: str) -> None:
        print(
            f"[{time.perf_counter() - self.started:7.1f}s] {message}", file=sys.stderr, flush=True
        )

    def path(self, name: str) -> Path:
        return self.workdir / name

    def library(self) -> Library:
        """The --files library, built on first use (its build time is reported, not judged)."""
        if "library" not in self.cache:
            self.cache["library"] = self.build("lib", self.args.files)
        lib: Library = self.cache["library"]
        return lib

    def build(self, name: str, count: int, max_source_bytes: int | None = None) -> Library:
        sources = find_sources(self.corpus, max_source_bytes)
        self.log(f"building library {name!r}: {count} files from {len(sources)} corpus files ...")
        start = time.perf_counter()
        lib = build_library(self.path(name), sources, count, threads=max(2, self.threads))
        seconds = time.perf_counter() - start
        self.log(f"library {name!r} built in {seconds:.1f} s: {lib.describe()}")
        self.meta.setdefault("libraries", {})[name] = {
            "files": len(lib.files),
            "bytes": lib.total_bytes,
            "mix": lib.mix,
            "corpus_files": lib.sources,
            "build_seconds": round(seconds, 2),
            "max_source_bytes": max_source_bytes,
        }
        return lib

    def file_list(self, name: str, files: list[Path], sep: str = "\0") -> Path:
        """Write paths to a list file for xargs -0 (sep NUL) or exiftool -@ (sep newline)."""
        path = self.path(name)
        path.write_text("".join(f"{p}{sep}" for p in files), encoding="utf-8")
        return path

    def warm(self, files: list[Path]) -> None:
        """Read every file once so timed runs are CPU-bound (warm page cache), not disk-bound."""
        key = f"warm:{len(files)}:{files[0] if files else ''}"
        if key in self.cache:
            return
        buf = bytearray(1 << 20)
        for path in files:
            with path.open("rb", buffering=0) as fh:
                while fh.readinto(buf):
                    pass
        self.cache[key] = True
