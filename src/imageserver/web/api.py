"""Serve the web page: `/` is index.html, `/static/...` its modules, styles and vendored files.

Unauthenticated on purpose: the page holds no data, everything it shows comes from the
authenticated API. Files ship as they are (plain ES modules, no build step), so their
names carry no content hash: the page and its modules are served with `no-cache` and an
ETag (a reload costs one 304 per file), vendored files whose folder names their version
may be kept for a day. Paths are matched against the files that exist when the app
starts, never joined raw, so `..` or a symlink cannot reach anything else.
"""

from __future__ import annotations

import hashlib
import mimetypes
from dataclasses import dataclass
from pathlib import Path

from fastapi import APIRouter, Request, Response
from fastapi.responses import FileResponse

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
    "default-src 'self'; img-src 'self' blob: data:; media-src 'self' blob:; "
    "worker-src 'self' blob:; style-src 'self'; script-src 'self'; connect-src 'self'; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)
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


def _etag(path: Path) -> str:
    st = path.stat()
    tag = hashlib.sha1(f"{st.st_size}-{st.st_mtime_ns}".encode(), usedforsecurity=False)
    return '"' + tag.hexdigest()[:20] + '"'


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


def lookup(rel: str) -> StaticFile | None:
    """The shipped file at `rel`; the catalogue is re-read on a miss (a file added in dev)."""
    global _FILES
    item = _FILES.get(rel)
    if item is None:
        _FILES = _catalogue()
        item = _FILES.get(rel)
    return item


def _serve(request: Request, item: StaticFile, extra: dict[str, str] | None = None) -> Response:
    try:
        etag = _etag(item.path)  # per request: an edited file is served fresh without restart
    except FileNotFoundError:
        raise NotFound("static file removed") from None
    headers = {
        "ETag": etag,
        "Cache-Control": item.cache,
        "X-Content-Type-Options": "nosniff",
        **(extra or {}),
    }
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    return FileResponse(item.path, media_type=item.media_type, headers=headers)


@router.get("/", response_class=FileResponse)
def index(request: Request) -> Response:
    """The page itself; hash routes (#/timeline, #/viewer/12 ...) need nothing more."""
    item = lookup("index.html")
    if item is None:
        raise NotFound("the web page is not installed")
    return _serve(request, item, {"Content-Security-Policy": CSP, "Referrer-Policy": "no-referrer"})


@router.get("/static/{path:path}", response_class=FileResponse)
def static(path: str, request: Request) -> Response:
    item = lookup(path)
    if item is None:
        raise NotFound(f"no static file {path!r}")
    return _serve(request, item)
