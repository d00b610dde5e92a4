"""The place-name search behind an edit's location "by place name": folded prefix match on
the shipped GeoNames places, most populous first, narrowed by a country or region after a
comma; and its route, which a member may call and a stranger may not."""

from __future__ import annotations

from fastapi.testclient import TestClient

from imageserver.places import gazetteer
from tests.conftest import add_member


def test_fold_drops_case_accents_and_punctuation() -> None:
    assert gazetteer.fold("  São-Paulo ") == "sao paulo"
    assert gazetteer.fold("Zürich") == "zurich"
    assert gazetteer.fold("ÉVORA") == "evora"


def test_a_prefix_finds_the_largest_places_first() -> None:
    hits = gazetteer.search("lisb", limit=3)
    assert (hits[0].name, hits[0].country_code, hits[0].region) == ("Lisbon", "PT", "Lisboa")
    assert abs(hits[0].latitude - 38.72) < 0.05 and abs(hits[0].longitude + 9.14) < 0.05
    populations = [h.population for h in hits]
    assert populations == sorted(populations, reverse=True)
    assert all(gazetteer.fold(h.name).startswith("lisb") for h in hits)


def test_accents_need_not_be_typed() -> None:
    assert gazetteer.search("sao paulo", limit=1)[0].name == "São Paulo"
    assert gazetteer.search("zurich", limit=1)[0].name == "Zürich"


def test_text_after_a_comma_narrows_by_country_code_country_or_region() -> None:
    paris = gazetteer.search("Paris, US", limit=5)
    assert paris and {h.country_code for h in paris} == {"US"}
    assert "Texas" in {h.region for h in gazetteer.search("paris, us", limit=50)}
    assert gazetteer.search("Paris, france", limit=1)[0].country_code == "FR"
    texas = gazetteer.search("paris, tex", limit=5)
    assert [h.region for h in texas] == ["Texas"]


def test_nothing_typed_or_nothing_known_finds_nothing() -> None:
    assert gazetteer.search("", limit=5) == []
    assert gazetteer.search(" ,FR", limit=5) == []
    assert gazetteer.search("qqxqzz", limit=5) == []
    assert len(gazetteer.search("s", limit=999)) == gazetteer.MAX_HITS


def test_the_route_answers_members_and_refuses_strangers(
    client: TestClient, auth: dict[str, str]
) -> None:
    member = add_member(client, auth)
    got = client.get("/places/search", params={"q": "genev"}, headers=member)
    assert got.status_code == 200, got.text
    body = got.json()
    assert body["places"][0]["name"] == "Genève"
    assert body["places"][0]["country_code"] == "CH"
    assert "GeoNames" in body["attribution"]
    two = client.get("/places/search", params={"q": "gen", "limit": 2}, headers=member)
    assert [p["name"] for p in two.json()["places"]] == ["General Santos", "Genoa"]
    assert client.get("/places/search", params={"q": "Genev"}).status_code == 401
    assert client.get("/places/search", params={"q": ""}, headers=member).status_code == 422
    too_many = client.get("/places/search", params={"q": "a", "limit": 51}, headers=member)
    assert too_many.status_code == 422
