"""The one way the server runs an external program (ffmpeg, ffprobe, exiftool, find).

Every child gets an argv list (never a shell string), its own process group, a bounded
stderr capture and typed errors (`ToolMissing`, `ToolTimeout`, `ToolFailed` with the exit
status and the stderr kept, `ToolKilled`, `ToolCancelled`). Two shapes:

- `run`: to completion, with a timeout and an optional `RunControl` (a stop request from
  shutdown kills it promptly; `pids` lists what is running). Both pipes are read at once,
  so a chatty stderr can never block a child that is writing stdout (find's listing).
- `spawn`: a long-lived child whose pipes the caller drives (exiftool -stay_open).

Blocking by design: call it from a worker thread, never on the event loop.

Children die with the server, even when it is SIGKILLed. Each child is started as
`setpriv --pdeathsig KILL -- sh -c '[ "$PPID" = <server> ] || exit 1; exec "$@"' argv...`:
util-linux's setpriv sets prctl(PR_SET_PDEATHSIG, SIGKILL), and sh, already under it,
checks that the server is still its parent before it execs the tool (same pid; cmdline
and name are the tool's). Popen returns once setpriv is exec'd, before its prctl; without
the check, a server SIGKILLed right after a spawn left that child to init (3 of 50 tries
on the loaded machine, 0 of 50 with it). Without setpriv, a ctypes prctl plus the same
check run in a preexec_fn.

The catch: Linux sends the death signal when the *thread* that forked the child exits,
not the process. Our callers are worker threads (ThreadPoolExecutor, anyio's pool, whose idle
threads exit after 10 s), so a stay_open exiftool started from one of them would be killed
seconds later and restarted over and over. So no caller forks: one dedicated daemon
thread, started on first use and living as long as the process, does every Popen; the
caller gets the Popen back and reads its pipes from its own thread. The kernel ends that
thread only when the whole process ends (exit, crash or SIGKILL), and then every child
gets SIGKILL. tests/test_proc.py proves both halves (a child started from a thread that
then exits stays alive; a SIGKILLed real server leaves no exiftool/ffmpeg behind).

Measured on the shared 2-core machine (Python 3.11, 50 spawns of `true`, noisy): a child
started directly from a thread that then exits is dead (-9) 0.3 s later, one started
through the spawner is alive. The wrapper was chosen over preexec_fn because a preexec_fn
makes CPython fork instead of vfork, and fork copies the page tables of the server: with
1 GB resident, fork+prctl took 78-165 ms a spawn against 6-8 ms for proc.run (spawner
hand-off, vfork, setpriv, sh; 4-7 ms for a plain vfork of `true`); with 100 MB, 9-54 ms
against 4-10 ms.
The death signal reaches only the direct child; our tools start no children of their own
(a timeout or a stop kills the whole process group anyway).

Every child runs at CHILD_NICE: the spawner thread lowers its own priority once, and a
forked child inherits the nice value of the thread that forked it. Transcodes and probes are
background work; at nice 0 a ladder of ffmpeg encodes took both cores from the threads that
answer requests and check passwords (those run at 0 and at auth/passwords.CHECK_NICE).
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import selectors
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import IO, Any

POLL_SECONDS = 0.2
STDERR_KEEP = 64 * 1024  # bytes of stderr kept by default: the head and the tail
STDERR_HEAD = 8 * 1024  # of which the start (ffmpeg and ffprobe put the real error first)
_CHUNK = 1 << 16
SPAWN_WAIT_SECONDS = 60.0  # a fork+exec takes milliseconds; this only guards against a hang
_PR_SET_PDEATHSIG = 1


# --- errors ----------------------------------------------------------------------------------


class ToolError(Exception):
    """A run that did not succeed; `transient` says whether trying again later can help."""

    transient = False

    def __init__(self, reason: str, stderr: str = "", *, tool: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.stderr = stderr
        self.tool = tool


class ToolMissing(ToolError):
    """The program could not be started (not installed, not executable)."""

    transient = True


class ToolTimeout(ToolError):
    transient = True


class ToolFailed(ToolError):
    """Exited with an error status; `stderr` (bounded) tells whether the input is at fault."""

    # tool defaults to ffmpeg: video.runner.FfmpegFailed(returncode, stderr) is this class
    def __init__(self, returncode: int, stderr: str, *, tool: str = "ffmpeg") -> None:
        super().__init__(f"{tool} exited with status {returncode}", stderr, tool=tool)
        self.returncode = returncode


class ToolKilled(ToolError):
    """Ended by a signal we did not send (OOM killer, an operator's kill)."""

    transient = True


class ToolCancelled(ToolError):
    """Stopped on request (the server is shutting down)."""

    transient = True


# --- run to completion -----------------------------------------------------------------------


@dataclass
class RunControl:
    """Shared with a running job: set `cancel` to stop it; `pids` lists live children."""

    cancel: threading.Event = field(default_factory=threading.Event)
    pids: set[int] = field(default_factory=set)


@dataclass(frozen=True)
class Completed:
    returncode: int
    stdout: bytes
    stderr: bytes  # bounded: see `run`'s stderr_limit
    seconds: float

    @property
    def stderr_text(self) -> str:
        return self.stderr.decode("utf-8", "replace")


class _Capture:
    """Up to `limit` bytes of a stream: its first STDERR_HEAD bytes and its latest ones."""

    def __init__(self, limit: int | None) -> None:
        self.limit = limit
        self.head = bytearray()
        self.tail = bytearray()
        self.dropped = 0

    def add(self, chunk: bytes) -> None:
        if self.limit is None:
            self.head += chunk
            return
        head_room = min(STDERR_HEAD, self.limit) - len(self.head)
        if head_room > 0:
            self.head += chunk[:head_room]
            chunk = chunk[head_room:]
        self.tail += chunk
        keep = self.limit - len(self.head)
        if len(self.tail) > keep:
            self.dropped += len(self.tail) - keep
            del self.tail[: len(self.tail) - keep]

    def value(self) -> bytes:
        if not self.dropped:
            return bytes(self.head + self.tail)
        return bytes(self.head) + b"\n[... %d bytes dropped ...]\n" % self.dropped + self.tail


def _tool(argv: Sequence[str]) -> str:
    return os.path.basename(argv[0]) if argv else "?"


def run(
    argv: Sequence[str],
    *,
    timeout: float | None,
    control: RunControl | None = None,
    env: Mapping[str, str] | None = None,
    capture_stdout: bool = True,
    check: bool = True,
    stderr_limit: int | None = STDERR_KEEP,
) -> Completed:
    """Run to completion; stdin is /dev/null, stdout is kept (or discarded), stderr bounded
    (`stderr_limit=None` keeps it all: find's list of unreadable folders must be whole).

    Raises ToolMissing, ToolTimeout (the whole process group is killed), ToolCancelled;
    with `check`, also ToolKilled for a signal and ToolFailed for an error status.
    """
    control = control or RunControl()
    tool = _tool(argv)
    if control.cancel.is_set():
        raise ToolCancelled("stopped before start", tool=tool)
    started = time.monotonic()
    deadline = None if timeout is None else started + timeout
    try:
        proc = _popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE if capture_stdout else subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env=env,
        )
    except OSError as exc:
        raise ToolMissing(f"cannot run {argv[0]}: {exc.strerror or exc}", tool=tool) from exc
    control.pids.add(proc.pid)
    out = bytearray()
    err = _Capture(stderr_limit)
    try:
        _pump(proc, out, err, deadline, control, timeout, tool)
    except BaseException:
        _kill_group(proc)
        raise
    finally:
        control.pids.discard(proc.pid)
        _close(proc)
    done = Completed(proc.returncode, bytes(out), err.value(), time.monotonic() - started)
    if check and done.returncode < 0:
        try:
            name = signal.Signals(-done.returncode).name
        except ValueError:
            name = f"signal {-done.returncode}"
        raise ToolKilled(f"killed by {name}", done.stderr_text, tool=tool)
    if check and done.returncode != 0:
        raise ToolFailed(done.returncode, done.stderr_text, tool=tool)
    return done


