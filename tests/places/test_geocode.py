"""Accuracy of the offline geocoder against ground truth carried here: landmarks within
5 km of a border on both sides, coasts and islands, the poles, and invalid input.

Coordinates are of well-known public places (stations, town halls, city centres) on the
stated side of the border; the expected answers are the real country and first-level
region, not what the data happens to say."""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from imageserver.places import geocode
from imageserver.places.geocode import Geocoder, Place


@pytest.fixture(scope="module")
def gc() -> Geocoder:
    return geocode.geocoder()  # one load per process


# (label, lat, lon, ISO country, first-level region code)
BORDERS = [
    # Geneva (CH) and the French towns around it, each 0.5-4 km from the border
    ("Geneva Cornavin station", 46.2102, 6.1423, "CH", "CH-GE"),
    ("Geneva Old Town", 46.2010, 6.1480, "CH", "CH-GE"),
    ("Annemasse station", 46.1994, 6.2364, "FR", "FR-ARA"),
    ("Ferney-Voltaire centre", 46.2558, 6.1081, "FR", "FR-ARA"),
    ("Saint-Julien-en-Genevois", 46.1443, 6.0817, "FR", "FR-ARA"),
    ("Grand-Saconnex (CH, 1 km from Ferney)", 46.2326, 6.1218, "CH", "CH-GE"),
    # Detroit River: about 1 km between the two downtowns
    ("Detroit Renaissance Center", 42.3293, -83.0398, "US", "US-MI"),
    ("Detroit City Hall area", 42.3314, -83.0458, "US", "US-MI"),
    ("Windsor riverfront", 42.3149, -83.0364, "CA", "CA-ON"),
    ("Windsor Walkerville", 42.3225, -83.0050, "CA", "CA-ON"),
    # The Rhine between Strasbourg and Kehl
    ("Strasbourg cathedral", 48.5818, 7.7509, "FR", "FR-GES"),
    ("Strasbourg Neudorf", 48.5650, 7.7650, "FR", "FR-GES"),
    ("Kehl town centre", 48.5722, 7.8150, "DE", "DE-BW"),
    ("Kehl station", 48.5746, 7.8190, "DE", "DE-BW"),
    # Tijuana / San Ysidro
    ("Tijuana Avenida Revolucion", 32.5313, -117.0367, "MX", "MX-BCN"),
    ("Tijuana centre", 32.5149, -117.0382, "MX", "MX-BCN"),
    ("San Ysidro", 32.5556, -117.0470, "US", "US-CA"),
    ("Otay Mesa (US, 2 km north of the border)", 32.5640, -116.9700, "US", "US-CA"),
    # Basel's three countries
    ("Basel Minster", 47.5565, 7.5929, "CH", "CH-BS"),
    ("Basel Badischer Bahnhof", 47.5675, 7.6075, "CH", "CH-BS"),
    ("Weil am Rhein town hall", 47.5947, 7.6108, "DE", "DE-BW"),
    ("Saint-Louis (Haut-Rhin)", 47.5900, 7.5600, "FR", "FR-GES"),
    ("Huningue", 47.5925, 7.5835, "FR", "FR-GES"),
]


@pytest.mark.parametrize(
    ("label", "lat", "lon", "cc", "region"), BORDERS, ids=[b[0] for b in BORDERS]
)
def test_border_points_get_their_own_country_and_region(
    gc: Geocoder, label: str, lat: float, lon: float, cc: str, region: str
) -> None:
    p = gc.lookup(lat, lon)
    assert p is not None, label
    assert (p.country_code, p.region_code) == (cc, region), (label, p)
    assert p.offshore_km == 0.0


def test_nearest_place_stays_in_the_country(gc: Geocoder) -> None:
    # The nearest city centres across each border are closer than some in-country ones.
    windsor = gc.lookup(42.3149, -83.0364)
    ferney = gc.lookup(46.2558, 6.1081)
    ysidro = gc.lookup(32.5556, -117.0470)
    kehl = gc.lookup(48.5722, 7.8150)
    assert windsor is not None and windsor.place == "Windsor"
    assert ferney is not None and ferney.place == "Ferney-Voltaire"
    assert ysidro is not None and ysidro.place not in (None, "Tijuana")
    assert kehl is not None and kehl.place == "Kehl"


