"""ExifTool adapter: long-lived `exiftool -stay_open` processes answering batched requests.

Starting exiftool costs ~0.3 s of Perl start-up, so one process per file would dominate
indexing time. Each process reads an argument file on stdin (one argument per line, which
is why paths with spaces or leading dashes are safe) and answers `-execute{n}` with JSON on
stdout followed by `{ready{n}}`; `-echo4` marks the end of that request's stderr. A request
that times out or whose process dies is failed as transient, the process is restarted, and
a multi-file request is split in halves so that one pathological file cannot fail the
files that were batched with it.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import queue
import re
import selectors
import shutil
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

from imageserver import proc

log = logging.getLogger("imageserver.exiftool")

# -n: numbers, not prose; -G1: "IFD0:Make" keys, so the parser knows where a tag came from;
# LargeFileSupport: read past 64-bit atoms (videos over 4 GB keep their moov after them).
BASE_ARGS = (
    *("-charset", "filename=utf8", "-json", "-n", "-G1", "-q"),
    *("-api", "LargeFileSupport=1"),
)


@dataclass(frozen=True, slots=True)
class ExifToolFailure:
    """Why one file has no record; `permanent` False means a retry may succeed."""

    reason: str
    permanent: bool = True


Record = dict[str, Any] | ExifToolFailure


class ExifToolUnavailable(Exception):
    """The process died, hung or could not start (transient by nature)."""


class ExifToolNotStarted(ExifToolUnavailable):
    """No process at all (not installed, reader closed): no file could be the culprit."""


def request_payload(n: int, options: Sequence[str], paths: Sequence[str]) -> bytes:
    """The argument-file text of one request: options, paths one per line, then execute."""
    lines = [*BASE_ARGS, *options, *paths, "-echo4", stderr_marker(n), f"-execute{n}"]
    return b"".join(os.fsencode(line) + b"\n" for line in lines)


def stderr_marker(n: int) -> str:
    return f"{{stderr-done{n}}}"


def stdout_marker(n: int) -> str:
    return f"{{ready{n}}}"


MESSAGES_KEY = "ExifTool:Messages"


def parse_response(stdout: str, stderr: str, paths: Sequence[str]) -> list[Record]:
    """Records in the order of `paths`.

    Numbers keep their exact text (Decimal for non-integers) so that a Model of '1.50'
    stays '1.50'. Warnings and errors exiftool printed on stderr for a file are attached
    to its record under MESSAGES_KEY (the JSON carries only the first warning); a path
    with no JSON object becomes an ExifToolFailure with its stderr error.
    """
    text = stdout.strip()
    entries = json.loads(text, parse_float=Decimal) if text else []
    by_path: dict[str, dict[str, Any]] = {}
    for entry in entries:
        if isinstance(entry, dict) and isinstance(entry.get("SourceFile"), str):
            by_path.setdefault(entry["SourceFile"], entry)
    messages = stderr_messages(stderr, set(paths))
    results: list[Record] = []
    for path in paths:
        entry = by_path.get(path)
        if entry is not None:
            if path in messages:
                entry[MESSAGES_KEY] = messages[path]
            results.append(entry)
        elif path in messages:
            reason = messages[path][0].split(":", 1)[-1].strip()
            results.append(ExifToolFailure(f"exiftool: {reason}", permanent=not _missing(reason)))
        else:
            results.append(ExifToolFailure("exiftool: no output for file", permanent=True))
    return results


def stderr_messages(stderr: str, paths: set[str]) -> dict[str, list[str]]:
    """`Warning: JPEG format error - /a - b.jpg` -> {path: [message]}; paths may hold ' - '."""
    found: dict[str, list[str]] = {}
    for line in stderr.splitlines():
        at = line.find(" - ")
        while at >= 0:
            path = line[at + 3 :]
            if path in paths:
                found.setdefault(path, []).append(line[:at].strip())
                break
            at = line.find(" - ", at + 1)
    return found


def _missing(reason: str) -> bool:
    """A vanished or unreadable file may come back (remount, permissions fixed)."""
    lowered = reason.lower()
    return "not found" in lowered or "error opening" in lowered


class _Process:
    """One stay_open exiftool; not thread-safe on its own (the pool hands it out)."""

    def __init__(self, argv: Sequence[str]) -> None:
        self._argv = list(argv)
        self._proc: proc.Child | None = None
        self._counter = 0

    def _ensure(self) -> proc.Child:
        """The running process, started when there is none (from whichever worker thread
        asks: proc ties its life to the server's, not to that thread's)."""
        if self._proc is None or self._proc.poll() is not None:
            self.stop()
            try:
                self._proc = proc.spawn([*self._argv, "-stay_open", "True", "-@", "-"])
            except proc.ToolMissing as exc:
                raise ExifToolNotStarted(f"cannot start exiftool: {exc.reason}") from exc
        return self._proc

    def request(self, options: Sequence[str], paths: Sequence[str], timeout: float) -> list[Record]:
        child = self._ensure()
        self._counter += 1
        n = self._counter
        try:
            child.stdin.write(request_payload(n, options, paths))
            child.stdin.flush()
            out, err = _read_until(
                child.stdout,
                child.stderr,
                stdout_marker(n).encode(),
                stderr_marker(n).encode(),
                timeout,
            )
        except (OSError, ExifToolUnavailable) as exc:
            self.stop(graceful=False)
            raise ExifToolUnavailable(str(exc) or type(exc).__name__) from exc
        stdout = out.decode("utf-8", "replace")
        stderr = err.decode("utf-8", "replace")
        try:
            return parse_response(stdout, stderr, paths)
        except json.JSONDecodeError as exc:
            # Output out of step with the request: the process can no longer be trusted.
            self.stop(graceful=False)
            raise ExifToolUnavailable(f"unreadable exiftool output: {exc}") from exc

    def stop(self, *, graceful: bool = True) -> None:
        child, self._proc = self._proc, None
        if child is None:
            return
        if child.poll() is None and graceful:
            try:
                child.stdin.write(b"-stay_open\nFalse\n")
                child.stdin.close()
                child.wait(timeout=2)
            except (OSError, proc.ToolTimeout):
                pass
        child.kill()  # reaps it and closes the pipes; a no-op signal when it exited


def _read_until(
    stdout: IO[bytes], stderr: IO[bytes], out_mark: bytes, err_mark: bytes, timeout: float
) -> tuple[bytes, bytes]:
    """Read both pipes until each carries its marker line; raise on EOF or deadline."""
    deadline = time.monotonic() + timeout
    buffers = {stdout.fileno(): bytearray(), stderr.fileno(): bytearray()}
    # a marker counts only as a whole line: a file named '/x/{ready3}' must not end a read
    marks = {stdout.fileno(): out_mark + b"\n", stderr.fileno(): err_mark + b"\n"}
    pending = set(buffers)
    with selectors.DefaultSelector() as selector:
        for stream in (stdout, stderr):
            selector.register(stream.fileno(), selectors.EVENT_READ)
        while pending:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise ExifToolUnavailable(f"exiftool: timed out after {timeout:.0f}s")
            for key, _ in selector.select(remaining):
                fd = int(key.fd)
                chunk = os.read(fd, 1 << 16)
                if not chunk:
                    raise ExifToolUnavailable("exiftool: process exited")
                buffers[fd] += chunk
                buffer, mark = buffers[fd], marks[fd]
                if buffer == mark or buffer.endswith(b"\n" + mark):
                    pending.discard(fd)
                    selector.unregister(fd)
    out, err = buffers[stdout.fileno()], buffers[stderr.fileno()]
    return bytes(out[: -len(marks[stdout.fileno()])]), bytes(err[: -len(marks[stderr.fileno()])])


_SAFE_SUFFIX = re.compile(r"\.[A-Za-z0-9]{1,8}")


def _utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # undecodable bytes kept as surrogates by os.fsdecode
        return False
    return True


class ExifTool:
    """A small pool of stay_open processes; `read` is thread-safe (a caller waits for a
    free process). Timeouts scale with the batch: `timeout + per_file_timeout * len(paths)`.

    One process is the default: on a shared 2-core machine a second one measured slower
    (bench/metadata_micro.py), and the metadata reader already keeps a second core busy
    with its in-process JPEG path and ffprobe.
    """

    def __init__(
        self,
        executable: str = "exiftool",
        *,
        processes: int = 1,
        timeout: float = 20.0,
        per_file_timeout: float = 0.5,
    ) -> None:
        self.processes = max(1, processes)
        self._timeout = timeout
        self._per_file = per_file_timeout
        self._idle: queue.SimpleQueue[_Process] = queue.SimpleQueue()
        self._all = [_Process([executable]) for _ in range(self.processes)]
        for process in self._all:
            self._idle.put(process)
        self._alias_dir: Path | None = None
        self._alias_lock = threading.Lock()
        self._aliases = 0
        self._closed = False

    def read(self, paths: Sequence[Path], options: Sequence[str] = ()) -> list[Record]:
        """One record per path (same order): exiftool's JSON object or a failure."""
        if not paths:
            return []
        aliases: list[str] = []
        names = [self._argument(path, aliases) for path in paths]
        try:
            return self._read_split(names, list(options))
        finally:
            for alias in aliases:
                with contextlib.suppress(OSError):
                    os.unlink(alias)

    def _read_split(self, names: list[str], options: list[str]) -> list[Record]:
        try:
            return self._request(names, options)
        except ExifToolUnavailable as exc:
            if len(names) == 1 or isinstance(exc, ExifToolNotStarted):
                log.warning(
                    "event=exiftool_failed files=%d first=%r error=%s", len(names), names[0], exc
                )
                reason = str(exc) if str(exc).startswith("exiftool") else f"exiftool: {exc}"
                return [ExifToolFailure(reason, permanent=False) for _ in names]
            middle = len(names) // 2
            return self._read_split(names[:middle], options) + self._read_split(
                names[middle:], options
            )

    def _request(self, names: list[str], options: list[str]) -> list[Record]:
        if self._closed:
            raise ExifToolNotStarted("exiftool: reader closed")
        process = self._idle.get()
        try:
            return process.request(options, names, self._timeout + self._per_file * len(names))
        finally:
            self._idle.put(process)

    def _argument(self, path: Path, aliases: list[str]) -> str:
        """The path as one safe argument line: absolute (so never a leading dash), valid
        UTF-8 and without line breaks; other names go through a symlink alias."""
        text = os.path.abspath(path)
        if "\n" in text or "\r" in text or not _utf8(text):
            alias = self._alias(text)
            aliases.append(alias)
            return alias
        return text

    def _alias(self, target: str) -> str:
        """A plain-named symlink in our own temp dir (exiftool uses the extension too)."""
        suffix = Path(target).suffix
        suffix = suffix if _SAFE_SUFFIX.fullmatch(suffix) else ""
        with self._alias_lock:
            if self._alias_dir is None:
                self._alias_dir = Path(tempfile.mkdtemp(prefix="imageserver-exiftool-"))
            self._aliases += 1
            name = str(self._alias_dir / f"{self._aliases}{suffix}")
        os.symlink(os.fsencode(target), name)
        return name

    def close(self) -> None:
        self._closed = True
        for process in self._all:
            process.stop()
        if self._alias_dir is not None:
            shutil.rmtree(self._alias_dir, ignore_errors=True)
            self._alias_dir = None


def write_batch(
    commands: Sequence[Sequence[str]], scratch: Path, *, per_command: float = 1.0
) -> str:
    """Run several exiftool write commands in one process (an argument file of commands
    separated by `-execute`, so Perl starts once); stderr's text. Arguments are lines of
    the file: a caller must refuse line breaks in them. Raises proc.ToolError."""
    lines: list[str] = []
    for command in commands:
        if any("\n" in a or "\r" in a for a in command):
            raise ValueError("an exiftool argument holds a line break")
        lines += [*("-charset", "filename=utf8", "-q"), *command, "-execute"]
    scratch.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(
        "wb", dir=scratch, prefix="exiftool-", suffix=".args", delete=False
    ) as fh:
        fh.write(b"".join(os.fsencode(line) + b"\n" for line in lines))
        argfile = fh.name
    try:
        done = proc.run(
            ["exiftool", "-@", argfile],
            timeout=10.0 + per_command * len(commands),
            check=False,
        )
    finally:
        with contextlib.suppress(OSError):
            os.unlink(argfile)
    return done.stderr_text