def _pump(
    proc: subprocess.Popen[bytes],
    out: bytearray,
    err: _Capture,
    deadline: float | None,
    control: RunControl,
    timeout: float | None,
    tool: str,
) -> None:
    """Read both pipes until EOF and reap the child, honouring the deadline and stop."""
    sinks: dict[int, Any] = {}
    if proc.stdout is not None:
        sinks[proc.stdout.fileno()] = out.extend
    if proc.stderr is not None:
        sinks[proc.stderr.fileno()] = err.add
    with selectors.DefaultSelector() as selector:
        for fd in sinks:
            selector.register(fd, selectors.EVENT_READ)
        while True:
            if control.cancel.is_set():
                raise ToolCancelled("stopped: the server is shutting down", tool=tool)
            if deadline is not None and time.monotonic() > deadline:
                assert timeout is not None
                raise ToolTimeout(f"timed out after {timeout:.0f} s", tool=tool)
            if not sinks:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(timeout=POLL_SECONDS)
                    return
                continue
            for key, _ in selector.select(POLL_SECONDS):
                fd = int(key.fd)
                chunk = os.read(fd, _CHUNK)
                if chunk:
                    sinks[fd](chunk)
                else:
                    selector.unregister(fd)
                    del sinks[fd]


# --- long-lived children ---------------------------------------------------------------------


