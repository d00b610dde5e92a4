"""`GET /search` on both databases: every filter, combinations, excludes, the archive rule,
scoping (through every filter), pagination, 422 positions, and CLIP ranking with the tiny
model (equal to a brute-force ranking of the rows the filters leave)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from imageserver.ml.encoders import get_encoder
from imageserver.ml.repo import stored_vector
from imageserver.search.suggest import quoted
from tests.conftest import world_database_url
from tests.ml.tiny_clip import TinyClip, build_tiny_clip
from tests.search.one_world import World, build_world

A_PHOTOS = {"a/red.jpg", "a/trip/blue.jpg", "a/receipt_scan.jpg"}  # green is archived


@pytest.fixture(scope="module")
def mean_pooled(tmp_path_factory: pytest.TempPathFactory) -> TinyClip:
    """The tiny model with mean pooling: every text has its own vector (the OpenAI-style
    tiny model pools at the end-of-text token, the same for every text)."""
    return build_tiny_clip(tmp_path_factory.mktemp("models") / "tiny-siglip", style="siglip")


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def world(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    sqlite_template: Path,
    mean_pooled: TinyClip,
) -> Iterator[World]:
    tmp = tmp_path_factory.mktemp("one-search")
    yield from build_world(tmp, world_database_url(request, tmp, sqlite_template), mean_pooled)


def get(client: TestClient, auth: dict[str, str], q: str, **params: Any) -> dict[str, Any]:
    response = client.get("/search", params={"q": q, **params}, headers=auth)
    assert response.status_code == 200, (q, response.text)
    body: dict[str, Any] = response.json()
    return body


def names(world: World, q: str, who: str = "admin", model: bool = False, **params: Any) -> set[str]:
    client = world.clip if model else world.plain
    auth = world.admin if who == "admin" else world.bob
    return world.names(get(client, auth, q, limit=100, **params)["hits"])


def test_each_filter_alone_without_a_model(world: World) -> None:
    cases = {
        'person:"Anna Maria"': {"a/red.jpg", "b/secret-red.jpg"},
        "person:2": {"a/trip/blue.jpg"},
        f'place:"{world.place_lyon}"': {"a/red.jpg", "b/secret-red.jpg"},
        "country:pt": {"a/trip/blue.jpg"},
        f'country:"{world.country_pt}"': {"a/trip/blue.jpg"},
        "camera:pixel": {"a/red.jpg", "b/secret-red.jpg"},
        "camera:canon": {"a/trip/blue.jpg"},
        "lens:50mm": {"a/trip/blue.jpg"},
        "type:video": {"a/clips/walk.mp4"},
        # the video has no recorded date: taken_at is its file time (now)
        "after:2021": {"a/receipt_scan.jpg", "b/trip/secret-sign.jpg", "a/clips/walk.mp4"},
        "after:2021 before:2022": {"a/receipt_scan.jpg", "b/trip/secret-sign.jpg"},
        "before:2019-07-15": {"a/red.jpg"},  # green (2018) is archived
        "year:2019": {"a/red.jpg", "b/secret-red.jpg"},
        "month:7": {"a/red.jpg", "b/secret-red.jpg"},
        "month:2020-02": {"a/trip/blue.jpg"},
        "in:holidays": {"a/trip/blue.jpg", "b/secret-red.jpg"},
        f"in:{world.album}": {"a/trip/blue.jpg", "b/secret-red.jpg"},
        "is:favorite": {"a/red.jpg", "b/secret-red.jpg"},
        "is:archived": {"a/trip/green.jpg"},
        "has:text": {"a/receipt_scan.jpg", "a/red.jpg", "b/trip/secret-sign.jpg"},
        "has:gps": {"a/red.jpg", "a/trip/blue.jpg", "b/secret-red.jpg"},
        "file:*red*.JPG": {"a/red.jpg", "b/secret-red.jpg"},
        "file:receipt": {"a/receipt_scan.jpg"},
        "folder:trip": {"a/trip/blue.jpg", "b/trip/secret-sign.jpg"},
        "folder:cl?ps": {"a/clips/walk.mp4"},
    }
    for q, want in cases.items():
        assert names(world, q) == want, q


def test_words_and_phrases_match_text_file_and_folder_names(world: World) -> None:
    assert names(world, "bakery") == {"a/receipt_scan.jpg", "b/trip/secret-sign.jpg"}
    assert names(world, '"exit only"') == {"a/receipt_scan.jpg", "b/trip/secret-sign.jpg"}
    assert names(world, "exit") == {"a/receipt_scan.jpg", "a/red.jpg", "b/trip/secret-sign.jpg"}
    assert names(world, "trip") == {"a/trip/blue.jpg", "b/trip/secret-sign.jpg"}
    assert names(world, "100%") == set()  # LIKE wildcards are literal
    body = get(world.plain, world.admin, '"exit only" trip')
    assert body["mode"] == "filters" and body["model_version"] is None
    [hit] = body["hits"]
    assert hit["score"] is None
    assert hit["matched"] == [
        {"clause": '"exit only"', "how": "text"},
        {"clause": "trip", "how": "folder"},
    ]
    red = get(world.plain, world.admin, "red exit person:1")["hits"]
    assert [h["matched"] for h in red] == [
        [
            {"clause": "red", "how": "file name"},
            {"clause": "exit", "how": "text"},
            {"clause": "person:1", "how": "filter"},
        ]
    ]


def test_tags_titles_and_descriptions_are_searchable(world: World) -> None:
    """`tag:` takes a tag and the tags below it (ignoring case); words and phrases match
    titles, descriptions and tags too, and say so; all inside the caller's scope."""
    c, admin, ids = world.plain, world.admin, world.ids
    tagged = [ids["a/red.jpg"], ids["b/secret-red.jpg"]]
    edits = [
        ("/media", {"ids": tagged, "tags": ["Family/Grandma", "Lakeside"]}),
        (f"/media/{ids['a/trip/blue.jpg']}", {"description": "Picnic at the Lakeside"}),
    ]
    for path, body in edits:
        response = c.patch(path, headers=admin, json=body)
        assert response.status_code == 200, response.text
    try:
        assert names(world, "tag:family") == {"a/red.jpg", "b/secret-red.jpg"}
        assert names(world, "tag:Family/GRANDMA") == {"a/red.jpg", "b/secret-red.jpg"}
        assert names(world, "tag:Grand") == set()  # a level, not a substring
        assert names(world, "tag:family", who="bob") == {"a/red.jpg"}  # b is not his
        assert names(world, "-tag:family type:photo") == (
            A_PHOTOS | {"b/trip/secret-sign.jpg"}
        ) - {"a/red.jpg"}
        assert names(world, "lakeside") == {"a/red.jpg", "b/secret-red.jpg", "a/trip/blue.jpg"}
        assert names(world, '"at the lakeside"') == {"a/trip/blue.jpg"}
        [hit] = get(c, admin, '"at the lakeside"')["hits"]
        assert hit["matched"] == [{"clause": '"at the lakeside"', "how": "description"}]
        red = get(c, admin, "grandma file:red.jpg")["hits"]  # file: contains, so both reds
        assert [h["matched"][0] for h in red] == [{"clause": "grandma", "how": "tag"}] * 2
    finally:
        for media_id in (*tagged, ids["a/trip/blue.jpg"]):
            undone = c.post(f"/media/{media_id}/edits/undo", headers=admin)
            assert undone.status_code == 200, undone.text


