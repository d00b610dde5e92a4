"""Which files are sidecars, and which media file(s) of the same folder each describes.

XMP: `IMG_1.CR2.xmp` (darktable, digiKam, Lightroom's "name.ext" option) describes exactly
`IMG_1.CR2`; `IMG_1.xmp` (Lightroom, Capture One) describes every media file whose name
without extension is `IMG_1` (a RAW and its JPEG both). Google Takeout: `IMG_1.jpg.json`
or `IMG_1.jpg.supplemental-metadata.json`, where Takeout cuts the whole JSON name to 51
characters (so the part before `.json` is at most 46, and `supplemental-metadata` may be
cut to any prefix) and moves a duplicate's `(1)` to the end: `IMG(1).jpg` gets
`IMG.jpg(1).json`. An `-edited` copy shares the original's JSON. Matching ignores case.
"""

from __future__ import annotations

import re

XMP = "xmp"
TAKEOUT = "takeout"
SUPPLEMENTAL = "supplemental-metadata"
# Takeout cuts a JSON file name to 51 characters: 46 before ".json".
TAKEOUT_CUT = 46
_DUPLICATE = re.compile(r"^(?P<base>.+?)\((?P<n>\d{1,4})\)$")


def sidecar_kind(name: str) -> str | None:
    """ "xmp", "takeout" or None (not a sidecar); hidden files never are."""
    if name.startswith("."):
        return None
    lower = name.lower()
    if lower.endswith(".xmp") and len(lower) > 4:
        return XMP
    if lower.endswith(".json") and len(lower) > 5:
        return TAKEOUT
    return None


def is_sidecar(name: str) -> bool:
    return sidecar_kind(name) is not None


def _split(name: str) -> tuple[str, str]:
    """("IMG", ".jpg"); ("IMG", "") without an extension."""
    dot = name.rfind(".")
    return (name[:dot], name[dot:]) if dot > 0 else (name, "")


def specific(sidecar: str, media_name: str) -> bool:
    """`name.ext.xmp` for `name.ext`: it outranks a shared `name.xmp`."""
    return sidecar.lower() == media_name.lower() + ".xmp"


def targets(sidecar: str, media_names: list[str]) -> list[str]:
    """The media files of the folder (names) that `sidecar` describes."""
    kind = sidecar_kind(sidecar)
    if kind == XMP:
        return _xmp_targets(sidecar[:-4], media_names)
    if kind == TAKEOUT:
        return _takeout_targets(sidecar[:-5], media_names)
    return []


def _xmp_targets(base: str, media_names: list[str]) -> list[str]:
    lower = base.lower()
    exact = [m for m in media_names if m.lower() == lower]
    if exact:
        return exact
    return [m for m in media_names if _split(m)[0].lower() == lower and _split(m)[1]]


def _strip_supplemental(base: str) -> str | None:
    """`IMG.jpg.supplemental-metadata` (or a cut `IMG.jpg.supplemen`) -> `IMG.jpg`."""
    dot = base.rfind(".")
    if dot > 0:
        tail = base[dot + 1 :].lower()
        if tail and SUPPLEMENTAL.startswith(tail):
            return base[:dot]
    return None


def _takeout_targets(base: str, media_names: list[str]) -> list[str]:
    duplicate = None
    match = _DUPLICATE.match(base)
    if match:
        base, duplicate = match.group("base"), match.group("n")
    cut = len(base) >= TAKEOUT_CUT - 1  # a name at the limit may have lost its end
    stripped = _strip_supplemental(base)
    bases = [base] if stripped is None else [stripped, base]
    if duplicate is not None:
        bases = [f"{_split(b)[0]}({duplicate}){_split(b)[1]}" for b in bases]
    by_lower = {m.lower(): m for m in media_names}
    found: list[str] = []
    for candidate in bases:
        lower = candidate.lower()
        if lower in by_lower:
            found = [by_lower[lower]]
            break
    else:
        for candidate in bases:
            lower = candidate.lower()
            ext = _split(lower)[1]
            if ext and not cut:
                continue
            # `IMG.json`, or a cut name: the one media file whose name starts so
            prefix = [m for m in media_names if m.lower().startswith(lower)]
            if len(prefix) == 1:
                found = prefix
                break
            if not ext:
                found = [m for m in media_names if _split(m)[0].lower() == lower]
                if found:
                    break
    for name in list(found):
        stem, ext = _split(name)
        edited = f"{stem}-edited{ext}".lower()
        if edited in by_lower:
            found.append(by_lower[edited])
    return found
