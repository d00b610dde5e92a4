"""The `imageserver` command: serve, scan, worker, users, migrate and helpers."""

from __future__ import annotations

import getpass
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from imageserver.config import Settings, config_table_markdown, load_settings
from imageserver.faces.cli import faces_app
from imageserver.ml import cli as ml_cli

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from imageserver.work.context import AppContext

app = typer.Typer(no_args_is_help=True, add_completion=False, help=__doc__)
users_app = typer.Typer(no_args_is_help=True, help="Manage users.")
app.add_typer(users_app, name="users")
app.add_typer(ml_cli.models_app, name="models")
app.add_typer(ml_cli.encoder_app, name="encoder")
app.add_typer(faces_app, name="faces")


def _configure_logging(settings: Settings) -> None:
    from imageserver.telemetry.logging import configure_logging

    configure_logging(settings.log_level, settings.log_format)


def _announce_password(username: str, password: str | None) -> None:
    if password is None:
        return
    bar = "=" * 64
    typer.echo(
        f"\n{bar}\n First start: created admin user {username!r}\n"
        f" password: {password}\n It is shown once; change it with "
        f"`imageserver users passwd {username}`.\n{bar}\n"
    )


@app.command()
def serve(
    library: Annotated[
        list[Path] | None,
        typer.Argument(help="Library folders to serve (added once; kept in the database)."),
    ] = None,
    host: Annotated[str | None, typer.Option(help="Bind address.")] = None,
    port: Annotated[int | None, typer.Option(help="TCP port.")] = None,
    workers: Annotated[
        bool, typer.Option("--workers/--no-workers", help="Run the watcher and drains too.")
    ] = True,
) -> None:
    """Run the HTTP server (and, by default, the watcher and every drain)."""
    import uvicorn

    from imageserver.libraries.cli_support import ensure_cli_libraries
    from imageserver.server.app import create_app
    from imageserver.server.bootstrap import bootstrap

    settings = load_settings(host=host, port=port)
    _configure_logging(settings)
    booted = bootstrap(settings)
    _announce_password(settings.admin_username, booted.generated_admin_password)
    for message in ensure_cli_libraries(booted.ctx, library or []):
        typer.echo(message)
    app_ = create_app(booted.ctx, background=workers and settings.run_background)
    typer.echo(f"imageserver listening on http://{settings.host}:{settings.port}/")
    uvicorn.run(app_, log_config=None, access_log=False, **http_server_options(settings))


def http_server_options(settings: Settings) -> dict[str, Any]:
    """uvicorn's settings: the h11 protocol with a deadline on request heads (uvicorn itself
    times out only idle keep-alive connections, never a half-sent head) and a head size
    cap; body limits are the application's (server/limits.py)."""
    from imageserver.server.limits import header_deadline_protocol

    return {
        "host": settings.host,
        "port": settings.port,
        "http": header_deadline_protocol(settings.http_header_timeout_seconds),
        "h11_max_incomplete_event_size": settings.http_header_max_bytes,
        "timeout_keep_alive": 5,
    }


@app.command()
def worker(
    drains: Annotated[
        str,
        typer.Option(
            help="Comma-separated drains to run: hash, metadata, thumbnails, video, "
            "embeddings, faces (default: all)."
        ),
    ] = "hash,metadata,thumbnails,video,embeddings,faces",
) -> None:
    """Run drains without the HTTP API, sharing the database with other processes.

    Work items are leased, so any number of workers on any number of machines can run the
    same drains; the one holding the walker lock also walks libraries and cleans orphans.
    """
    import asyncio
    import signal

    from imageserver.scan.pipeline import DRAIN_NAMES
    from imageserver.server.background import Background
    from imageserver.server.bootstrap import bootstrap

    selected = frozenset(d.strip() for d in drains.split(",") if d.strip())
    unknown = selected - set(DRAIN_NAMES)
    if unknown or not selected:
        typer.echo(
            f"unknown drains: {', '.join(sorted(unknown)) or '(none given)'}; "
            f"choose from {', '.join(DRAIN_NAMES)}",
            err=True,
        )
        raise typer.Exit(2)
    settings = load_settings()
    _configure_logging(settings)
    ctx = bootstrap(settings).ctx

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        runner = Background(ctx, drains=selected)
        await runner.start(run_loops=True)
        typer.echo(f"imageserver worker running drains: {', '.join(sorted(selected))}")
        await stop.wait()
        await runner.stop()

    asyncio.run(run())


@app.command()
def migrate() -> None:
    """Bring the database schema up to date (also done at every start)."""
    from imageserver.db import migrate as db_migrate
    from imageserver.db.engine import make_engine

    settings = load_settings()
    _configure_logging(settings)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings.resolved_database_url)
    db_migrate.upgrade(engine)
    typer.echo(f"schema at {db_migrate.current_revision(engine)}")


@app.command()
def scan(
    library: Annotated[str | None, typer.Option(help="Only this library (by name).")] = None,
    full: Annotated[bool, typer.Option("--full", help="Full scan (retire missing files).")] = False,
    drain: Annotated[
        bool, typer.Option("--drain/--no-drain", help="Keep ticking until backlogs are empty.")
    ] = True,
) -> None:
    """Index in the foreground once, with a progress bar and an end summary."""
    from imageserver.scan.foreground import run_foreground_scan
    from imageserver.server.bootstrap import bootstrap

    settings = load_settings()
    _configure_logging(settings)
    booted = bootstrap(settings)
    _announce_password(settings.admin_username, booted.generated_admin_password)
    code = run_foreground_scan(booted.ctx, library=library, full=full, drain=drain)
    raise typer.Exit(code)


