"""Which media files a sidecar describes: XMP namings and Takeout's cut and (1) names."""

from __future__ import annotations

from imageserver.curation import names, takeout
from imageserver.curation.fields import date, tag_paths


def test_xmp_namings() -> None:
    folder = ["IMG_1.CR2", "IMG_1.JPG", "IMG_2.jpg"]
    assert names.targets("IMG_1.CR2.xmp", folder) == ["IMG_1.CR2"]  # darktable, digiKam
    assert sorted(names.targets("IMG_1.xmp", folder)) == ["IMG_1.CR2", "IMG_1.JPG"]  # Lightroom
    assert names.targets("img_2.JPG.XMP", folder) == ["IMG_2.jpg"]  # case is ignored
    assert names.targets("IMG_3.xmp", folder) == []
    assert names.specific("IMG_1.CR2.xmp", "IMG_1.CR2")
    assert not names.specific("IMG_1.xmp", "IMG_1.CR2")


def test_takeout_namings() -> None:
    folder = ["IMG.jpg", "IMG(1).jpg", "IMG-edited.jpg", "PXL_20230101.mp4"]
    assert names.targets("IMG.jpg.json", folder) == ["IMG.jpg", "IMG-edited.jpg"]
    assert names.targets("IMG.jpg(1).json", folder) == ["IMG(1).jpg"]
    assert names.targets("IMG.jpg.supplemental-metadata.json", folder)[0] == "IMG.jpg"
    assert names.targets("IMG.jpg.supplemental-metadata(1).json", folder) == ["IMG(1).jpg"]
    assert names.targets("IMG.jpg.supplemental-met.json", folder)[0] == "IMG.jpg"
    assert names.targets("PXL_20230101.mp4.json", folder) == ["PXL_20230101.mp4"]
    assert names.targets("metadata.json", folder) == []


def test_takeout_cut_names() -> None:
    long_name = "Screenshot_20190714-102030_Some Long App Name Here.jpg"  # 55 characters
    cut = long_name[:46]  # Takeout: 51 characters with ".json"
    assert names.targets(cut + ".json", [long_name, "other.jpg"]) == [long_name]
    # 47 before ".json": the media file's own name was cut at 47 too
    media = long_name[:43] + ".jpg"
    assert names.targets(media[:46] + ".json", [media]) == [media]
    # a cut supplemental-metadata suffix on a long name
    mid = "PXL_20230714_102030123.PORTRAIT.ORIGINAL.jpg"
    assert names.targets((mid + ".supplemental-metadata")[:46] + ".json", [mid]) == [mid]


def test_takeout_document() -> None:
    raw = (
        b'{"title": "IMG.jpg", "description": "Grandma at the lake",'
        b' "photoTakenTime": {"timestamp": "1563092430", "formatted": "..."},'
        b' "geoData": {"latitude": 0.0, "longitude": 0.0},'
        b' "geoDataExif": {"latitude": 46.5, "longitude": 6.6},'
        b' "people": [{"name": "Alice"}, {"name": "Bob"}]}'
    )
    found = takeout.parse(raw)
    assert found.description == "Grandma at the lake"
    assert (found.taken_at, found.offset_min) == ("2019-07-14T08:20:30", 0)
    assert (found.latitude, found.longitude) == (46.5, 6.6)  # 0/0 means none
    assert found.people == ["Alice", "Bob"]
    assert found.title is None  # Takeout's title is the file name


def test_dates_and_tags() -> None:
    assert date("2019:07:14 10:20:30+02:00") == ("2019-07-14T10:20:30", 120)
    assert date("2019-07-14T10:20:30.5-05:30") == ("2019-07-14T10:20:30", -330)
    assert date("2019:07:14") == ("2019-07-14T00:00:00", None)
    assert date("2019:13:40 10:00:00") is None
    assert tag_paths(["Paris", "France", "cat"], [["Places", "France", "Paris"]]) == [
        "Places/France/Paris",
        "cat",
    ]
