"""The one runner (imageserver.proc): timeouts, bounded stderr, typed errors, stop requests,
long-lived children that outlive their spawning thread but never the server (a SIGKILLed
real server leaves no exiftool/ffmpeg behind), and no other module running programs."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from imageserver import proc
from tests.fixtures import make_png, make_video, sigkill_when_started
from tests.reliability.test_crash import Server, running, wait_for

PACKAGE = Path(proc.__file__).parent


def stat_fields(pid: int) -> list[str] | None:
    """/proc/<pid>/stat after the command name (state is [0], ppid [1], starttime [19])."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text.rsplit(")", 1)[1].split()


def alive(pid: int, started: str | None = None) -> bool:
    """Running (a zombie is dead for our purpose; a reused pid has another start time)."""
    fields = stat_fields(pid)
    if fields is None or fields[0] in ("Z", "X"):
        return False
    return started is None or fields[19] == started


def wait_dead(pid: int, seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    return not alive(pid)


# --- run to completion -----------------------------------------------------------------------


def test_output_status_and_stderr() -> None:
    done = proc.run(["sh", "-c", "echo out; echo note >&2"], timeout=10)
    assert done.returncode == 0 and done.stdout == b"out\n" and done.stderr_text == "note\n"
    with pytest.raises(proc.ToolFailed) as err:
        proc.run(["sh", "-c", "echo 'Invalid data found' >&2; exit 3"], timeout=10)
    assert err.value.returncode == 3 and err.value.tool == "sh"
    assert "Invalid data found" in err.value.stderr and not err.value.transient
    kept = proc.run(["sh", "-c", "exit 4"], timeout=10, check=False)
    assert kept.returncode == 4


def test_timeout_kills_the_child() -> None:
    control = proc.RunControl()
    seen: list[int] = []
    threading.Timer(0.2, lambda: seen.extend(control.pids)).start()
    started = time.monotonic()
    with pytest.raises(proc.ToolTimeout) as err:
        proc.run(["sleep", "30"], timeout=0.6, control=control)
    assert time.monotonic() - started < 5 and err.value.transient
    assert len(seen) == 1 and not alive(seen[0]) and control.pids == set()


def test_stderr_is_bounded_keeping_its_first_and_last_lines() -> None:
    noisy = "echo FIRST >&2; i=0; while [ $i -lt 4000 ]; do echo " + "x" * 60 + " >&2; "
    noisy += "i=$((i+1)); done; echo LAST >&2; exit 1"
    with pytest.raises(proc.ToolFailed) as err:
        proc.run(["sh", "-c", noisy], timeout=30, stderr_limit=16 * 1024)
    stderr = err.value.stderr
    assert len(stderr) < 16 * 1024 + 100  # 4000 lines (~250 kB) written
    assert stderr.startswith("FIRST\n") and stderr.endswith("LAST\n") and "dropped" in stderr
    whole = proc.run(["sh", "-c", noisy], timeout=30, check=False, stderr_limit=None)
    assert len(whole.stderr) > 4000 * 60 and b"dropped" not in whole.stderr


def test_both_pipes_are_drained_at_once() -> None:
    """A child that fills stderr before writing stdout must not block (find's errors)."""
    script = "head -c 300000 /dev/zero >&2; head -c 300000 /dev/zero"
    done = proc.run(["sh", "-c", script], timeout=30, stderr_limit=1024)
    assert len(done.stdout) == 300000 and len(done.stderr) < 1200


def test_missing_tool_is_a_typed_transient_error(tmp_path: Path) -> None:
    with pytest.raises(proc.ToolMissing) as err:
        proc.run([str(tmp_path / "no-such-tool"), "-version"], timeout=5)
    assert err.value.transient and "cannot run" in err.value.reason
    with pytest.raises(proc.ToolMissing):
        proc.run(["no-such-tool-on-path"], timeout=5)
    with pytest.raises(proc.ToolMissing):
        proc.spawn([str(tmp_path / "no-such-tool")])


def test_cancellation_stops_promptly_and_prevents_starts() -> None:
    control = proc.RunControl()
    threading.Timer(0.3, control.cancel.set).start()
    started = time.monotonic()
    with pytest.raises(proc.ToolCancelled):
        proc.run(["sleep", "30"], timeout=60, control=control)
    assert time.monotonic() - started < 5 and control.pids == set()
    with pytest.raises(proc.ToolCancelled):
        proc.run(["true"], timeout=60, control=control)


def test_a_signal_we_did_not_send_is_transient() -> None:
    control = proc.RunControl()
    sigkill_when_started(control)
    with pytest.raises(proc.ToolKilled) as err:
        proc.run(["sleep", "30"], timeout=60, control=control)
    assert err.value.transient and "SIGKILL" in err.value.reason


# --- children's lives ------------------------------------------------------------------------


def test_a_long_lived_child_survives_its_spawning_thread() -> None:
    """The death signal follows the forking thread; worker threads come and go."""
    children: list[proc.Child] = []
    thread = threading.Thread(target=lambda: children.append(proc.spawn(["cat"])))
    thread.start()
    thread.join(10)
    assert not thread.is_alive() and children
    child = children[0]
    try:
        time.sleep(0.5)  # a death signal from the thread's exit would have landed by now
        assert child.poll() is None
        child.stdin.write(b"still here\n")
        child.stdin.flush()
        assert child.stdout.readline() == b"still here\n"
    finally:
        child.kill()
    assert not alive(child.pid)


PARENT = """
import sys, threading
from imageserver import proc
children = []
worker = threading.Thread(target=lambda: children.append(proc.spawn(["sleep", "60"])))
worker.start()
worker.join()
print(children[0].pid, flush=True)
sys.stdin.read()
"""


def test_children_die_with_a_sigkilled_parent() -> None:
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(PACKAGE.parent)},
    )
    try:
        assert parent.stdout is not None
        child = int(parent.stdout.readline())
        assert alive(child)
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait(10)
        assert wait_dead(child), "the child outlived its SIGKILLed parent"
    finally:
        parent.kill()
        parent.wait()