def test_regions_and_place_names(gc: Geocoder) -> None:
    st_albans = gc.lookup(51.762408, -0.317892)
    assert st_albans is not None
    assert (st_albans.place, st_albans.region, st_albans.country) == (
        "St Albans",
        "England",
        "United Kingdom",
    )
    assert (st_albans.subregion, st_albans.region_code) == ("Hertfordshire", "GB-ENG")
    kehl = gc.lookup(48.5722, 7.8150)
    assert kehl is not None and kehl.region == "Baden-Württemberg"
    detroit = gc.lookup(42.3314, -83.0458)
    assert detroit is not None and (detroit.region, detroit.place) == ("Michigan", "Detroit")
    strasbourg = gc.lookup(48.5818, 7.7509)
    assert strasbourg is not None
    assert (strasbourg.region, strasbourg.subregion_code) == ("Grand Est", "FR-67")
    assert strasbourg.place == "Strasbourg"
    edinburgh = gc.lookup(55.9533, -3.1883)
    assert edinburgh is not None and (edinburgh.region, edinburgh.region_code) == (
        "Scotland",
        "GB-SCT",
    )


ISLANDS = [
    ("Newport, Isle of Wight", 50.7003, -1.2920, "GB", "GB-ENG"),
    ("Ryde, Isle of Wight", 50.7300, -1.1600, "GB", "GB-ENG"),
    ("Waikiki, Honolulu", 21.2767, -157.8275, "US", "US-HI"),
    ("Valletta", 35.8989, 14.5146, "MT", None),
    ("Fira, Santorini", 36.4166, 25.4322, "GR", None),
    ("Mykonos town", 37.4467, 25.3289, "GR", None),
    ("Palma de Mallorca", 39.5696, 2.6502, "ES", "ES-IB"),
    ("Reykjavik", 64.1466, -21.9426, "IS", None),
]


@pytest.mark.parametrize(
    ("label", "lat", "lon", "cc", "region"), ISLANDS, ids=[i[0] for i in ISLANDS]
)
def test_islands(
    gc: Geocoder, label: str, lat: float, lon: float, cc: str, region: str | None
) -> None:
    p = gc.lookup(lat, lon)
    assert p is not None and p.country_code == cc, (label, p)
    if region is not None:
        assert p.region_code == region
    assert p.place is not None and p.place_km is not None and p.place_km < 15


def test_coastal_waters_snap_to_the_nearest_country(gc: Geocoder) -> None:
    solent = gc.lookup(50.78, -1.25)  # a boat between Southampton Water and Cowes
    assert solent is not None and solent.country_code == "GB"
    assert 0 < solent.offshore_km <= geocode_coastal_km()
    honolulu_bay = gc.lookup(21.25, -157.86)  # 2-3 km off Honolulu harbour
    assert honolulu_bay is not None and honolulu_bay.country_code == "US"
    assert honolulu_bay.offshore_km > 0


def geocode_coastal_km() -> float:
    from imageserver.places.borders import COASTAL_KM

    return COASTAL_KM


def test_open_ocean_has_a_zone_but_no_country(gc: Geocoder) -> None:
    atlantic = gc.lookup(30.0, -40.0)
    assert atlantic is not None
    assert (atlantic.country_code, atlantic.place) == ("", None)
    assert atlantic.timezone == "Etc/GMT+3"
    near_null_island = gc.lookup(0.001, 0.001)
    assert near_null_island is not None and near_null_island.country_code == ""


def test_poles(gc: Geocoder) -> None:
    north = gc.lookup(90.0, 0.0)
    assert north is None or north.country_code == ""  # the Arctic Ocean
    south = gc.lookup(-90.0, 0.0)
    assert south is not None and south.country_code == "AQ"
    assert gc.lookup(-89.5, 123.0) is not None


@pytest.mark.parametrize(
    ("lat", "lon"),
    [
        (0.0, 0.0),
        (91.0, 0.0),
        (-90.5, 10.0),
        (10.0, 180.5),
        (10.0, -181.0),
        (math.nan, 1.0),
        (1.0, math.nan),
        (math.inf, 1.0),
        (None, 1.0),
        ("north", "east"),
    ],
)
def test_invalid_input_is_none(gc: Geocoder, lat: object, lon: object) -> None:
    assert gc.lookup(lat, lon) is None


def test_batch_agrees_with_single_lookups(gc: Geocoder) -> None:
    points = [(b[1], b[2]) for b in BORDERS + ISLANDS] + [
        (51.762408, -0.317892),
        (50.78, -1.25),
        (30.0, -40.0),
        (0.0, 0.0),
        (95.0, 0.0),
        (-31.5553, 159.0821),
    ]
    many = gc.lookup_many([p[0] for p in points], [p[1] for p in points])
    assert many == [gc.lookup(a, b) for a, b in points]
    assert many[-3:-1] == [None, None]


def test_threads_get_the_same_answers(gc: Geocoder) -> None:
    points = [(b[1], b[2]) for b in BORDERS] * 4

    def one(p: tuple[float, float]) -> Place | None:
        return gc.lookup(*p)

    with ThreadPoolExecutor(4) as pool:
        threaded = list(pool.map(one, points))
    assert threaded == [gc.lookup(*p) for p in points]


