"""Camera wall-clock times -> UTC, with the source of the offset."""

from __future__ import annotations

from datetime import UTC, datetime

from imageserver.places.timezones import OffsetSource, resolve_local_time

NEW_YORK = (40.7580, -73.9855)
LONDON = (51.5007, -0.1246)
TOKYO = (35.6586, 139.7454)
PHOENIX = (33.4484, -112.0740)
LORD_HOWE = (-31.5553, 159.0821)


def at(wall: datetime, where: tuple[float, float]) -> datetime:
    r = resolve_local_time(wall, lat=where[0], lon=where[1], default_zone="Europe/Paris")
    assert r.source is OffsetSource.GPS_ZONE
    return r.utc


def test_a_trip_across_zones_orders_by_the_real_instant() -> None:
    # A camera left on each place's local time: wall clocks alone would misorder these.
    shots = [
        ("ny", datetime(2026, 7, 4, 23, 30), NEW_YORK),  # 03:30 UTC on the 5th
        ("london", datetime(2026, 7, 5, 7, 0), LONDON),  # 06:00 UTC
        ("tokyo", datetime(2026, 7, 5, 14, 0), TOKYO),  # 05:00 UTC
    ]
    utc = {name: at(wall, where) for name, wall, where in shots}
    assert utc["ny"] == datetime(2026, 7, 5, 3, 30, tzinfo=UTC)
    assert utc["london"] == datetime(2026, 7, 5, 6, 0, tzinfo=UTC)
    assert utc["tokyo"] == datetime(2026, 7, 5, 5, 0, tzinfo=UTC)
    assert sorted(utc, key=utc.__getitem__) == ["ny", "tokyo", "london"]


def test_dst_per_zone() -> None:
    assert at(datetime(2026, 1, 15, 12), NEW_YORK) == datetime(2026, 1, 15, 17, tzinfo=UTC)
    assert at(datetime(2026, 7, 15, 12), NEW_YORK) == datetime(2026, 7, 15, 16, tzinfo=UTC)
    # Arizona keeps MST all year
    assert at(datetime(2026, 1, 15, 12), PHOENIX) == datetime(2026, 1, 15, 19, tzinfo=UTC)
    assert at(datetime(2026, 7, 15, 12), PHOENIX) == datetime(2026, 7, 15, 19, tzinfo=UTC)
    # Lord Howe: +10:30 in winter, +11 in summer (a half-hour shift)
    winter = resolve_local_time(datetime(2026, 7, 1, 12), lat=LORD_HOWE[0], lon=LORD_HOWE[1])
    summer = resolve_local_time(datetime(2026, 1, 1, 12), lat=LORD_HOWE[0], lon=LORD_HOWE[1])
    assert (winter.zone, winter.offset_min, summer.offset_min) == ("Australia/Lord_Howe", 630, 660)
    assert summer.utc == datetime(2026, 1, 1, 1, 0, tzinfo=UTC)


def test_exif_offset_wins_over_gps() -> None:
    r = resolve_local_time(
        datetime(2026, 7, 5, 14, 0), exif_offset_min=120, lat=TOKYO[0], lon=TOKYO[1]
    )
    assert (r.source, r.offset_min, r.zone) == (OffsetSource.EXIF_OFFSET, 120, None)
    assert r.utc == datetime(2026, 7, 5, 12, 0, tzinfo=UTC)
    assert r.local.isoformat() == "2026-07-05T14:00:00+02:00"


def test_server_default_without_gps_or_offset() -> None:
    r = resolve_local_time(datetime(2026, 7, 5, 14, 0), default_zone="Europe/Paris")
    assert (r.source, r.zone, r.offset_min) == (OffsetSource.SERVER_DEFAULT, "Europe/Paris", 120)
    # (0, 0) is "no fix", not the Gulf of Guinea's zone
    r00 = resolve_local_time(datetime(2026, 7, 5, 14), lat=0.0, lon=0.0, default_zone="Asia/Tokyo")
    assert (r00.source, r00.offset_min) == (OffsetSource.SERVER_DEFAULT, 540)
    bare = resolve_local_time(datetime(2026, 7, 5, 14), default_zone="Not/AZone")
    assert (bare.source, bare.zone, bare.utc) == (
        OffsetSource.SERVER_DEFAULT,
        "UTC",
        datetime(2026, 7, 5, 14, tzinfo=UTC),
    )


def test_ambiguous_and_nonexistent_wall_times() -> None:
    # 2026-11-01 01:30 happens twice in New York: the first (EDT, -4) is taken.
    fall = resolve_local_time(datetime(2026, 11, 1, 1, 30), lat=NEW_YORK[0], lon=NEW_YORK[1])
    assert (fall.ambiguous, fall.nonexistent, fall.offset_min) == (True, False, -240)
    assert fall.utc == datetime(2026, 11, 1, 5, 30, tzinfo=UTC)
    # 2026-03-08 02:30 never happens: read with the offset before the jump (EST, -5).
    spring = resolve_local_time(datetime(2026, 3, 8, 2, 30), lat=NEW_YORK[0], lon=NEW_YORK[1])
    assert (spring.ambiguous, spring.nonexistent, spring.offset_min) == (False, True, -300)
    assert spring.utc == datetime(2026, 3, 8, 7, 30, tzinfo=UTC)
    normal = resolve_local_time(datetime(2026, 3, 9, 2, 30), lat=NEW_YORK[0], lon=NEW_YORK[1])
    assert (normal.ambiguous, normal.nonexistent) == (False, False)
