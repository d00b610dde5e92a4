"""Coercion of exiftool JSON values: the few rules every field parser shares.

exiftool hands numeric-looking strings over as numbers, lists where a tag repeats, and
"12.3 m" style strings for some units; each parser (dates, GPS, EXIF fields) needs the same
answer to "is this a usable string / finite number", so the rules live here once.
"""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Any


def as_text(value: Any) -> str | None:
    """A stripped string; exiftool hands numeric-looking strings over as numbers."""
    if value is None or isinstance(value, (list, dict)):
        return None
    text = ("true" if value else "false") if isinstance(value, bool) else str(value)
    text = text.replace("\x00", "").strip()
    return text or None


def as_number(value: Any) -> float | None:
    if isinstance(value, list) and value:
        value = value[0]
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, str):
        value = value.split(" ")[0]
    try:
        number = float(value)
    except (TypeError, ValueError, ArithmeticError):
        return None
    return number if math.isfinite(number) else None


def as_positive(value: Any) -> float | None:
    number = as_number(value)
    return number if number is not None and number > 0 else None


def first_of(rec: dict[str, Any], keys: tuple[str, ...], name: str | None = None) -> Any:
    """The first present key; then, when `name` is given, any other group's `name` tag."""
    for key in keys:
        if rec.get(key) not in (None, ""):
            return rec[key]
    if name is not None:
        for key, value in rec.items():
            if key.endswith(f":{name}") and value not in (None, ""):
                return value
    return None


def json_safe(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, list):
        return [json_safe(v) for v in value]
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    return value