def test_module_lookup_is_the_shared_instance(gc: Geocoder) -> None:
    assert geocode.geocoder() is gc
    assert geocode.lookup(48.5722, 7.8150) == gc.lookup(48.5722, 7.8150)


@pytest.mark.parametrize(
    ("label", "lat", "lon", "cc"),
    [
        # time-zone lines that are not national borders leave Natural Earth's answer
        ("Ramallah", 31.9038, 35.2034, "PS"),
        ("Bethlehem", 31.7054, 35.2024, "PS"),
        ("Jerusalem, Jaffa Road", 31.7833, 35.2167, "IL"),
        # Kosovo shares Serbia's zone: refinement must not move it to Serbia
        ("Podujevo, Kosovo (10 km from Serbia)", 42.9106, 21.1933, "XK"),
        ("Mitrovica, Kosovo", 42.8914, 20.8660, "XK"),
        ("Kursumlija, Serbia", 43.1403, 21.2714, "RS"),
        # an Italian enclave inside Switzerland, 1 km across Lake Lugano from Italy
        ("Campione d'Italia", 45.9686, 8.9718, "IT"),
        ("Lugano", 46.0037, 8.9511, "CH"),
    ],
)
def test_zone_refinement_edge_cases(
    gc: Geocoder, label: str, lat: float, lon: float, cc: str
) -> None:
    p = gc.lookup(lat, lon)
    assert p is not None and p.country_code == cc, (label, p)


def test_naming_rules() -> None:
    from imageserver.places import regions

    assert regions.country_of("SOL", "-99", "Somaliland") == ("SO", "Somalia")
    assert regions.country_of("PGA", "-99", "Spratly Is.") == ("", "")
    assert regions.country_of("USA", "US", "United States of America") == ("US", "United States")
    assert regions.country_of("XXX", "-1", "Nowhere") == ("", "")
    herts = {"geonunit": "England", "region": "East"}
    assert regions.first_level("GB", herts, "Hertfordshire", "GB-HRT") == ("England", "GB-ENG")
    navarra = {"region": "Foral de Navarra", "region_cod": "ES.NA"}
    assert regions.first_level("ES", navarra, "Navarra", "ES-NA") == ("Navarra", "ES-NC")
    bw = {"region": "", "region_cod": ""}
    assert regions.first_level("DE", bw, "Baden-Württemberg", "DE-BW") == (
        "Baden-Württemberg",
        "DE-BW",
    )


def test_large_batches_are_chunked_and_keep_order(gc: Geocoder) -> None:
    lat = [48.5722, 46.2102, 0.0] * 3000  # 9000 points: three chunks
    lon = [7.8150, 6.1423, 0.0] * 3000
    out = gc.lookup_many(lat, lon)
    assert len(out) == 9000
    assert [p.country_code if p else None for p in out[-3:]] == ["DE", "CH", None]
    assert out[0] == out[8997] and out[8999] is None


def test_build_zone_table(tmp_path: Path) -> None:
    from imageserver.places.build_data import zone_countries

    table = tmp_path / "zone1970.tab"
    table.write_text(
        "# comment\nCH,DE,LI\t+4723+00832\tEurope/Zurich\tBusingen\n"
        "RS,BA,HR\t+4450+02030\tEurope/Belgrade\nGF\t+0456-05220\tAmerica/Cayenne\n",
        encoding="utf-8",
    )
    zones = zone_countries([table])
    assert zones["Europe/Zurich"] == ["CH", "DE", "LI"]
    assert zones["Europe/Belgrade"] == ["RS", "BA", "HR", "XK"]  # Kosovo added
    assert zones["America/Cayenne"] == ["GF", "FR"]  # Natural Earth files it under France


def test_antimeridian_and_the_edges_of_the_range(gc: Geocoder) -> None:
    # Fiji's Northern Division straddles 180 degrees: both sides are Fiji
    east, west = gc.lookup(-16.5, 179.9999), gc.lookup(-16.5, -179.9999)
    assert east is not None and west is not None
    assert (east.country_code, west.country_code) == ("FJ", "FJ")
    assert east.timezone == west.timezone == "Pacific/Fiji"
    chukotka = gc.lookup(65.0, -180.0)
    assert chukotka is not None and chukotka.country_code == "RU"
    for lat, lon in [(90.0, 180.0), (-90.0, -180.0), (89.99, -179.99), (45.0, 180.0)]:
        single, batch = gc.lookup(lat, lon), gc.lookup_many([lat], [lon])[0]
        assert single == batch and single is not None and single.timezone
    assert gc.lookup(0.0, -0.0) is None
