"""Libraries' warnings (pyvips through GLib, PIL through `warnings`) come out as one
structured line each, never empty or multi-line, and rate-limited."""

from __future__ import annotations

import contextlib
import io
import json
import logging
import warnings
from collections.abc import Iterator

import pytest

from imageserver.media import decode  # noqa: F401  (loads pillow-heif before pyvips)
from imageserver.telemetry.logging import (
    LibraryWarnings,
    configure_logging,
    parse_kv,
    route_library_warnings,
)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Logs:
    def __init__(self) -> None:
        self.clock = Clock()
        self.stream = io.StringIO()

    def lines(self) -> list[str]:
        text = self.stream.getvalue()
        self.stream.seek(0)
        self.stream.truncate()
        return text.splitlines()


@pytest.fixture
def logs() -> Iterator[Logs]:
    """The project's handler (as `serve` configures it) writing into a buffer."""
    state = Logs()
    root = logging.getLogger()
    level = root.level
    with warnings.catch_warnings():  # restores showwarning and the filters afterwards
        warnings.simplefilter("always")
        configure_logging("info", "text")
        ours = [h for h in root.handlers if getattr(h, "_imageserver", False)]
        assert len(ours) == 1
        assert isinstance(ours[0], logging.StreamHandler)
        ours[0].setStream(state.stream)
        limiter = route_library_warnings(LibraryWarnings(burst=3, window=60.0, clock=state.clock))
        try:
            yield state
        finally:
            root.removeHandler(ours[0])
            root.setLevel(level)
            for name in ("pyvips", "py.warnings"):
                logging.getLogger(name).removeFilter(limiter)


def fields(line: str) -> dict[str, str]:
    message = line.split(" ", 3)[3]  # ts level logger message
    parsed = parse_kv(message)
    assert parsed, line
    return parsed


def broken_jpeg() -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (64, 64), (200, 10, 10)).save(buffer, "JPEG")
    return buffer.getvalue()[:-200]


def test_real_pyvips_warnings_become_single_structured_lines(logs: Logs) -> None:
    import pyvips

    with contextlib.suppress(pyvips.Error):
        pyvips.Image.new_from_buffer(broken_jpeg(), "").avg()
    out = logs.lines()
    assert out, "libvips warned about the truncated JPEG"
    for line in out:
        assert line.strip() and " pyvips " in line, out
        record = fields(line)
        assert record["event"] == "library_warning" and record["source"] == "pyvips"
        assert record["message"] and "\n" not in record["message"]
        assert not record["message"].startswith("VIPS:")
    assert any("Premature end of JPEG file" in fields(line)["message"] for line in out), out


def test_empty_and_multiline_records_are_dropped_or_folded(logs: Logs) -> None:
    vips = logging.getLogger("pyvips")
    vips.warning("VIPS: ")
    vips.warning("   \n\n")
    vips.warning("VIPS: first line\n\n  second line  \n")
    out = logs.lines()
    assert len(out) == 1, out
    assert fields(out[0])["message"] == "first line | second line"


def test_pil_warning_is_one_structured_line(logs: Logs) -> None:
    from PIL import Image

    image = Image.new("P", (4, 4))
    image.info["transparency"] = b"\x00" * 256
    image.convert("RGB")  # PIL: "Palette images with Transparency expressed in bytes ..."
    out = logs.lines()
    assert len(out) == 1, out
    record = fields(out[0])
    assert record["source"] == "PIL" and record["category"] == "UserWarning"
    assert "Palette images with Transparency" in record["message"]


def test_repeated_warnings_are_rate_limited_then_counted(logs: Logs) -> None:
    vips = logging.getLogger("pyvips")
    for i in range(20):
        vips.warning("VIPS: read gave %d warnings", i)  # digits differ: one message
    vips.warning("VIPS: another message")
    out = logs.lines()
    assert [fields(line)["message"] for line in out] == [
        "read gave 0 warnings",
        "read gave 1 warnings",
        "read gave 2 warnings",
        "another message",
    ]
    assert fields(out[3])["suppressed_before"] == "17"
    logs.clock.now += 61
    vips.warning("VIPS: read gave 99 warnings")
    out = logs.lines()
    assert len(out) == 1 and fields(out[0])["message"] == "read gave 99 warnings"


def test_json_format_carries_the_fields() -> None:
    assert parse_kv('event=library_warning source=PIL message="two words \\"q\\""') == {
        "event": "library_warning",
        "source": "PIL",
        "message": 'two words "q"',
    }
    assert parse_kv("event=x a=1") == {"event": "x", "a": "1"}
    assert parse_kv("not key value") == {}
    assert parse_kv("event=x ") == {}
    assert json.loads(json.dumps(parse_kv("a=b")))["a"] == "b"