class Child:
    """A running program whose pipes the caller drives (exiftool -stay_open). Not
    thread-safe; whoever holds it owns its pipes."""

    def __init__(self, proc: subprocess.Popen[bytes], tool: str) -> None:
        self._proc = proc
        self.pid = proc.pid
        self.tool = tool

    @property
    def stdin(self) -> IO[bytes]:
        assert self._proc.stdin is not None
        return self._proc.stdin

    @property
    def stdout(self) -> IO[bytes]:
        assert self._proc.stdout is not None
        return self._proc.stdout

    @property
    def stderr(self) -> IO[bytes]:
        assert self._proc.stderr is not None
        return self._proc.stderr

    def poll(self) -> int | None:
        return self._proc.poll()

    def wait(self, timeout: float | None = None) -> int:
        """The exit status; ToolTimeout when it is still running after `timeout`."""
        try:
            return self._proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise ToolTimeout(f"still running after {timeout} s", tool=self.tool) from None

    def kill(self) -> None:
        """SIGKILL its process group, reap it and close its pipes."""
        _kill_group(self._proc)
        _close(self._proc)

    def close(self) -> None:
        """Close our ends of the pipes (the child sees EOF on stdin)."""
        _close(self._proc)


def spawn(
    argv: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    stdin: bool = True,
    stdout: bool = True,
    stderr: bool = True,
) -> Child:
    """Start a long-lived child with pipes (True) or /dev/null (False); ToolMissing when it
    cannot start. It dies with this process whichever thread called `spawn`."""
    pipe, null = subprocess.PIPE, subprocess.DEVNULL
    try:
        proc = _popen(
            argv,
            stdin=pipe if stdin else null,
            stdout=pipe if stdout else null,
            stderr=pipe if stderr else null,
            env=env,
        )
    except OSError as exc:
        raise ToolMissing(f"cannot run {argv[0]}: {exc.strerror or exc}", tool=_tool(argv)) from exc
    return Child(proc, _tool(argv))


# --- the spawner thread ----------------------------------------------------------------------


def _load_prctl() -> Any:
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
    prctl.restype = ctypes.c_int
    return prctl


_PRCTL = _load_prctl()