@app.command("config-table")
def config_table(
    update: Annotated[
        Path | None, typer.Option(help="Rewrite the table between the markers in this file.")
    ] = None,
) -> None:
    """Print the configuration table (Markdown) that the README embeds."""
    table = config_table_markdown()
    if update is None:
        typer.echo(table)
        return
    import re

    text = update.read_text(encoding="utf-8")
    new, count = re.subn(
        r"(<!-- config-table:start -->\n).*?(<!-- config-table:end -->)",
        lambda m: m.group(1) + table + "\n" + m.group(2),
        text,
        flags=re.S,
    )
    if count != 1:
        typer.echo(f"{update}: config-table markers not found", err=True)
        raise typer.Exit(1)
    update.write_text(new, encoding="utf-8")


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("password: ")
    if getpass.getpass("again: ") != first:
        typer.echo("passwords differ", err=True)
        raise typer.Exit(1)
    return first


def require_database(settings: Settings) -> None:
    """Stop a maintenance command before it creates a database nobody asked for.

    Only `serve` (and `scan`, which announces the first admin's password) make a database:
    `users ...` on a wrong or missing IMAGESERVER_DATA_DIR would otherwise create an empty
    one and an admin whose password is never shown. Says where it looked, exits 1.
    """
    from imageserver.db.engine import existing_schema

    if existing_schema(settings.resolved_database_url):
        return
    if settings.database_url:
        where = make_url_safe(settings.database_url)
        typer.echo(f"error: no imageserver database at {where} (DATABASE_URL)", err=True)
    else:
        typer.echo(
            f"error: no imageserver database in {settings.data_dir} (IMAGESERVER_DATA_DIR); "
            "point IMAGESERVER_DATA_DIR at the server's data folder, or run "
            "`imageserver serve` once to create one",
            err=True,
        )
    raise typer.Exit(1)


def make_url_safe(url: str) -> str:
    """A database URL fit for a message: the password masked."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def _users_ctx() -> AppContext:
    from imageserver.server.bootstrap import bootstrap

    settings = load_settings()
    require_database(settings)
    return bootstrap(settings).ctx


def _users_change(done: str, change: Callable[[Connection, AppContext], object]) -> None:
    """Run one user change in a transaction; a domain error is one line and exit code 1."""
    from imageserver.errors import ImageServerError

    ctx = _users_ctx()
    try:
        with ctx.engine.begin() as conn:
            change(conn, ctx)
    except ImageServerError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(1) from None
    typer.echo(done)


def _user_id(conn: Connection, username: str) -> int:
    from imageserver.auth import service

    return int(service.user_by_name(conn, username)["id"])


PasswordStdin = Annotated[
    bool, typer.Option("--password-stdin", help="Read the password from standard input.")
]


@users_app.command("add")
def users_add(
    username: str,
    admin: Annotated[bool, typer.Option("--admin", help="Make the user an admin.")] = False,
    password_stdin: PasswordStdin = False,
) -> None:
    """Create a user (a member unless --admin)."""
    from imageserver.auth import service

    password = _read_password(password_stdin)
    _users_change(
        f"created user {username}",
        lambda conn, ctx: service.create_user(
            conn, username, password, ctx.clock(), is_admin=admin
        ),
    )


@users_app.command("list")
def users_list() -> None:
    """List users: id, name, role, and whether disabled."""
    from imageserver.auth import repo
    from imageserver.db.engine import read_only

    ctx = _users_ctx()
    with read_only(ctx.engine) as conn:
        for user in repo.list_all(conn):
            state = "\tdisabled" if user["disabled_at"] is not None else ""
            typer.echo(f"{user['id']}\t{user['username']}\t{user['role']}{state}")


@users_app.command("passwd")
def users_passwd(username: str, password_stdin: PasswordStdin = False) -> None:
    """Change a user's password (every session of theirs ends at once)."""
    from imageserver.auth import service

    password = _read_password(password_stdin)
    _users_change(
        f"password changed for {username}",
        lambda conn, ctx: service.change_password(conn, username, password, ctx.clock()),
    )


@users_app.command("role")
def users_role(
    username: str,
    role: Annotated[str, typer.Argument(help="admin or member")],
) -> None:
    """Give a user the admin or the member role (the last enabled admin stays admin)."""
    from imageserver.auth import service

    _users_change(
        f"{username} is now {role}",
        lambda conn, _: service.set_role(conn, _user_id(conn, username), role),
    )


@users_app.command("disable")
def users_disable(
    username: str,
    enable: Annotated[bool, typer.Option("--enable", help="Enable the user again.")] = False,
) -> None:
    """Disable a user (their sessions end at once, their API keys stop working)."""
    from imageserver.auth import service

    _users_change(
        f"{username} {'enabled' if enable else 'disabled'}",
        lambda conn, ctx: service.set_disabled(
            conn, _user_id(conn, username), not enable, ctx.clock()
        ),
    )


@users_app.command("delete")
def users_delete(
    username: str,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
) -> None:
    """Delete a user with their sessions and API keys."""
    from imageserver.auth import service

    if not yes:
        typer.confirm(f"delete user {username}?", abort=True)
    _users_change(
        f"deleted user {username}",
        lambda conn, _: service.delete_user(conn, _user_id(conn, username)),
    )


def main() -> None:
    from imageserver.work.runtime import limit_malloc_arenas

    limit_malloc_arenas()
    import os

    os.umask(0o077)  # before anything is written: see server/bootstrap.make_private
    app()


if __name__ == "__main__":
    main()
