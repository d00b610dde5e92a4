"""Faces named by the regions photo tools wrote (curation/regions.py reads them from XMP
sidecars and embedded XMP): a detected face that a named region covers goes to the person
of that name, made when there is none (assignment `sidecar`).

- Regions are fractions of the *stored* image; detected boxes are in displayed pixels. The
  region is turned with the item's EXIF orientation first (the MWG guidelines ask for
  that; readers that skip it misplace faces on every portrait photo).
- A region and a face match when their boxes overlap by at least MIN_IOU (intersection
  over union), best pairs first, each used once. Boxes drawn by people are looser than a
  detector's, so the bar is low; a region that covers no detected face names nobody.
- A person's own choice wins: faces a user assigned or rejected are never moved. A face
  the machine grouped (`auto`) or left alone is named; a `sidecar` face whose region is
  gone or renamed follows the sidecar (back to unassigned, or to the new name).
- It runs for the faces a tick detects, and for items whose regions changed (a sidecar
  that appears, changes or goes: curation flags `curation_items.regions_changed`, this
  pass clears it), so the order in which the sidecar and the face scan arrive does not
  matter, and no clock is trusted to order the changes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection

from imageserver.faces import repo, service

MIN_IOU = 0.3
PASS_LIMIT = 500  # items re-matched per tick after their regions changed
SIDECAR = "sidecar"
MOVABLE = ("none", "auto", SIDECAR)
Box = tuple[float, float, float, float]  # left, top, width, height


def _corner(u: float, v: float, orientation: int) -> tuple[float, float]:
    """Where a point of the stored image (fractions) lands in the displayed one."""
    return {
        2: (1 - u, v),
        3: (1 - u, 1 - v),
        4: (u, 1 - v),
        5: (v, u),
        6: (1 - v, u),
        7: (1 - v, 1 - u),
        8: (v, 1 - u),
    }.get(orientation, (u, v))


def displayed(box: Box, orientation: int | None) -> Box:
    """A stored-image box (fractions) as a box of the displayed image (fractions)."""
    left, top, w, h = box
    a = _corner(left, top, orientation or 1)
    b = _corner(left + w, top + h, orientation or 1)
    x0, x1 = sorted((a[0], b[0]))
    y0, y1 = sorted((a[1], b[1]))
    return x0, y0, x1 - x0, y1 - y0


def iou(a: Box, b: Box) -> float:
    ix = max(0.0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union > 0 else 0.0


def match(faces: Sequence[Box], regions: Sequence[Box]) -> dict[int, int]:
    """face index -> region index, best overlaps first, each used once."""
    pairs = sorted(
        ((iou(f, r), fi, ri) for fi, f in enumerate(faces) for ri, r in enumerate(regions)),
        reverse=True,
    )
    out: dict[int, int] = {}
    used: set[int] = set()
    for score, fi, ri in pairs:
        if score < MIN_IOU:
            break
        if fi not in out and ri not in used:
            out[fi] = ri
            used.add(ri)
    return out


def _face_box(face: Any) -> Box:
    w, h = float(face["image_width"]), float(face["image_height"])
    return face["box_x"] / w, face["box_y"] / h, face["box_w"] / w, face["box_h"] / h


def _region_box(region: dict[str, Any]) -> Box:
    return float(region["x"]), float(region["y"]), float(region["w"]), float(region["h"])


def name_faces(conn: Connection, hashes: Sequence[str], now: float) -> int:
    """Name the faces of these pictures from their regions; faces moved."""
    moved = 0
    touched: set[int] = set()
    names = repo.person_ids_by_name(conn)
    for digest in sorted(set(hashes)):
        regions, orientation = repo.regions_of_hash(conn, digest)
        faces = [f for f in repo.faces_of_hash(conn, digest) if f["assignment"] in MOVABLE]
        if not faces:
            continue
        boxes = [displayed(_region_box(r), orientation) for r in regions]
        pairs = match([_face_box(f) for f in faces], boxes)
        for index, face in enumerate(faces):
            if index in pairs:
                name = str(regions[pairs[index]]["name"])
                person = names.get(name.casefold())
                if person is None:
                    person = names[name.casefold()] = repo.create_person(conn, now, name)
                if (face["person_id"], face["assignment"]) == (person, SIDECAR):
                    continue
                target, how = person, SIDECAR
            elif face["assignment"] == SIDECAR:
                target, how = None, "none"
            else:
                continue
            if face["person_id"] is not None:
                touched.add(int(face["person_id"]))
            if target is not None:
                touched.add(target)
            repo.assign(conn, [int(face["id"])], target, how)
            moved += 1
    if touched:
        service.drop_if_empty(conn, sorted(touched))
        for person_id in sorted(touched):
            service.ensure_cover(conn, person_id, now)
    return moved


def changed_pass(conn: Connection, library_id: int, now: float) -> int:
    """Re-match the items of the library whose regions changed since the last pass."""
    changed = repo.regions_changed(conn, library_id, PASS_LIMIT)
    if not changed:
        return 0
    moved = name_faces(conn, [digest for _, digest in changed], now)
    repo.clear_regions_changed(conn, [media_id for media_id, _ in changed])
    return moved