def suggested(world: World, q: str, who: str = "admin") -> list[str]:
    auth = world.admin if who == "admin" else world.bob
    response = world.plain.get("/search/suggest", params={"q": q}, headers=auth)
    assert response.status_code == 200, response.text
    return [s["clause"] for s in response.json()["suggestions"]]


def test_suggestions_complete_the_last_clause_from_what_the_caller_sees(world: World) -> None:
    """Each key offers its values by prefix (most items first), a bare word offers
    filters, an open quote keeps its spaces, an exclude keeps its sign; bob's suggestions
    come from library A and his albums only."""
    assert suggested(world, "beach person:an") == ['person:"Anna Maria"']
    assert suggested(world, 'person:"Anna M') == ['person:"Anna Maria"']
    assert suggested(world, "-person:b") == ["-person:Bob"]
    assert suggested(world, "camera:pix") == ['camera:"Pixel 7"']
    assert suggested(world, "camera:can") == ["camera:Canon"]
    assert suggested(world, "country:p") == [f"country:{world.country_pt}"]
    assert suggested(world, "in:hol") == ["in:Holidays"]
    lyon = world.place_lyon
    assert f"place:{quoted(lyon)}" in suggested(world, f"place:{lyon[:3].lower()}")
    assert suggested(world, "anna") == ['person:"Anna Maria"']
    assert suggested(world, "a") == [] and suggested(world, "persn:a") == []
    assert suggested(world, "") == []
    # bob: Anna Maria is in his library A too, the Holidays album is shared with him;
    # the Canon shot is in A; nothing of B is offered (its only camera is a Pixel)
    assert suggested(world, "person:an", who="bob") == ['person:"Anna Maria"']
    assert suggested(world, "in:hol", who="bob") == ["in:Holidays"]
    c, admin, ids = world.plain, world.admin, world.ids
    secret = ids["b/trip/secret-sign.jpg"]
    tagged = c.patch(f"/media/{secret}", headers=admin, json={"tags": ["Secret/Plans"]})
    assert tagged.status_code == 200, tagged.text
    try:
        assert suggested(world, "tag:sec") == ["tag:Secret/Plans"]
        assert suggested(world, "tag:sec", who="bob") == []
        assert suggested(world, "secr", who="bob") == []
    finally:
        assert c.post(f"/media/{secret}/edits/undo", headers=admin).status_code == 200