# --- the real server -------------------------------------------------------------------------

WATCHED = {"exiftool", "ffmpeg", "ffprobe", "find"}


def children_of(pid: int) -> dict[int, tuple[str, str]]:
    """pid -> (command name, start time) of the tools the process `pid` started."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        fields = stat_fields(int(entry.name))
        if fields is None or fields[1] != str(pid):
            continue
        try:
            name = (entry / "comm").read_text().strip()
        except OSError:
            continue
        if name in WATCHED:
            found[int(entry.name)] = (name, fields[19])
    return found


@pytest.fixture
def media_library(tmp_path: Path) -> Path:
    """PNGs (read by exiftool, not the in-process JPEG path) and a video to transcode."""
    root = tmp_path / "lib"
    for i in range(3):
        make_png(root / f"p{i}.png", size=(320 + i, 200))
    make_video(root / "clip.mp4", seconds=8, size="640x360", codec="mpeg4", audio=False)
    return root


@pytest.mark.slow
def test_a_sigkilled_server_leaves_no_tool_running(
    tmp_path: Path, sqlite_url: str, media_library: Path
) -> None:
    server = Server(tmp_path, media_library, sqlite_url, IMAGESERVER_HLS_PRESET="medium")
    server.env["PYTHONPATH"] = str(PACKAGE.parent)  # this checkout's code, from any cwd
    seen: dict[int, tuple[str, str]] = {}
    with running(server):
        server.start()
        assert server.proc is not None
        pid = server.proc.pid

        def exiftool_and_ffmpeg() -> bool:
            now = children_of(pid)
            seen.update(now)
            return {"exiftool", "ffmpeg"} <= {name for name, _ in now.values()}

        wait_for(exiftool_and_ffmpeg, 120, "an exiftool and an ffmpeg child", server)
        at_kill = children_of(pid)
        seen.update(at_kill)
        server.kill()
    try:
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and any(alive(p, s) for p, (_, s) in seen.items()):
            time.sleep(0.05)
        left = {p: name for p, (name, s) in seen.items() if alive(p, s)}
        assert left == {}, f"children outlived the SIGKILLed server: {left}"
        assert {"exiftool", "ffmpeg"} <= {name for name, _ in at_kill.values()}
    finally:
        for p, (_, s) in seen.items():  # never leave a stray tool on the shared machine
            if alive(p, s):
                os.kill(p, signal.SIGKILL)


# --- no other way to run a program -----------------------------------------------------------

RUNS_A_PROGRAM = re.compile(
    r"^\s*(?:import subprocess|from subprocess import)|\bsubprocess\.|"
    r"\bos\.(?:system|popen|spawn\w*|exec\w*|fork|posix_spawn\w*)\("
    r"|^\s*from os import .*\b(?:system|popen|fork|spawn\w*|exec\w*)\b",
    re.MULTILINE,
)


def test_only_the_runner_starts_programs() -> None:
    offenders = [
        f"{path.relative_to(PACKAGE)}: {match.group(0).strip()}"
        for path in sorted(PACKAGE.rglob("*.py"))
        if path != PACKAGE / "proc.py"
        for match in RUNS_A_PROGRAM.finditer(path.read_text())
    ]
    assert offenders == []
    assert RUNS_A_PROGRAM.search("import subprocess\n") and RUNS_A_PROGRAM.search(
        "x = subprocess.run(argv)"
    )


# --- priorities ------------------------------------------------------------------------------


def test_children_and_drain_threads_run_below_requests_and_password_checks() -> None:
    """Background work yields to the threads that answer requests (nice 0 here) and check
    passwords: ffmpeg & co. inherit the spawner thread's nice, drains run niced too."""
    from imageserver.auth.passwords import CHECK_NICE
    from imageserver.work.pool import DRAIN_NICE, DrainPool

    base = os.nice(0)
    expected_child = min(19, max(base, proc.CHILD_NICE))
    child = proc.run(["nice"], timeout=10)  # coreutils' nice prints its own niceness
    assert int(child.stdout) == expected_child
    assert proc.CHILD_NICE > CHECK_NICE and DRAIN_NICE > CHECK_NICE > base
    pool = DrainPool(2)
    try:
        seen = list(
            pool.map(lambda _: os.getpriority(os.PRIO_PROCESS, threading.get_native_id()), [1, 2])
        )
    finally:
        pool.close()
    assert seen == [min(19, max(base, DRAIN_NICE))] * 2
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == base  # caller unchanged
