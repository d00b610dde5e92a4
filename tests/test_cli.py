"""The command line as a user meets it: first start, users add/list/passwd/role/disable/
delete, serve + login."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.fixtures import make_jpeg


def run_cli(
    args: list[str], env: dict[str, str], stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "imageserver.server.cli", *args],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture
def cli_env(tmp_path: Path, db_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("IMAGESERVER_")}
    env.update(
        IMAGESERVER_DATA_DIR=str(tmp_path / "data"),
        IMAGESERVER_DATABASE_URL=db_url,
        IMAGESERVER_ADMIN_PASSWORD="first-admin-pass",
    )
    return env


def test_maintenance_commands_never_create_a_database(tmp_path: Path) -> None:
    """`users list` on a wrong data folder says where it looked; it creates nothing there."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("IMAGESERVER_")}
    data = tmp_path / "not-the-data-folder"
    env.update(IMAGESERVER_DATA_DIR=str(data))
    for args in (
        ["users", "list"],
        ["users", "add", "eve", "--password-stdin"],
        ["faces", "recluster"],
    ):
        result = run_cli(args, env, "eve-password-1\n")
        assert result.returncode == 1, (args, result.stdout, result.stderr)
        assert f"no imageserver database in {data}" in result.stderr, result.stderr
        assert "password" not in result.stdout
    assert not (data / "imageserver.db").exists()


def test_users_add_list_passwd_role_disable_delete(cli_env: dict[str, str]) -> None:
    assert run_cli(["migrate"], cli_env).returncode == 0
    added = run_cli(["users", "add", "alice", "--password-stdin"], cli_env, "alice-password\n")
    assert added.returncode == 0, added.stderr
    duplicate = run_cli(["users", "add", "ALICE", "--password-stdin"], cli_env, "whatever12\n")
    assert duplicate.returncode == 1 and "already exists" in duplicate.stderr
    short = run_cli(["users", "add", "bob", "--password-stdin"], cli_env, "short\n")
    assert short.returncode == 1 and "at least" in short.stderr
    listed = run_cli(["users", "list"], cli_env)
    assert re.search(r"\tadmin\tadmin\n", listed.stdout), listed.stdout
    assert re.search(r"\talice\tmember\n", listed.stdout), listed.stdout
    changed = run_cli(["users", "passwd", "Alice", "--password-stdin"], cli_env, "new-alice-pass\n")
    assert changed.returncode == 0, changed.stderr
    missing = run_cli(
        ["users", "passwd", "nobody", "--password-stdin"], cli_env, "new-alice-pass\n"
    )
    assert missing.returncode == 1 and "no user" in missing.stderr
    assert run_cli(["users", "role", "alice", "admin"], cli_env).returncode == 0
    assert run_cli(["users", "disable", "alice"], cli_env).returncode == 0
    listed = run_cli(["users", "list"], cli_env)
    assert re.search(r"\talice\tadmin\tdisabled\n", listed.stdout), listed.stdout
    # The only enabled admin left cannot lose the role, be disabled or deleted.
    last = run_cli(["users", "role", "admin", "member"], cli_env)
    assert last.returncode == 1 and "last enabled admin" in last.stderr
    bad = run_cli(["users", "role", "alice", "root"], cli_env)
    assert bad.returncode == 1 and "role" in bad.stderr
    assert run_cli(["users", "delete", "alice", "--yes"], cli_env).returncode == 0
    listed = run_cli(["users", "list"], cli_env)
    assert "alice" not in listed.stdout and "\tadmin\tadmin" in listed.stdout


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.slow
def test_serve_prints_password_once_and_it_logs_in(tmp_path: Path, sqlite_url: str) -> None:
    """What a newcomer does: serve a folder, copy the printed password, log in, list."""
    library = tmp_path / "My Photos"
    make_jpeg(library / "one.jpg")
    env = {k: v for k, v in os.environ.items() if not k.startswith("IMAGESERVER_")}
    port = free_port()
    env.update(
        IMAGESERVER_DATA_DIR=str(tmp_path / "data"),
        IMAGESERVER_PORT=str(port),
        IMAGESERVER_HOST="127.0.0.1",
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "imageserver.server.cli", "serve", str(library)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    output = ""
    try:
        deadline = time.monotonic() + 60
        assert proc.stdout is not None
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            output += line
            if "listening on" in line:
                break
        match = re.search(r"password: (\S+)", output)
        assert match, output
        base = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                if httpx.get(f"{base}/health").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        token = httpx.post(
            f"{base}/auth/login", json={"username": "admin", "password": match.group(1)}
        ).json()
        libraries = httpx.get(
            f"{base}/libraries", headers={"Authorization": f"Bearer {token['access_token']}"}
        ).json()
        assert [lib["name"] for lib in libraries] == ["My Photos"]
    finally:
        proc.send_signal(signal.SIGINT)
        # Shutdown waits for the drain's current item, which runs at nice 15: on a machine
        # busy with other work that item can take tens of seconds (5 s when idle).
        proc.wait(timeout=90)
    # A second start neither prints a new password nor adds the library twice.
    proc2 = subprocess.Popen(
        [sys.executable, "-m", "imageserver.server.cli", "serve", str(library)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert proc2.stdout is not None
        second = ""
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and "listening on" not in second:
            second += proc2.stdout.readline()
        assert "password:" not in second and "added library" not in second
    finally:
        proc2.send_signal(signal.SIGINT)
        proc2.wait(timeout=90)
