"""Record what this process does to the file system, with a PEP 578 audit hook.

Every `open` (with its flags), directory listing, rename, removal, mkdir, chmod, utime,
temp file and subprocess start of any thread is seen while a `Recorder` is active. Tests
use it to prove "zero reads outside a library root" and "zero writes outside the data
folders" for the server's own code; subprocess argv are kept so what a child was asked to
read or write can be checked too. The hook is installed once and costs nothing while no
recorder is active (audit hooks cannot be removed).
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
# event -> (indexes of path arguments, whether it writes)
_EVENTS: dict[str, tuple[tuple[int, ...], bool]] = {
    "os.listdir": ((0,), False),
    "os.scandir": ((0,), False),
    "os.rename": ((0, 1), True),
    "os.remove": ((0,), True),
    "os.rmdir": ((0,), True),
    "os.mkdir": ((0,), True),
    "os.symlink": ((0, 1), True),
    "os.link": ((0, 1), True),
    "os.truncate": ((0,), True),
    "os.chmod": ((0,), True),
    "os.chown": ((0,), True),
    "os.utime": ((0,), True),
    "shutil.rmtree": ((0,), True),
    "shutil.move": ((0, 1), True),
    "shutil.copyfile": ((1,), True),
    "shutil.copytree": ((1,), True),
    "tempfile.mkstemp": ((0,), True),
    "tempfile.mkdtemp": ((0,), True),
}


@dataclass(frozen=True)
class Access:
    event: str
    path: str  # absolute, symlinks resolved where the path exists
    write: bool


@dataclass
class Recorder:
    accesses: list[Access] = field(default_factory=list)
    commands: list[list[str]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __enter__(self) -> Recorder:
        _ACTIVE.append(self)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        _ACTIVE.remove(self)

    def add(self, access: Access) -> None:
        with self._lock:
            self.accesses.append(access)

    def reads(self) -> list[Access]:
        return [a for a in self.accesses if not a.write]

    def writes(self) -> list[Access]:
        return [a for a in self.accesses if a.write]

    def touching(self, folder: Path) -> list[Access]:
        """Accesses of anything at or below `folder` (resolved)."""
        return [a for a in self.accesses if inside(a.path, folder)]

    def writes_outside(self, allowed: Iterable[Path]) -> list[Access]:
        roots = list(allowed)
        return [a for a in self.writes() if not any(inside(a.path, r) for r in roots)]

    def reads_outside(self, allowed: Iterable[Path]) -> list[Access]:
        roots = list(allowed)
        return [a for a in self.reads() if not any(inside(a.path, r) for r in roots)]


_ACTIVE: list[Recorder] = []


def inside(path: str, folder: Path) -> bool:
    base = os.path.realpath(folder)
    return path == base or path.startswith(base.rstrip("/") + "/")


def _resolve(value: Any) -> str | None:
    if isinstance(value, int) or value is None:
        return None  # a descriptor: its opening was recorded already
    try:
        text = os.fsdecode(os.fspath(value))
    except TypeError:
        return None
    return os.path.realpath(text)


def unwrap(command: list[str]) -> list[str]:
    """The tool's own argv inside the runner's death-signal wrapper (imageserver.proc):
    `setpriv --pdeathsig KILL -- sh -c GUARD sh TOOL ARGS...`."""
    if command and Path(command[0]).name == "setpriv" and "-c" in command:
        return command[command.index("-c") + 3 :]
    return command


def _hook(event: str, args: tuple[Any, ...]) -> None:
    if not _ACTIVE:
        return
    if event == "subprocess.Popen":
        argv = args[1]
        command = [os.fsdecode(a) for a in argv] if isinstance(argv, list | tuple) else [str(argv)]
        command = unwrap(command)
        for recorder in list(_ACTIVE):
            recorder.commands.append(command)
        return
    if event == "open":
        path, _mode, flags = args
        write = bool((flags or 0) & _WRITE_FLAGS)
        spots: tuple[Any, ...] = (path,)
    elif event in _EVENTS:
        indexes, write = _EVENTS[event]
        spots = tuple(args[i] for i in indexes if i < len(args))
        if event == "os.scandir" and not args:
            return
    else:
        return
    for spot in spots:
        resolved = _resolve(spot)
        if resolved is None:
            continue
        for recorder in list(_ACTIVE):
            recorder.add(Access(event, resolved, write))


sys.addaudithook(_hook)
