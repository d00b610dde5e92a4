"""FastAPI dependencies shared by every router: the context and database connections."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Path, Request
from sqlalchemy import Connection

from imageserver.db.engine import read_only
from imageserver.inputs import MAX_ID
from imageserver.work.context import AppContext


def get_ctx(request: Request) -> AppContext:
    ctx: AppContext = request.app.state.ctx
    return ctx


Ctx = Annotated[AppContext, Depends(get_ctx)]


def read_conn(ctx: Ctx) -> Iterator[Connection]:
    """A read-only connection for handlers that only query."""
    with read_only(ctx.engine) as conn:
        yield conn


def write_conn(ctx: Ctx) -> Iterator[Connection]:
    """One transaction per request, committed once when the handler returns and before the
    answer is sent (scope "function" below): a client that reads right after a 201 sees its
    write, and a failed commit is the request's error, not a success already sent."""
    with ctx.engine.begin() as conn:
        yield conn


# An id in a route's path: bounded, so an oversized number is a 422, never a driver error.
IdPath = Annotated[int, Path(ge=1, le=MAX_ID)]

ReadConn = Annotated[Connection, Depends(read_conn)]
WriteConn = Annotated[Connection, Depends(write_conn, scope="function")]
