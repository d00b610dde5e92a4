"""The rules of curation: which sidecar rows a folder should have, effective values, tags.

A sync is planned on a read connection, the files are read with no transaction open
(reader.py), and the result applied in one short write: a library arriving with
thousands of sidecars does not hold the database while exiftool works.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection

from imageserver.curation import edits_repo, names, reader, repo
from imageserver.curation.fields import Fields
from imageserver.curation.precedence import EDIT, Layer, merge, sidecar_rank
from imageserver.curation.repo import MediaRef, SidecarRow
from imageserver.media import overrides
from imageserver.work.scope import Scope

READ_CHUNK = 500


def split(rel: str) -> tuple[str, str]:
    folder, _, name = rel.rpartition("/")
    return folder, name


def join(folder: str, name: str) -> str:
    return f"{folder}/{name}" if folder else name


@dataclass
class SyncPlan:
    """What a folder set should hold: (media path, sidecar path) -> (kind, size, mtime)."""

    desired: dict[tuple[str, str], tuple[str, int, int]] = field(default_factory=dict)
    existing: dict[tuple[str, str], SidecarRow] = field(default_factory=dict)
    keep_folders: set[str] = field(default_factory=set)  # unreadable: never delete there
    to_read: list[tuple[str, str]] = field(default_factory=list)  # (sidecar path, kind)
    reused: dict[str, dict[str, Any] | None] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return not self.desired and not self.existing


def plan_sync(
    conn: Connection,
    library_id: int,
    present: dict[str, tuple[int, int]],
    folders: set[str] | None,
    unreadable: set[str],
) -> SyncPlan:
    """`present`: the sidecars seen in `folders` (None: the whole library was walked)."""
    existing = repo.sidecar_rows(conn, library_id, folders)
    plan = SyncPlan(existing={(r.media_path, r.path): r for r in existing})
    scope = set(folders) if folders is not None else set()
    if folders is None:
        scope = {split(p)[0] for p in present} | {r.folder for r in existing}
    plan.keep_folders = {f for f in scope if f in unreadable or _under_any(f, unreadable)}
    by_folder: dict[str, list[str]] = defaultdict(list)
    if present:
        for ref in repo.media_in_folders(conn, library_id, {split(p)[0] for p in present}):
            by_folder[ref.folder].append(ref.name)
    for rel, (size, mtime) in present.items():
        folder, name = split(rel)
        kind = names.sidecar_kind(name)
        if kind is None:
            continue
        for target in names.targets(name, by_folder.get(folder, [])):
            plan.desired[(join(folder, target), rel)] = (kind, size, mtime)
    known: dict[str, SidecarRow] = {r.path: r for r in existing}
    wanted: dict[str, str] = {}
    for (media_path, rel), (kind, size, mtime) in plan.desired.items():
        have = plan.existing.get((media_path, rel)) or known.get(rel)
        if have is not None and (have.size, have.mtime_ns) == (size, mtime):
            plan.reused[rel] = have.data
        else:
            wanted[rel] = kind
    plan.to_read = sorted(wanted.items())
    return plan


def _under_any(folder: str, parents: set[str]) -> bool:
    return any(p == "" or folder.startswith(p + "/") for p in parents)


def read_plan(root: Path, plan: SyncPlan) -> dict[str, dict[str, Any] | None]:
    """The files of the plan that must be (re)read; None for one that cannot be read."""
    out: dict[str, dict[str, Any] | None] = {}
    for start in range(0, len(plan.to_read), READ_CHUNK):
        read = reader.read_sidecars(root, plan.to_read[start : start + READ_CHUNK])
        out.update({rel: f.to_json() if f is not None else None for rel, f in read.items()})
    return out


def apply_sync(
    conn: Connection,
    library_id: int,
    plan: SyncPlan,
    read: dict[str, dict[str, Any] | None],
    now: float,
) -> set[str]:
    """Write the plan; the media paths whose effective curation must be recomputed."""
    affected: set[str] = set()
    gone = [
        key
        for key, row in plan.existing.items()
        if key not in plan.desired and row.folder not in plan.keep_folders
    ]
    repo.delete_sidecars(conn, library_id, gone)
    affected |= {media_path for media_path, _ in gone}
    for (media_path, rel), (kind, size, mtime) in plan.desired.items():
        have = plan.existing.get((media_path, rel))
        if have is not None and (have.size, have.mtime_ns) == (size, mtime):
            continue
        data = read[rel] if rel in read else plan.reused.get(rel)
        row = SidecarRow(media_path, rel, split(rel)[0], kind, size, mtime, data)
        repo.put_sidecar(conn, library_id, row, now)
        affected.add(media_path)
    return affected


def edit_layer(conn: Connection, media_id: int) -> Layer | None:
    """The household's edits as the top layer (None: the item has none)."""
    state = edits_repo.edit_of(conn, media_id)
    if state is None or state.empty:
        return None
    v = state.values
    found = Fields(
        rating=v["rating"],
        title=v["title"],
        description=v["description"],
        tags=list(v["tags"] or []),
    )
    if v["taken_at"]:
        found.taken_at, found.offset_min = v["taken_at"]["local"], v["taken_at"]["offset_min"]
    if v["location"]:
        found.latitude, found.longitude = v["location"]["latitude"], v["location"]["longitude"]
    stated = frozenset({"tags"} if v["tags"] is not None else set())
    return Layer(EDIT, EDIT, found, stated)


