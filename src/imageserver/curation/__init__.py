"""Curation people already wrote: XMP sidecars, embedded XMP/IPTC, Google Takeout JSON.

    names.py       which files are sidecars and which media file(s) each one describes
    fields.py      the one shape every source is read into (Fields) and its JSON form
    xmp.py         exiftool's answer for a sidecar or a media file -> Fields
    takeout.py     a Takeout JSON document -> Fields
    precedence.py  user edit > sidecar > embedded > file system, field by field
    reader.py      runs exiftool (media/exiftool.py, through proc.py) and reads JSON
    repo.py        all SQL of the feature (sidecars, curation_items, item_tags)
    service.py     syncing a library's sidecars, reading embedded curation, the tag tree
    api.py         GET /tags
    edits_schemas.py, edits_api.py, edits_service.py, edits_repo.py
                   the household's edits: PATCH /media/{id}, PATCH /media, history, undo
    export.py      POST /export/xmp: XMP sidecars of the effective curation (data folder)

The library is only ever read: sidecars are found by the walk (scan/walker.py,
scan/findwalk.py) and synced by scan/sidecars.py; nothing here writes under a root.
Edits live in the database only (`media_edits`); an edited date or place is also put on
the media row by media/overrides.py so the grid, timeline and map follow it.
"""
