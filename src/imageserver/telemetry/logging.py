"""Structured logs: `event=name key=value ...` lines (or JSON), one configurable level.

Libraries' own warnings come through the same handler as one `event=library_warning`
line each: pyvips (libvips' GLib messages, logger `pyvips`) and Python `warnings` (PIL's
UserWarning, DecompressionBombWarning...; `warnings.showwarning` is replaced). Their text
is folded onto one line, empty ones are dropped, and each distinct message (digits
ignored) is let through at most `LibraryWarnings.burst` times a `window`; the next one
after a window says how many were suppressed.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import threading
import time
import warnings
from collections.abc import Callable
from typing import TextIO


class KeyValueFormatter(logging.Formatter):
    """`ts level logger message` where message is already `event=... k=v`."""

    def format(self, record: logging.LogRecord) -> str:
        ts = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
        line = f"{ts}.{int(record.msecs):03d}Z {record.levelname.lower():7s} {record.name} "
        line += record.getMessage()
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


class JsonFormatter(logging.Formatter):
    """One JSON object per line; `event=x k=v` messages are split into fields."""

    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, object] = {
            "ts": record.created,
            "level": record.levelname.lower(),
            "logger": record.name,
        }
        message = record.getMessage()
        payload.update(parse_kv(message) or {"message": message})
        if record.exc_info:
            payload["exc"] = self.formatException(record.exc_info)
        return json.dumps(payload, default=str)


_KV = re.compile(r'([A-Za-z_][A-Za-z0-9_]*)=("(?:[^"\\]|\\.)*"|[^ ]*)(?: |$)')


def parse_kv(message: str) -> dict[str, str]:
    """Split `event=x a=1 b="two words"` into a dict (a quoted value is a JSON string);
    empty when the message is not in that form."""
    fields: dict[str, str] = {}
    position = 0
    while position < len(message):
        match = _KV.match(message, position)
        if match is None or match.end() == position:
            return {}
        key, value = match.groups()
        fields[key] = json.loads(value) if value.startswith('"') else value
        position = match.end()
    if message.endswith(" "):
        return {}
    return fields


def quote(text: str) -> str:
    """A value for a `k=v` message: bare when it has no space or quote, else a JSON string."""
    return text if text and re.fullmatch(r'[^ "=]+', text) else json.dumps(text)


def one_line(text: str) -> str:
    """Every line of `text`, stripped, the empty ones dropped, joined with ` | `."""
    return " | ".join(line.strip() for line in text.splitlines() if line.strip())


class LibraryWarnings(logging.Filter):
    """Rewrites a library's record as one `event=library_warning` line; rate-limited."""

    def __init__(
        self, burst: int = 5, window: float = 60.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        super().__init__()
        self.burst = burst
        self.window = window
        self.clock = clock
        self._lock = threading.Lock()
        self._seen: dict[str, tuple[float, int]] = {}  # key -> (window start, records in it)
        self._suppressed = 0

    def filter(self, record: logging.LogRecord) -> bool:
        text = one_line(record.getMessage())
        source = getattr(record, "library_source", record.name)
        if source == "pyvips" and text.startswith("VIPS:"):
            text = text[len("VIPS:") :].strip()
        if not text:
            return False
        key = f"{source}:{re.sub(r'[0-9]+', '#', text)[:200]}"
        now = self.clock()
        with self._lock:
            start, count = self._seen.get(key, (now, 0))
            if now - start >= self.window:
                start, count = now, 0
            if count >= self.burst:
                self._seen[key] = (start, count + 1)
                self._suppressed += 1
                return False
            if len(self._seen) > 1000:
                self._seen.clear()
            self._seen[key] = (start, count + 1)
            suppressed, self._suppressed = self._suppressed, 0
        message = f"event=library_warning source={quote(source)}"
        category = getattr(record, "library_category", None)
        if category:
            message += f" category={quote(category)}"
        message += f" message={quote(text[:2000])}"
        if suppressed:
            message += f" suppressed_before={suppressed}"
        record.msg, record.args = message, None
        return True


WARNINGS_LOGGER = "py.warnings"
_filter = LibraryWarnings()


def _showwarning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: TextIO | None = None,
    line: str | None = None,
) -> None:
    del file, line
    module = filename.replace("\\", "/").split("/site-packages/")[-1]
    source = module.split("/")[0] if "/site-packages/" in filename else "python"
    logging.getLogger(WARNINGS_LOGGER).warning(
        "%s (%s:%d)",
        message,
        module,
        lineno,
        extra={"library_source": source, "library_category": category.__name__},
    )


def route_library_warnings(limiter: LibraryWarnings | None = None) -> LibraryWarnings:
    """Send pyvips' log records and Python warnings through `limiter` (one shared filter
    unless given) into the project's handler; idempotent."""
    limiter = limiter or _filter
    for name in ("pyvips", WARNINGS_LOGGER):
        logger = logging.getLogger(name)
        for old in [f for f in logger.filters if isinstance(f, LibraryWarnings)]:
            logger.removeFilter(old)
        logger.addFilter(limiter)
    warnings.showwarning = _showwarning
    return limiter


def configure_logging(level: str = "info", fmt: str = "text") -> None:
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_imageserver", False):
            root.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler._imageserver = True  # type: ignore[attr-defined]
    handler.setFormatter(JsonFormatter() if fmt == "json" else KeyValueFormatter())
    root.addHandler(handler)
    root.setLevel(level.upper())
    logging.getLogger("imageserver").setLevel(level.upper())
    noisy_loggers = (
        "uvicorn.access",
        "httpx",
        "httpcore",
        "PIL",
        "alembic.runtime.migration",
        "pyvips",
    )
    for noisy in noisy_loggers:
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
    route_library_warnings()
