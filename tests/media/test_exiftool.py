"""The exiftool adapter: request/response protocol (pure), a scripted fake exiftool for
crashes and hangs, and the real exiftool on hostile file names."""

from __future__ import annotations

import json
import os
import shutil
import stat
import sys
import threading
import time
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path

import pytest

from imageserver.media.exiftool import (
    MESSAGES_KEY,
    ExifTool,
    ExifToolFailure,
    parse_response,
    request_payload,
    stderr_marker,
    stderr_messages,
)
from tests.fixtures import make_jpeg

HAS_EXIFTOOL = shutil.which("exiftool") is not None
needs_exiftool = pytest.mark.skipif(not HAS_EXIFTOOL, reason="exiftool not installed")

# --- pure protocol ---------------------------------------------------------------------------


def test_request_payload_one_argument_per_line() -> None:
    payload = request_payload(7, ["-Make"], ["/photos/a b.jpg", "/photos/-dash.jpg"])
    lines = payload.decode().split("\n")
    assert lines[-1] == ""  # newline-terminated
    assert "/photos/a b.jpg" in lines and "/photos/-dash.jpg" in lines
    assert lines[-4:-1] == ["-echo4", stderr_marker(7), "-execute7"]
    assert lines[:2] == ["-charset", "filename=utf8"]
    assert "-json" in lines and "-n" in lines


def test_parse_response_orders_by_request_and_maps_failures() -> None:
    stdout = json.dumps(
        [
            {"SourceFile": "/b.jpg", "IFD0:Model": 1.50},
            {"SourceFile": "/a - x.jpg", "IFD0:Make": "Canon"},
        ]
    ).replace("1.5", "1.50")
    stderr = (
        "Error: File not found - /gone.jpg\n"
        "Warning: JPEG format error - /a - x.jpg\n"
        "Error: Unknown file type - /weird.bin\n"
    )
    records = parse_response(stdout, stderr, ["/a - x.jpg", "/gone.jpg", "/b.jpg", "/weird.bin"])
    assert records[0] == {
        "SourceFile": "/a - x.jpg",
        "IFD0:Make": "Canon",
        MESSAGES_KEY: ["Warning: JPEG format error"],
    }
    assert records[1] == ExifToolFailure("exiftool: File not found", permanent=False)
    assert isinstance(records[2], dict) and records[2]["IFD0:Model"] == Decimal("1.50")
    assert records[3] == ExifToolFailure("exiftool: Unknown file type", permanent=True)


def test_parse_response_file_without_output_or_message() -> None:
    assert parse_response("", "", ["/x.jpg"]) == [
        ExifToolFailure("exiftool: no output for file", permanent=True)
    ]


def test_stderr_messages_match_whole_paths_only() -> None:
    found = stderr_messages(
        "Warning: odd - /p - q.jpg\nError: bad - /q.jpg\n", {"/p - q.jpg", "/q.jpg"}
    )
    assert found == {"/p - q.jpg": ["Warning: odd"], "/q.jpg": ["Error: bad"]}


# --- a scripted fake exiftool: hangs, crashes, restarts --------------------------------------

FAKE = r"""
import json, os, sys, time
count_file = os.environ["FAKE_EXIFTOOL_STARTS"]
with open(count_file, "a") as fh:
    fh.write("start\n")
args = []
for raw in sys.stdin.buffer:
    line = raw.decode("utf-8", "surrogateescape").rstrip("\n")
    if line == "False" and args and args[-1] == "-stay_open":
        sys.exit(0)
    if not line.startswith("-execute"):
        args.append(line)
        continue
    n = line[len("-execute"):]
    marker = args[args.index("-echo4") + 1]
    files = [a for a in args if a.startswith("/")]
    args = []
    out = []
    for f in files:
        name = os.path.basename(f)
        if "hang" in name:
            time.sleep(3600)
        if "crash" in name:
            sys.exit(3)
        if "garbage" in name:
            sys.stdout.write("not json\n{ready" + n + "}\n")
            sys.stdout.flush()
            sys.stderr.write(marker + "\n")
            sys.stderr.flush()
            break
        out.append({"SourceFile": f, "File:FileName": name})
    else:
        sys.stdout.write(json.dumps(out) + "\n{ready" + n + "}\n")
        sys.stdout.flush()
        sys.stderr.write(marker + "\n")
        sys.stderr.flush()
"""


