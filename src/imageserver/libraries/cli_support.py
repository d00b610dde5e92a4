"""`imageserver serve PATH`: make sure each folder named on the command line is a library."""

from __future__ import annotations

from pathlib import Path

from imageserver.auth import repo as users_repo
from imageserver.errors import ImageServerError
from imageserver.libraries import repo, service
from imageserver.libraries.schemas import LibraryCreate
from imageserver.work.context import AppContext


def _free_name(taken: set[str], wanted: str) -> str:
    name, n = wanted or "library", 2
    while name in taken:
        name, n = f"{wanted}-{n}", n + 1
    return name


def ensure_cli_libraries(ctx: AppContext, paths: list[Path]) -> list[str]:
    """Create a library for every path not already a library root; messages for the user."""
    messages: list[str] = []
    with ctx.engine.begin() as conn:
        # Named on the server's own command line: the configured admin's libraries.
        admin = users_repo.get_by_username(conn, ctx.settings.admin_username)
        owner = int(admin["id"]) if admin is not None else None
        rows = repo.list_all(conn)
        roots = {r["root_path"] for r in rows}
        names = {r["name"] for r in rows}
        for path in paths:
            resolved = path.expanduser().resolve()
            if str(resolved) in roots:
                continue
            name = _free_name(names, resolved.name)
            try:
                body = LibraryCreate(name=name, root_path=str(resolved))
                service.create(conn, body, ctx.settings.owned_dirs(), ctx.clock(), owner)
            except ImageServerError as exc:
                raise SystemExit(f"cannot add library {path}: {exc.message}") from None
            roots.add(str(resolved))
            names.add(name)
            messages.append(f"added library {name!r} at {resolved}")
    ctx.registry.invalidate()
    return messages
