"""Serve the web page: `/` is index.html, `/static/...` its modules, styles and vendored files.

Unauthenticated on purpose: the page holds no data, everything it shows comes from the
authenticated API. Files ship as they are (plain ES modules, no build step), so their
names carry no content hash: the page and its modules are served with `no-cache` and an
ETag (a reload costs one 304 per file), vendored files whose folder names their version
may be kept for a day. A request path is only ever a key into the catalogue of shipped
files, never joined to a folder, so `..` or a symlink cannot reach anything else.
"""

from __future__ import annotations

import hashlib
import mimetypes
import re
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse

from imageserver.errors import NotFound

WEB_DIR = Path(__file__).resolve().parent
STATIC_DIR = WEB_DIR / "static"
VENDOR_DIR = WEB_DIR / "vendor"
INDEX = STATIC_DIR / "index.html"

REVALIDATE = "no-cache"
VENDOR_CACHE = "public, max-age=86400"
# The page only talks to its own origin; blob: URLs carry thumbnails fetched with the
# token, hls.js runs its transmuxer in a blob: worker and feeds MediaSource (blob:).
CSP = (
    "default-src 'self'; img-src 'self' blob: data:{tiles}; media-src 'self' blob:; "
    "worker-src 'self' blob:; style-src 'self'; script-src 'self'; connect-src 'self'; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)
# A host name (or a `*.` wildcard for a `{s}` subdomain template) and an optional port.
_TILE_HOST = re.compile(r"^(\*\.)?[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*(:[0-9]{1,5})?$")


def tile_source(tile_url: str) -> str:
    """The CSP source of the configured map tile host ("" when none or not a plain
    http(s) host): the map's <img> tiles may come from there, and nothing else does."""
    template = tile_url.strip().replace("{s}", "*")
    if not template:
        return ""
    try:
        parts = urlsplit(template)
    except ValueError:
        return ""
    host = parts.netloc
    if parts.scheme not in ("http", "https") or "@" in host or not _TILE_HOST.match(host):
        return ""
    return f"{parts.scheme}://{host.lower()}"


def page_csp(tile_url: str = "") -> str:
    """The page's CSP: its own origin only, plus the map tile host when one is set."""
    source = tile_source(tile_url)
    return CSP.format(tiles=f" {source}" if source else "")


# /docs: Swagger UI from the vendored bundle; it styles its widgets inline and draws its
# icons from data: URLs, but runs no inline or remote script.
DOCS_CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
    "script-src 'self'; connect-src 'self'; font-src 'self' data:; object-src 'none'; "
    "base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)
DOCS_HTML = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>imageserver API</title>
<link rel="stylesheet" href="/static/vendor/swagger-ui/swagger-ui.css">
<link rel="icon" href="/static/icon.svg">
</head>
<body>
<div id="swagger-ui"></div>
<script src="/static/vendor/swagger-ui/swagger-ui-bundle.js"></script>
<script src="/static/js/docs.js"></script>
</body>
</html>
"""
TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".html": "text/html; charset=utf-8",
    ".svg": "image/svg+xml",
    ".json": "application/json",
    ".md": "text/markdown; charset=utf-8",
    ".txt": "text/plain; charset=utf-8",
}

router = APIRouter(tags=["web"], include_in_schema=False)


@dataclass(frozen=True)
class StaticFile:
    path: Path
    media_type: str
    cache: str


def _catalogue() -> dict[str, StaticFile]:
    """URL path below /static/ -> file, for every regular file shipped with the page."""
    found: dict[str, StaticFile] = {}
    for base, prefix, cache in (
        (STATIC_DIR, "", REVALIDATE),
        (VENDOR_DIR, "vendor/", VENDOR_CACHE),
    ):
        if not base.is_dir():
            continue
        for path in sorted(base.rglob("*")):
            if not path.is_file() or path.is_symlink():
                continue
            rel = prefix + path.relative_to(base).as_posix()
            kind = TYPES.get(path.suffix.lower()) or (
                mimetypes.guess_type(path.name)[0] or "application/octet-stream"
            )
            found[rel] = StaticFile(path, kind, cache)
    return found


_FILES: dict[str, StaticFile] = {}
_READ_AT = 0.0
REREAD_SECONDS = 2.0


def lookup(rel: str) -> StaticFile | None:
    """The shipped file at `rel`; on a miss the catalogue is re-read (a file added while
    developing), at most every REREAD_SECONDS however many unknown paths are asked for."""
    global _FILES, _READ_AT
    item = _FILES.get(rel)
    if item is None and time.monotonic() - _READ_AT > REREAD_SECONDS:
        _FILES, _READ_AT = _catalogue(), time.monotonic()
        item = _FILES.get(rel)
    return item


@dataclass(frozen=True)
class Loaded:
    stamp: tuple[int, int]  # (size, mtime_ns) of the file when read
    body: bytes
    etag: str


_LOADED: dict[Path, Loaded] = {}


def _load(path: Path) -> Loaded:
    """The file's bytes and ETag, re-read only when it changed (an edit shows without restart).

    The page's files are small (the largest, hls.js, ~370 KB), so they are served from
    memory by an async handler: no thread-pool hop per module of the first load.
    """
    try:
        st = path.stat()
    except FileNotFoundError:
        raise NotFound("static file removed") from None
    stamp = (st.st_size, st.st_mtime_ns)
    hit = _LOADED.get(path)
    if hit is None or hit.stamp != stamp:
        body = path.read_bytes()
        tag = hashlib.sha1(body, usedforsecurity=False).hexdigest()[:20]
        hit = Loaded(stamp, body, f'"{tag}"')
        _LOADED[path] = hit
    return hit


def _serve(request: Request, item: StaticFile, extra: dict[str, str] | None = None) -> Response:
    loaded = _load(item.path)
    headers = {
        "ETag": loaded.etag,
        "Cache-Control": item.cache,
        "X-Content-Type-Options": "nosniff",
        **(extra or {}),
    }
    if request.headers.get("if-none-match") == loaded.etag:
        return Response(status_code=304, headers=headers)
    return Response(loaded.body, media_type=item.media_type, headers=headers)


@router.get("/", response_class=HTMLResponse)
async def index(request: Request) -> Response:
    """The page itself; hash routes (#/timeline, #/viewer/12 ...) need nothing more."""
    item = lookup("index.html")
    if item is None:
        raise NotFound("the web page is not installed")
    ctx = getattr(request.app.state, "ctx", None)
    tile_url = str(getattr(getattr(ctx, "settings", None), "map_tile_url", "") or "")
    return _serve(
        request,
        item,
        {"Content-Security-Policy": page_csp(tile_url), "Referrer-Policy": "no-referrer"},
    )


@router.get("/static/{path:path}")
async def static(path: str, request: Request) -> Response:
    item = lookup(path)
    if item is None:
        raise NotFound(f"no static file {path!r}")
    return _serve(request, item)


@router.get("/docs", response_class=HTMLResponse)
async def docs() -> Response:
    """Swagger UI for /openapi.json, every file served from here (no CDN), under a CSP."""
    return HTMLResponse(
        DOCS_HTML,
        headers={
            "Content-Security-Policy": DOCS_CSP,
            "Referrer-Policy": "no-referrer",
            "Cache-Control": REVALIDATE,
            "X-Content-Type-Options": "nosniff",
        },
    )