@pytest.fixture
def fake_exiftool(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[str, Path]:
    script = tmp_path / "fake-exiftool"
    script.write_text(f"#!{sys.executable}\n{FAKE}")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    starts = tmp_path / "starts.txt"
    starts.touch()
    monkeypatch.setenv("FAKE_EXIFTOOL_STARTS", str(starts))
    return str(script), starts


def _names(records: Sequence[object]) -> list[object]:
    return [r["File:FileName"] if isinstance(r, dict) else r for r in records]


def test_fake_round_trip_reuses_one_process(fake_exiftool: tuple[str, Path]) -> None:
    exe, starts = fake_exiftool
    tool = ExifTool(exe, processes=1)
    try:
        assert _names(tool.read([Path("/x/a.jpg"), Path("/x/b.jpg")])) == ["a.jpg", "b.jpg"]
        assert _names(tool.read([Path("/x/c.jpg")])) == ["c.jpg"]
    finally:
        tool.close()
    assert starts.read_text().count("start") == 1


def test_process_outlives_the_worker_thread_that_started_it(
    fake_exiftool: tuple[str, Path],
) -> None:
    """Worker threads come and go (anyio's idle ones exit after 10 s); exiftool stays."""
    exe, starts = fake_exiftool
    tool = ExifTool(exe, processes=1)
    try:
        first: list[object] = []
        worker = threading.Thread(target=lambda: first.extend(tool.read([Path("/x/a.jpg")])))
        worker.start()
        worker.join(30)
        assert not worker.is_alive() and _names(first) == ["a.jpg"]
        time.sleep(0.5)  # a death signal tied to the worker thread would have landed
        assert _names(tool.read([Path("/x/b.jpg")])) == ["b.jpg"]
    finally:
        tool.close()
    assert starts.read_text().count("start") == 1


def test_hang_times_out_isolates_the_file_and_restarts(fake_exiftool: tuple[str, Path]) -> None:
    exe, starts = fake_exiftool
    tool = ExifTool(exe, processes=1, timeout=1.0, per_file_timeout=0.0)
    paths = [Path(f"/x/{name}.jpg") for name in ("a", "b", "hang", "c")]
    began = time.monotonic()
    try:
        records = tool.read(paths)
        assert _names(tool.read([Path("/x/after.jpg")])) == ["after.jpg"]
    finally:
        tool.close()
    assert _names(records[:2]) == ["a.jpg", "b.jpg"]
    assert records[2] == ExifToolFailure("exiftool: timed out after 1s", permanent=False)
    assert _names(records[3:]) == ["c.jpg"]
    # whole batch, then halves, then the single culprit: a few timeouts, not one per file
    assert time.monotonic() - began < 10
    assert starts.read_text().count("start") >= 2


def test_crash_is_transient_for_the_culprit_only(fake_exiftool: tuple[str, Path]) -> None:
    exe, _ = fake_exiftool
    tool = ExifTool(exe, processes=1, timeout=5.0)
    try:
        records = tool.read([Path("/x/a.jpg"), Path("/x/crash.jpg"), Path("/x/b.jpg")])
    finally:
        tool.close()
    assert _names([records[0], records[2]]) == ["a.jpg", "b.jpg"]
    failure = records[1]
    assert isinstance(failure, ExifToolFailure)
    assert not failure.permanent and "exited" in failure.reason


def test_unreadable_output_restarts_the_process(fake_exiftool: tuple[str, Path]) -> None:
    exe, starts = fake_exiftool
    tool = ExifTool(exe, processes=1, timeout=5.0)
    try:
        records = tool.read([Path("/x/garbage.jpg")])
        assert _names(tool.read([Path("/x/ok.jpg")])) == ["ok.jpg"]
    finally:
        tool.close()
    assert isinstance(records[0], ExifToolFailure) and not records[0].permanent
    assert starts.read_text().count("start") == 2


def test_missing_executable_is_transient(tmp_path: Path) -> None:
    tool = ExifTool(str(tmp_path / "no-such-exiftool"), processes=1)
    try:
        records = tool.read([tmp_path / f"{i}.jpg" for i in range(50)])
    finally:
        tool.close()
    assert len(records) == 50
    for record in records:
        assert isinstance(record, ExifToolFailure) and not record.permanent
        assert "cannot start" in record.reason


def test_closed_tool_fails_transiently(fake_exiftool: tuple[str, Path]) -> None:
    exe, _ = fake_exiftool
    tool = ExifTool(exe, processes=1)
    tool.close()
    [record] = tool.read([Path("/x/a.jpg")])
    assert isinstance(record, ExifToolFailure) and not record.permanent


def test_empty_request_starts_nothing(fake_exiftool: tuple[str, Path]) -> None:
    exe, starts = fake_exiftool
    tool = ExifTool(exe, processes=2)
    assert tool.read([]) == []
    tool.close()
    assert starts.read_text() == ""


# --- the real exiftool -----------------------------------------------------------------------

HOSTILE_NAMES = [
    "plain.jpg",
    "with space.jpg",
    "-leading-dash.jpg",
    "Crémieux ünïcödé 写真.jpg",
    "semi;colon & amp (1).jpg",
    "new\nline.jpg",
    "-execute99",
]


@needs_exiftool
def test_hostile_file_names(tmp_path: Path) -> None:
    paths = [make_jpeg(tmp_path / name, make=f"Maker {i}") for i, name in enumerate(HOSTILE_NAMES)]
    raw = os.fsencode(tmp_path) + b"/latin1-\xe9t\xe9.jpg"  # not valid UTF-8
    make_jpeg(Path(os.fsdecode(raw)), make="Latin")
    paths.append(Path(os.fsdecode(raw)))
    tool = ExifTool(processes=1)
    try:
        records = tool.read(paths, ["-Make"])
        again = tool.read(paths[:1], ["-Make"])  # the process survived
        alias_dir = tool._alias_dir  # symlinks for the names an argument file can't carry
        assert alias_dir is not None and not any(alias_dir.iterdir())  # removed after use
    finally:
        tool.close()
    makes = [r.get("IFD0:Make") if isinstance(r, dict) else r for r in records]
    assert makes == [*(f"Maker {i}" for i in range(len(HOSTILE_NAMES))), "Latin"]
    assert isinstance(again[0], dict) and again[0]["IFD0:Make"] == "Maker 0"
    assert not alias_dir.exists()


@needs_exiftool
def test_relative_paths_and_missing_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    make_jpeg(tmp_path / "-rel.jpg", model="Rel")
    monkeypatch.chdir(tmp_path)
    tool = ExifTool(processes=1)
    try:
        found, missing = tool.read([Path("-rel.jpg"), tmp_path / "gone.jpg"], ["-Model"])
    finally:
        tool.close()
    assert isinstance(found, dict) and found["IFD0:Model"] == "Rel"
    assert missing == ExifToolFailure("exiftool: File not found", permanent=False)


@needs_exiftool
def test_thread_safe_pool(tmp_path: Path) -> None:
    paths = [make_jpeg(tmp_path / f"{i}.jpg", size=(32, 24), model=f"M{i}") for i in range(24)]
    tool = ExifTool(processes=2)
    results: dict[int, list[object]] = {}

    def work(k: int) -> None:
        chunk = paths[k * 6 : (k + 1) * 6]
        results[k] = [r.get("IFD0:Model") if isinstance(r, dict) else r for r in tool.read(chunk)]

    try:
        threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
    finally:
        tool.close()
    assert results == {k: [f"M{i}" for i in range(k * 6, (k + 1) * 6)] for k in range(4)}


@needs_exiftool
def test_marker_lookalike_file_names(tmp_path: Path) -> None:
    """A file named like the protocol's end markers cannot end a response early."""
    tool = ExifTool(processes=1)
    try:
        names = [f"{{ready{n}}}" for n in range(1, 4)] + [
            f"{{stderr-done{n}}}" for n in range(1, 4)
        ]
        missing = [tmp_path / name for name in names]
        first = tool.read(missing, ["-Make"])
        real = make_jpeg(tmp_path / "real.jpg", make="Real")
        second = tool.read([real], ["-Make"])
    finally:
        tool.close()
    assert all(isinstance(r, ExifToolFailure) and not r.permanent for r in first)
    assert isinstance(second[0], dict) and second[0]["IFD0:Make"] == "Real"
