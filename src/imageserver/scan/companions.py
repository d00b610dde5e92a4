"""Link companion files so clients can show them as one item; both rows stay.

Within one folder, files sharing a base name (case-insensitive) form a group:
- a RAW beside a JPEG/HEIC still: the RAW points at the still (role "raw");
- a short video beside a still (Apple Live Photo IMG_1234.HEIC + IMG_1234.MOV): the
  video points at the still (role "live").
A video embedded inside a JPEG (Google/Samsung motion photo) is not a file of its own;
the metadata reader records its offset on the still row instead.
"""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import select

from imageserver.db.tables import media
from imageserver.media import repo
from imageserver.media.formats import RAW_FORMATS
from imageserver.work.tick import TickContext

LIVE_MAX_SECONDS = 10.0
_STILL_PRIORITY = {"jpeg": 0, "heic": 1, "avif": 2, "webp": 3, "png": 4, "tiff": 5}


def _stem(name: str) -> str:
    return name.rsplit(".", 1)[0].lower() if "." in name else name.lower()


def desired_links(rows: list[dict[str, object]]) -> dict[int, tuple[int, str]]:
    """media id -> (primary id, role) for every secondary file; pure, for testing."""
    groups: dict[tuple[object, str], list[dict[str, object]]] = defaultdict(list)
    for row in rows:
        groups[(row["folder"], _stem(str(row["name"])))].append(row)
    links: dict[int, tuple[int, str]] = {}
    for members in groups.values():
        if len(members) < 2:
            continue
        stills = [m for m in members if m["kind"] == "photo" and m["format"] not in RAW_FORMATS]
        if not stills:
            continue
        primary = min(stills, key=lambda m: (_STILL_PRIORITY.get(str(m["format"]), 9), m["id"]))
        for m in members:
            if m is primary:
                continue
            if m["kind"] == "photo" and m["format"] in RAW_FORMATS:
                links[int(str(m["id"]))] = (int(str(primary["id"])), "raw")
            elif m["kind"] == "video":
                duration = m["duration"]
                if duration is None or float(str(duration)) <= LIVE_MAX_SECONDS:
                    links[int(str(m["id"]))] = (int(str(primary["id"])), "live")
    return links


def companions_stage(t: TickContext) -> None:
    if not (t.full or t.counts["new"] or t.counts["changed"] or t.counts["described"]):
        return
    query = select(
        media.c.id,
        media.c.folder,
        media.c.name,
        media.c.kind,
        media.c.format,
        media.c.duration,
        media.c.companion_id,
        media.c.companion_role,
    ).where(media.c.library_id == t.library.id, media.c.retired_at.is_(None))
    with t.app.engine.connect() as conn:
        rows = [dict(r) for r in conn.execute(query).mappings()]
    links = desired_links(rows)
    changes = []
    for row in rows:
        want = links.get(int(row["id"]))
        have = (row["companion_id"], row["companion_role"]) if row["companion_id"] else None
        if want != have:
            changes.append((row["id"], want))
    if not changes:
        return
    with t.app.engine.begin() as conn:
        for media_id, want in changes:
            repo.update_row(
                conn,
                media_id,
                {
                    "companion_id": want[0] if want else None,
                    "companion_role": want[1] if want else None,
                },
            )
    t.counts["linked"] += len(changes)
