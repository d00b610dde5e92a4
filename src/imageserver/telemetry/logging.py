"""Structured logs: `event=name key=value ...` lines (or JSON), one configurable level."""

from __future__ import annotations

import json
import logging
import sys
import time


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


def parse_kv(message: str) -> dict[str, str]:
    """Split `event=x a=1 b=two` into a dict; empty when the message is not in that form."""
    fields: dict[str, str] = {}
    for token in message.split(" "):
        key, sep, value = token.partition("=")
        if not sep or not key.isidentifier():
            return {}
        fields[key] = value
    return fields


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
        "uvicorn.access", "httpx", "httpcore", "PIL", "alembic.runtime.migration", "pyvips",
    )
    for noisy in noisy_loggers:
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