def test_combinations_and_excludes(world: World) -> None:
    assert names(world, "camera:pixel year:2019 has:gps") == {"a/red.jpg", "b/secret-red.jpg"}
    assert names(world, "camera:pixel -is:favorite") == set()
    assert names(world, "has:text -bakery") == {"a/red.jpg"}
    assert names(world, 'has:text -"exit only"') == {"a/red.jpg"}
    assert names(world, "has:gps -person:Bob") == {"a/red.jpg", "b/secret-red.jpg"}
    assert names(world, "-type:photo") == {"a/clips/walk.mp4"}
    # NULL reads as "no match": items without a lens are kept by -lens:
    assert names(world, "-lens:50mm type:photo") == (
        A_PHOTOS | {"b/secret-red.jpg", "b/trip/secret-sign.jpg"}
    ) - {"a/trip/blue.jpg"}
    assert names(world, "-in:Holidays folder:trip") == {"b/trip/secret-sign.jpg"}
    assert names(world, "-year:2019 -year:2021 type:photo") == {"a/trip/blue.jpg"}
    hits = get(world.plain, world.admin, "has:text -bakery")["hits"]
    assert hits[0]["matched"] == [
        {"clause": "has:text", "how": "filter"},
        {"clause": "-bakery", "how": "excluded"},
    ]


def test_archived_items_stay_out_unless_asked_for(world: World) -> None:
    assert "a/trip/green.jpg" not in names(world, "folder:trip")
    assert names(world, "folder:trip is:archived") == {"a/trip/green.jpg"}
    assert names(world, "folder:trip -is:archived") == {"a/trip/blue.jpg", "b/trip/secret-sign.jpg"}
    # archive marks are per user: bob never archived green
    assert names(world, "folder:trip", who="bob") == {"a/trip/blue.jpg", "a/trip/green.jpg"}
    assert names(world, "is:favorite", who="bob") == {"a/receipt_scan.jpg"}


@pytest.mark.parametrize("model", [False, True])
def test_a_member_never_sees_an_ungranted_library_through_any_filter(
    world: World, model: bool
) -> None:
    queries = [
        'person:"Anna Maria"',
        "person:1",
        f'place:"{world.place_lyon}"',
        "country:FR",
        "camera:pixel",
        "year:2019",
        "month:july",
        "in:Holidays",
        f"in:{world.album}",
        "is:favorite",
        "has:text",
        "has:gps",
        "file:secret*",
        "folder:trip",
        "bakery",
        '"exit only"',
        "-type:video",
        "red",
        "red camera:pixel",
        "2:sunset -car type:photo",
    ]
    everything: set[str] = set()
    for q in queries:
        seen = names(world, q, who="bob", model=model)
        assert not any(n.startswith("b/") for n in seen), q
        everything |= seen
    assert everything >= A_PHOTOS  # the queries found something, so the check bites
    assert names(world, "in:Holidays", who="bob") == {"a/trip/blue.jpg"}
    assert names(world, 'person:"Anna Maria"', who="bob") == {"a/red.jpg"}
    b_item = world.ids["b/secret-red.jpg"]
    missing = world.clip.get("/search", params={"q": f"+similar:{b_item}"}, headers=world.bob)
    assert missing.status_code == 404
    outside = world.clip.get(
        "/search", params={"q": "red", "library": world.lib_b}, headers=world.bob
    )
    assert outside.status_code == 404