def _die_with(parent: int) -> None:
    """In the child, before exec (fallback without setpriv): SIGKILL when the parent dies."""
    _PRCTL(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:  # the server died between fork and prctl
        os.kill(os.getpid(), signal.SIGKILL)


_SH = shutil.which("sh") or "/bin/sh"

# Background children (ffmpeg, ffprobe, exiftool, find) below request threads (0) and
# password checks (10): see the module docstring.
CHILD_NICE = 15


def lower_this_thread(nice: int) -> None:
    """Raise the calling thread's nice value to `nice` (Linux nice is per thread; threads
    and processes it starts inherit it). Never raises: elsewhere the work runs unchanged."""
    with contextlib.suppress(AttributeError, OSError):
        tid = threading.get_native_id()
        current = os.getpriority(os.PRIO_PROCESS, tid)
        if current < nice:
            os.setpriority(os.PRIO_PROCESS, tid, nice)


def _find_setpriv() -> str | None:
    """util-linux's setpriv (2.33+) when it takes --pdeathsig; None otherwise."""
    setpriv = shutil.which("setpriv")
    if setpriv is None or _PRCTL is None or not os.path.exists(_SH):
        return None
    try:
        done = subprocess.run(
            [setpriv, "--pdeathsig", "KILL", "--", "true"],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return setpriv if done.returncode == 0 else None


_Request = tuple[Sequence[str], dict[str, Any], "Future[subprocess.Popen[bytes]]"]


class _Spawner:
    """One daemon thread that forks every child, so the death signal outlives callers."""

    def __init__(self) -> None:
        self.setpriv: str | None = None
        self._forget()
        # a forked copy of the server has no spawner thread, and the lock may be held
        os.register_at_fork(after_in_child=self._forget)

    def _forget(self) -> None:
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._requests: list[_Request] = []
        self._pid = -1
        self.thread: threading.Thread | None = None

    def popen(self, argv: Sequence[str], kwargs: dict[str, Any]) -> subprocess.Popen[bytes]:
        if _PRCTL is None:  # not Linux: no death signal to anchor, fork from the caller
            return subprocess.Popen(list(argv), start_new_session=True, **kwargs)
        future: Future[subprocess.Popen[bytes]] = Future()
        with self._lock:
            if self._pid != os.getpid():  # first use, or a forked copy of this process
                self._pid = os.getpid()
                self._requests = []
                self.thread = threading.Thread(
                    target=self._loop, args=(self._pid,), name="imageserver-spawner", daemon=True
                )
                self.thread.start()
            self._requests.append((argv, kwargs, future))
            self._wake.notify()
        try:
            return future.result(timeout=SPAWN_WAIT_SECONDS)
        except TimeoutError:
            future.add_done_callback(_kill_started)
            raise ToolMissing(f"cannot run {argv[0]}: no answer from the spawner thread") from None
        except BaseException:
            # interrupted while waiting: a child started anyway must not be left running
            future.add_done_callback(_kill_started)
            raise

    def _loop(self, parent: int) -> None:
        lower_this_thread(CHILD_NICE)  # every child inherits it
        self.setpriv = _find_setpriv()
        while True:
            with self._lock:
                while not self._requests:
                    self._wake.wait()
                argv, kwargs, future = self._requests.pop(0)
            if not future.set_running_or_notify_cancel():
                continue
            try:
                proc = self._start(list(argv), kwargs, parent)
            except BaseException as exc:  # handed to the caller, who raises it
                future.set_exception(exc)
            else:
                future.set_result(proc)

    def _start(
        self, argv: list[str], kwargs: dict[str, Any], parent: int
    ) -> subprocess.Popen[bytes]:
        if self.setpriv is None:
            return subprocess.Popen(
                argv, start_new_session=True, preexec_fn=lambda: _die_with(parent), **kwargs
            )
        env = kwargs.get("env")
        path = (os.environ if env is None else env).get("PATH", os.defpath)
        if shutil.which(argv[0], path=path) is None:  # setpriv would exit 127 instead
            raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), argv[0])
        # setpriv sets the death signal, then sh (already under it) checks that the server
        # is still its parent: one killed before the prctl would never send the signal
        guard = f'[ "$PPID" = {parent} ] || exit 1; exec "$@"'
        wrapped = [self.setpriv, "--pdeathsig", "KILL", "--", _SH, "-c", guard, "sh", *argv]
        return subprocess.Popen(wrapped, start_new_session=True, **kwargs)


def _kill_started(future: Future[subprocess.Popen[bytes]]) -> None:
    if future.exception() is None:
        proc = future.result()
        _kill_group(proc)
        _close(proc)


_SPAWNER = _Spawner()


def _popen(argv: Sequence[str], **kwargs: Any) -> subprocess.Popen[bytes]:
    if not argv:
        raise ValueError("empty argv")
    return _SPAWNER.popen(argv, kwargs)


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL the child's process group (it may have children of its own), then reap.
    Only while we have not reaped it: until then its pid (the group's id) stays reserved."""
    if proc.returncode is None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(ProcessLookupError):
        proc.kill()
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=5)


def _close(proc: subprocess.Popen[bytes]) -> None:
    for stream in (proc.stdin, proc.stdout, proc.stderr):
        if stream is not None and not stream.closed:
            with contextlib.suppress(OSError):
                stream.close()
