"""The one runner: exit status, stderr, timeouts, stop requests, signals, missing tools."""

from __future__ import annotations

import os
import threading
import time

import pytest

from imageserver.video import runner
from tests.fixtures import sigkill_when_started


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie still answers kill(0); it is dead for our purpose
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split()[2] != "Z"
    except FileNotFoundError:
        return False


def test_success_returns_stderr() -> None:
    result = runner.run(["sh", "-c", "echo note >&2"], timeout=10)
    assert result.stderr.strip() == "note" and result.seconds >= 0


def test_failure_keeps_status_and_stderr() -> None:
    with pytest.raises(runner.FfmpegFailed) as err:
        runner.run(["sh", "-c", "echo 'Invalid data found' >&2; exit 3"], timeout=10)
    assert err.value.returncode == 3 and "Invalid data found" in err.value.stderr
    assert not err.value.transient


def test_timeout_kills_the_whole_process_group() -> None:
    control = runner.RunControl()
    # the shell starts a grandchild; killing only the shell would orphan it
    started = time.monotonic()
    with pytest.raises(runner.FfmpegTimeout) as err:
        runner.run(["sh", "-c", "sleep 30 & echo $! >&2; wait"], timeout=0.5, control=control)
    assert time.monotonic() - started < 5
    assert err.value.transient
    assert control.pids == set()


def test_grandchild_is_killed_on_timeout() -> None:
    marker = []

    def spawn() -> None:
        try:
            runner.run(["sh", "-c", "sleep 30 & echo $! >&2; wait"], timeout=0.5)
        except runner.FfmpegTimeout as exc:
            marker.append(exc)

    thread = threading.Thread(target=spawn)
    thread.start()
    thread.join(10)
    assert marker, "timeout not raised"
    # find no leftover `sleep 30` of ours
    time.sleep(0.2)
    leftovers = [
        p
        for p in os.listdir("/proc")
        if p.isdigit() and _cmdline(int(p)) == "sleep 30" and alive(int(p))
    ]
    assert leftovers == []


def _cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            return fh.read().replace(b"\0", b" ").decode().strip()
    except OSError:
        return ""


def test_stop_request_cancels_promptly() -> None:
    control = runner.RunControl()
    threading.Timer(0.3, control.cancel.set).start()
    started = time.monotonic()
    with pytest.raises(runner.FfmpegCancelled):
        runner.run(["sleep", "30"], timeout=60, control=control)
    assert time.monotonic() - started < 5
    with pytest.raises(runner.FfmpegCancelled):
        runner.run(["true"], timeout=60, control=control)  # already stopped: never starts


def test_killed_by_a_signal_is_transient() -> None:
    control = runner.RunControl()
    sigkill_when_started(control)
    with pytest.raises(runner.FfmpegKilled) as err:
        runner.run(["sleep", "30"], timeout=60, control=control)
    assert err.value.transient and "SIGKILL" in err.value.reason


def test_missing_tool_is_transient() -> None:
    with pytest.raises(runner.ToolMissing) as err:
        runner.run(["/nonexistent/ffmpeg", "-version"], timeout=5)
    assert err.value.transient