def test_filters_mode_pages_newest_first_without_gaps(world: World) -> None:
    seen: list[int] = []
    cursor = None
    for _ in range(10):
        params: dict[str, Any] = {"limit": 2}
        if cursor:
            params["cursor"] = cursor
        body = get(world.plain, world.admin, "-is:favorite", **params)
        seen += [h["item"]["id"] for h in body["hits"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    full = get(world.plain, world.admin, "-is:favorite", limit=100)["hits"]
    assert seen == [h["item"]["id"] for h in full] and len(seen) == 4
    taken = [h["item"]["taken_at"] for h in full]
    assert taken == sorted(taken, reverse=True)


@pytest.mark.parametrize(
    ("q", "position"),
    [
        ("persn:Anna", 0),
        ("red type:pic", 9),
        ('dog "open', 9),
        ("after:2019-13", 6),
        ("  ", 0),
        ("2:is:favorite", 0),
        ("type:photo -similar:3", 11),
    ],
)
def test_syntax_errors_are_422_with_the_position(world: World, q: str, position: int) -> None:
    response = world.plain.get("/search", params={"q": q}, headers=world.admin)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "invalid"
    assert error["message"].startswith(f"q: position {position}: expected ")


def test_bad_parameters_and_cursors_are_422_and_auth_is_required(world: World) -> None:
    for params in (
        {"q": "x", "limit": 0},
        {"q": "x", "cursor": "tnope"},
        {"q": "red", "cursor": "cnope"},
        {"q": "x\x00"},
        {},
    ):
        response = world.clip.get("/search", params=params, headers=world.admin)
        assert response.status_code == 422, (params, response.text)
    page = get(world.plain, world.admin, "type:photo", limit=1)
    mixed = world.clip.get(
        "/search", params={"q": "red", "cursor": page["next_cursor"]}, headers=world.admin
    )
    assert mixed.status_code == 422 and "cursor" in mixed.json()["error"]["message"]
    assert world.plain.get("/search", params={"q": "red"}).status_code == 401
    no_model = world.plain.get("/search", params={"q": "+similar:1"}, headers=world.admin)
    assert no_model.status_code == 503


# --- with the tiny CLIP model ------------------------------------------------------------


def brute(world: World, vector: np.ndarray, keys: set[str]) -> list[str]:  # type: ignore[type-arg]
    """Keys ranked by cosine with the stored vectors, best first (one per content)."""
    encoder = get_encoder(world.ctx)
    assert encoder is not None
    with world.ctx.engine.connect() as conn:
        scored = []
        for key in keys:
            stored = stored_vector(conn, world.hashes[key], encoder.model_version)
            assert stored is not None, key
            scored.append((-float(stored @ vector), key))
    return [k for _, k in sorted(scored)]


def text_vector(world: World, parts: list[tuple[str, float]]) -> np.ndarray:  # type: ignore[type-arg]
    encoder = get_encoder(world.ctx)
    assert encoder is not None
    vectors = encoder.encode_text([t for t, _ in parts])
    total = sum(w * vectors[i] for i, (_, w) in enumerate(parts))
    return total / np.linalg.norm(total)  # type: ignore[no-any-return]


def ranked(world: World, q: str, **params: Any) -> list[str]:
    body = get(world.clip, world.admin, q, limit=100, **params)
    assert body["mode"] == "clip" and body["model_version"]
    by_id = {v: k for k, v in world.ids.items()}
    scores = [h["score"] for h in body["hits"]]
    assert scores == sorted(scores, reverse=True)
    return [by_id[h["item"]["id"]] for h in body["hits"]]


PHOTOS = A_PHOTOS | {"b/secret-red.jpg", "b/trip/secret-sign.jpg"}


def test_clip_ranks_like_brute_force_over_what_the_filters_leave(world: World) -> None:
    for q, parts, keys in (
        ("red car", [("red car", 1.0)], PHOTOS),
        ("blue sunset year:2019", [("blue sunset", 1.0)], {"a/red.jpg", "b/secret-red.jpg"}),
        ("2:snow beach", [("beach", 1.0), ("snow", 2.0)], PHOTOS),
        ("dog 0.5:cat", [("dog", 1.0), ("cat", 0.5)], PHOTOS),
        ("tree -car", [("tree", 1.0), ("car", -1.0)], PHOTOS),
        ('tree "exit only"', [("tree", 1.0)], {"a/receipt_scan.jpg", "b/trip/secret-sign.jpg"}),
    ):
        assert ranked(world, q) == brute(world, text_vector(world, parts), keys), q


def test_weights_change_the_ranking_and_similar_joins_the_vector(world: World) -> None:
    def scores(q: str) -> dict[int, float]:
        return {h["item"]["id"]: h["score"] for h in get(world.clip, world.admin, q)["hits"]}

    assert scores("5:red 0.1:blue") != scores("0.1:red 5:blue")
    same, scaled = scores("5:red 0.1:blue"), scores("50:red 1:blue")  # only the ratio counts
    assert same.keys() == scaled.keys()
    assert all(abs(same[k] - scaled[k]) < 1e-5 for k in same)
    red = world.ids["a/red.jpg"]
    encoder = get_encoder(world.ctx)
    assert encoder is not None
    with world.ctx.engine.connect() as conn:
        own = stored_vector(conn, world.hashes["a/red.jpg"], encoder.model_version)
    assert own is not None
    got = ranked(world, f"+similar:{red}")
    assert got[0] == "a/red.jpg" and got == brute(world, own, PHOTOS)
    mixed = text_vector(world, [("snow", 1.0)]) + own
    assert ranked(world, f"snow similar:{red}") == brute(
        world, mixed / np.linalg.norm(mixed), PHOTOS
    )
    hit = get(world.clip, world.admin, f"snow +similar:{red} has:gps")["hits"][0]
    assert hit["matched"] == [
        {"clause": "snow", "how": "clip"},
        {"clause": f"+similar:{red}", "how": "similar"},
        {"clause": "has:gps", "how": "filter"},
    ]


def test_clip_pages_are_exact_and_a_threshold_cuts(world: World) -> None:
    full = get(world.clip, world.admin, "red car", limit=100)["hits"]
    seen: list[int] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 2}
        if cursor:
            params["cursor"] = cursor
        body = get(world.clip, world.admin, "red car", **params)
        seen += [h["item"]["id"] for h in body["hits"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert seen == [h["item"]["id"] for h in full] and len(seen) == len(PHOTOS)
    middle = float(np.median([h["score"] for h in full])) - 1e-5  # scores are rounded
    cut = get(world.clip, world.admin, "red car", threshold=middle, limit=100)["hits"]
    assert [h["item"]["id"] for h in cut] == [h["item"]["id"] for h in full if h["score"] >= middle]


def test_filters_alone_need_no_model_even_when_one_is_configured(world: World) -> None:
    body = get(world.clip, world.admin, "camera:pixel -car")
    assert body["mode"] == "filters"
    assert world.names(body["hits"]) == {"a/red.jpg", "b/secret-red.jpg"}


def test_the_old_photos_search_keeps_working(world: World) -> None:
    response = world.clip.get(
        "/photos/search", params={"q": "red", "threshold": -1}, headers=world.bob
    )
    assert response.status_code == 200
    paths = {h["path"] for h in response.json()["hits"]}
    assert paths == {"red.jpg", "trip/blue.jpg", "receipt_scan.jpg", "trip/green.jpg"}


def test_a_filter_matching_too_many_contents_to_mask_resolves_in_rounds(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    from imageserver.search import combined

    masked = ranked(world, "blue sunset has:gps")
    monkeypatch.setattr(combined, "MASK_CAP", 1)  # 3 contents match: too many to mask
    assert ranked(world, "blue sunset has:gps") == masked
    keys = {"a/red.jpg", "a/trip/blue.jpg", "b/secret-red.jpg"}
    assert masked == brute(world, text_vector(world, [("blue sunset", 1.0)]), keys)