def layers_for(conn: Connection, library_id: int, ref: MediaRef) -> list[Layer]:
    rows = repo.sidecars_for(conn, library_id, ref.rel_path)
    ranked = sorted(
        rows,
        key=lambda r: (sidecar_rank(r.kind, names.specific(split(r.path)[1], ref.name)), r.path),
    )
    edit = edit_layer(conn, ref.id)
    layers = [edit] if edit is not None else []
    layers += [Layer(f"sidecar:{r.path}", r.kind, Fields.from_json(r.data)) for r in ranked]
    embedded = repo.embedded_of(conn, ref.id)
    if embedded:
        layers.append(Layer("embedded", "embedded", Fields.from_json(embedded)))
    return layers


def refresh(conn: Connection, library_id: int, media_paths: set[str], now: float) -> int:
    """Recompute the effective curation of these media files (live rows only)."""
    refs = repo.media_by_paths(conn, library_id, sorted(media_paths))
    for ref in refs:
        refresh_ref(conn, library_id, ref, now)
    return len(refs)


def refresh_ids(conn: Connection, ids: list[int], now: float) -> None:
    """The same for media rows by id (after an edit)."""
    for library_id, ref in edits_repo.refs(conn, ids):
        refresh_ref(conn, library_id, ref, now)


def refresh_ref(conn: Connection, library_id: int, ref: MediaRef, now: float) -> None:
    """Recompute one item's effective curation, and put a curated date or place (an
    edit's, a sidecar's) on its media row so the grid, timeline and map follow it."""
    has_date = overrides.file_has_date(conn, ref.id, ref.has_date)
    found = merge(layers_for(conn, library_id, ref), file_has_date=has_date)
    v = found.values
    repo.set_effective(
        conn,
        ref.id,
        {
            "rating": v.rating,
            "label": v.label[:32] if v.label else None,
            "title": v.title,
            "description": v.description,
            "taken_at": v.taken_at,
            "taken_at_offset_min": v.offset_min if v.taken_at else None,
            "latitude": v.latitude,
            "longitude": v.longitude,
            "people": v.people or None,
            "regions": v.regions or None,
            "sources": found.sources,
        },
        v.tags,
        now,
    )
    overrides.show(conn, ref.id, curated(v, found.sources))


def curated(v: Fields, sources: dict[str, str]) -> overrides.Override:
    """The date and place the row shows in place of the file's (None where the file's)."""
    return overrides.Override(
        taken_at=datetime.fromisoformat(v.taken_at) if v.taken_at else None,
        offset_min=v.offset_min if v.taken_at else None,
        latitude=v.latitude if v.longitude is not None else None,
        longitude=v.longitude if v.latitude is not None else None,
        date_source=overrides.source_label(sources.get("taken_at", "")),
    )


def embedded_key(ref: MediaRef) -> str:
    return f"{ref.size}:{ref.mtime_ns}"


def read_embedded(root: Path, refs: list[MediaRef]) -> dict[int, Fields | None]:
    """The embedded XMP/IPTC curation of these files (dates and GPS are the metadata
    drain's); None where the read failed (tried again on a later full scan)."""
    read = reader.read_xmp(root, [r.rel_path for r in refs], dates=False)
    return {r.id: read.get(r.rel_path) for r in refs}


def apply_embedded(
    conn: Connection,
    library_id: int,
    refs: list[MediaRef],
    read: dict[int, Fields | None],
    now: float,
) -> int:
    done = set()
    for ref in refs:
        found = read.get(ref.id)
        if found is None:
            continue
        repo.set_embedded(
            conn, ref.id, embedded_key(ref), None if found.empty() else found.to_json(), now
        )
        done.add(ref.rel_path)
    return refresh(conn, library_id, done, now) if done else 0


@dataclass
class TagNode:
    name: str
    path: str
    count: int  # items with this tag or one below it
    children: list[TagNode] = field(default_factory=list)


def tag_tree(conn: Connection, scope: Scope) -> list[TagNode]:
    """Every tag the caller can see, as a tree; a node counts distinct items below it."""
    items: dict[str, set[int]] = defaultdict(set)
    for media_id, tag in repo.visible_tag_rows(conn, scope):
        parts = tag.split("/")
        for depth in range(1, len(parts) + 1):
            items["/".join(parts[:depth])].add(media_id)
    nodes: dict[str, TagNode] = {}
    roots: list[TagNode] = []
    for path in sorted(items, key=lambda p: (p.count("/"), p.lower())):
        parent, _, name = path.rpartition("/")
        node = TagNode(name=name, path=path, count=len(items[path]))
        nodes[path] = node
        (nodes[parent].children if parent else roots).append(node)
    return roots
