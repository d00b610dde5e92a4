"""Browser tests of favorites, archive, albums and share links: one server for the module.

Each flow goes through the page as a person would (viewer buttons, the selection bar, the
album page, the share dialog) and checks the result in another view; the public share page
opens in a fresh browser context that never logged in.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from tests.web.harness import WebServer


def tile_ids(page: Any, view: str = "timeline") -> list[int]:
    ids: list[int] = page.evaluate(
        "v => [...document.querySelectorAll(`.view-${v} .canvas .tile[data-id]`)]"
        ".map(t => Number(t.dataset.id))",
        view,
    )
    return ids


def photo_ids(server: WebServer) -> list[int]:
    page = server.api("GET", "/media", params={"kind": "photo", "limit": 100}).json()
    return [int(i["id"]) for i in page["items"]]


PHOTO_TILES = ".canvas .tile[data-kind='photo']"


def two_photos(page: Any, web_server: WebServer) -> list[int]:
    """The timeline's first two photos, once both are on the page (the grid lays its
    sections out as they arrive)."""
    page.goto(web_server.url + "/#/timeline")
    loaded = PHOTO_TILES + " img.loaded"
    page.wait_for_function("s => document.querySelectorAll(s).length >= 2", arg=loaded)
    picked: list[int] = page.evaluate(
        "s => [...document.querySelectorAll(s)].slice(0, 2).map(t => Number(t.dataset.id))",
        PHOTO_TILES,
    )
    assert len(picked) == 2
    return picked


def select_in_grid(page: Any, ids: list[int]) -> None:
    """Selection mode on, these tiles picked."""
    page.click("#sel-toggle")
    page.wait_for_selector("#selbar:not([hidden])")
    for media_id in ids:
        page.click(f".canvas .tile[data-id='{media_id}']")
    page.wait_for_selector(f"#sel-count:text-is('{len(ids)} selected')")


def test_favorite_from_the_viewer_shows_in_favorites(page: Any, web_server: WebServer) -> None:
    first = photo_ids(web_server)[0]
    page.goto(web_server.url + f"/#/viewer/{first}")
    button = page.locator("#viewer-favorite")
    page.wait_for_selector("#viewer-favorite:not([disabled])")
    assert button.get_attribute("aria-pressed") == "false"
    button.click()
    page.wait_for_selector("#viewer-favorite[aria-pressed='true']", timeout=30_000)
    assert "★" in button.inner_text()
    page.keyboard.press("Escape")
    page.click("#mainnav a[data-nav='favorites']")
    page.wait_for_selector(f".view-favorites .canvas .tile[data-id='{first}'] img.loaded")
    assert tile_ids(page, "favorites") == [first]
    # The server agrees, and a reload of the viewer shows the star again.
    listed = web_server.api("GET", "/media", params={"favorite": "true"}).json()["items"]
    assert [i["id"] for i in listed] == [first]
    page.goto(web_server.url + f"/#/viewer/{first}")
    page.reload()
    page.wait_for_selector("#viewer-favorite[aria-pressed='true']", timeout=30_000)
    page.locator("#viewer-favorite").click()
    page.wait_for_selector("#viewer-favorite[aria-pressed='false']")
    assert web_server.api("GET", "/media", params={"favorite": "true"}).json()["items"] == []
    # Archived elsewhere (no listing the viewer could infer it from shows the item): the
    # viewer's button reads the item's own `archived` and takes it back out.
    assert web_server.api("PUT", f"/media/{first}/archive").status_code == 200
    try:
        page.reload()
        page.wait_for_selector("#viewer-archive[aria-pressed='true']", timeout=30_000)
        assert page.locator("#viewer-favorite").get_attribute("aria-pressed") == "false"
        page.locator("#viewer-archive").click()
        page.wait_for_selector("#viewer-archive[aria-pressed='false']")
        assert web_server.api("GET", f"/media/{first}").json()["archived"] is False
    finally:
        web_server.api("DELETE", f"/media/{first}/archive")
    assert not page.errors, page.errors


def test_album_from_a_selection_and_a_password_share_link(
    page_factory: Any, web_server: WebServer
) -> None:
    page = page_factory(token=web_server.token())
    picked = two_photos(page, web_server)
    select_in_grid(page, picked)
    assert "#/viewer" not in page.url  # selecting does not open the viewer
    page.click("#sel-album")
    page.wait_for_selector("#album-dialog")
    page.fill("#album-new-name", "Trip to the lake")
    page.click("#album-dialog button[type=submit]")
    page.wait_for_selector("#toast:has-text('Added to Trip to the lake')")
    assert page.locator("#selbar").is_hidden()

    page.click("#mainnav a[data-nav='albums']")
    card = page.locator(".album-card[data-name='Trip to the lake']")
    card.wait_for()
    assert "2 items" in card.inner_text()
    card.click()
    page.wait_for_selector("#album-title:text-is('Trip to the lake')")
    page.wait_for_selector("#album-items .tile img.loaded")
    shown = page.evaluate(
        "() => [...document.querySelectorAll('#album-items .tile')].map(t => Number(t.dataset.id))"
    )
    assert sorted(shown) == sorted(picked)

    # Rename through the prompt; the title follows.
    page.once("dialog", lambda d: d.accept("Lake 2008"))
    page.click("#album-rename")
    page.wait_for_selector("#album-title:text-is('Lake 2008')")

    # A share link with a password that allows the zip.
    page.click("#album-share")
    page.wait_for_selector("#share-dialog")
    page.fill("#share-password", "grandma1")
    page.check("#share-download")
    page.click("#share-dialog button[type=submit]")
    link = page.locator("#share-link")
    link.wait_for()
    url = link.input_value()
    assert "/#/s/" in url
    page.click("#share-link-dialog button[type=submit]")
    shares = web_server.api("GET", "/shares").json()
    assert len(shares) == 1 and shares[0]["has_password"] and shares[0]["allow_download"]
    assert url.endswith(shares[0]["token"])

    # A fresh browser with no login: password prompt, then the thumbnails and the zip.
    guest = page_factory()
    guest.goto(url)
    guest.wait_for_selector("#share-password-input")
    assert guest.locator("#topbar").is_hidden()
    guest.fill("#share-password-input", "wrong one")
    guest.click("#share-unlock button[type=submit]")
    guest.wait_for_selector("#share-password-error:has-text('Wrong password')")
    guest.fill("#share-password-input", "grandma1")
    guest.click("#share-unlock button[type=submit]")
    guest.wait_for_selector("#share-title:text-is('Lake 2008')")
    guest.wait_for_function(
        "() => { const imgs = [...document.querySelectorAll('#share-items img')];"
        " return imgs.length === 2 && imgs.every(i => i.complete && i.naturalWidth > 0); }"
    )
    href = guest.locator("#share-download").get_attribute("href")
    assert href and href.startswith(f"/s/{shares[0]['token']}/download?key=")
    assert guest.evaluate("() => sessionStorage.getItem('imageserver.token')") is None

    # The owner revokes it on the Share links page; the guest's next load is refused.
    page.goto(web_server.url + "/#/shares")
    page.wait_for_selector(f"#shares-rows tr[data-token='{shares[0]['token']}']")
    page.once("dialog", lambda d: d.accept())
    page.click("#shares-rows button:has-text('Revoke')")
    page.wait_for_selector("#shares-status:has-text('No share links')")
    guest.reload()
    guest.wait_for_selector("#share-title:text-is('Link not available')")
    assert not page.errors and not guest.errors, (page.errors, guest.errors)


def test_archive_hides_from_the_timeline_and_shows_in_archive(
    page: Any, web_server: WebServer
) -> None:
    page.goto(web_server.url + "/#/timeline")
    page.wait_for_selector(".canvas .tile[data-id] img.loaded")
    before = tile_ids(page)
    target = before[0]
    # Shift-click selects without turning selection on first.
    page.click(f".canvas .tile[data-id='{target}']", modifiers=["Shift"])
    page.wait_for_selector("#sel-count:text-is('1 selected')")
    page.click("#sel-archive")
    page.wait_for_selector("#toast:has-text('1 archived')")
    page.wait_for_function(
        f"() => !document.querySelector(\".canvas .tile[data-id='{target}']\")"
        " && document.querySelectorAll('.canvas .tile[data-id]').length > 0"
    )
    page.click("#mainnav a[data-nav='albums']")
    page.click("a[href='#/archive']")
    page.wait_for_selector(f".view-archive .canvas .tile[data-id='{target}']")
    assert tile_ids(page, "archive") == [target]
    # Unarchive from the Archive view: back in the timeline.
    page.click("#sel-toggle")
    page.click(f".canvas .tile[data-id='{target}']")
    page.click("#sel-unarchive")
    page.wait_for_selector("#toast:has-text('back in the timeline')")
    page.wait_for_selector(".view-archive .empty:not([hidden])")
    page.click("#mainnav a[data-nav='timeline']")
    page.wait_for_selector(f".view-timeline .canvas .tile[data-id='{target}']")
    assert not page.errors, page.errors


def test_memories_strip_uses_the_viewers_own_day(page: Any, web_server: WebServer) -> None:
    """The browser's clock says it is the day of a photo, some years later: the strip above
    the timeline shows that photo under "N years ago" and opens it in the viewer; once
    archived, the photo leaves the strip."""
    dated = web_server.api("GET", "/media", params={"kind": "photo", "limit": 100}).json()
    # A photo old enough that "three years later" is still in the past: the page's clock
    # must not run ahead of the server's (its login would look expired).
    this_year = datetime.now().year
    photo = next(i for i in dated["items"] if int(i["taken_at"][:4]) + 3 < this_year)
    year, month, day = (int(x) for x in photo["taken_at"][:10].split("-"))
    later = f"{year + 3}-{month:02d}-{day:02d}"
    expected = web_server.api("GET", "/memories", params={"date": later, "window": 1}).json()
    shown_years = {y["year"] for y in expected["years"] if y["items"]}
    assert year in shown_years
    page.clock.set_fixed_time(f"{later}T12:00:00")
    page.goto(web_server.url + "/#/timeline")
    strip = page.locator("#memories")
    page.wait_for_selector(f"#memories .memory[data-year='{year}'] .tile[data-id='{photo['id']}']")
    assert strip.is_visible()
    assert "3 years ago" in page.locator(f"#memories .memory[data-year='{year}'] h2").inner_text()
    assert {
        int(y)
        for y in page.evaluate(
            "() => [...document.querySelectorAll('#memories .memory')].map(m => m.dataset.year)"
        )
    } == shown_years
    page.click(f"#memories .tile[data-id='{photo['id']}']")
    page.wait_for_selector(f"#viewer-title:text-is('{photo['name']}')")
    # Archived: out of the strip (its year too, when it was the year's only photo), and
    # the strip shows what /memories now says.
    assert web_server.api("PUT", f"/media/{photo['id']}/archive").status_code == 200
    try:
        left = web_server.api("GET", "/memories", params={"date": later, "window": 1}).json()
        left_years = {y["year"] for y in left["years"] if y["items"]}
        page.goto(web_server.url + "/#/timeline")
        page.reload()
        page.wait_for_selector(".view-timeline .canvas .tile[data-id] img.loaded")
        page.wait_for_function(
            "years => { const shown = [...document.querySelectorAll('#memories .memory')]"
            ".map(m => Number(m.dataset.year)).sort();"
            " return JSON.stringify(shown) === JSON.stringify(years); }",
            arg=sorted(left_years),
        )
        assert page.locator(f"#memories .tile[data-id='{photo['id']}']").count() == 0
    finally:
        web_server.api("DELETE", f"/media/{photo['id']}/archive")
    assert not page.errors, page.errors


def test_a_shared_video_plays_on_the_public_page(page_factory: Any, web_server: WebServer) -> None:
    videos = web_server.api("GET", "/media", params={"kind": "video", "limit": 100}).json()
    playable = [
        v
        for v in videos["items"]
        if web_server.api("GET", f"/video/{v['id']}").json().get("playlist_url")
    ]
    assert playable, videos
    video = playable[0]
    link = web_server.api("POST", "/shares", json={"media_ids": [video["id"]]})
    assert link.status_code == 201, link.text
    guest = page_factory(width=390, height=844)  # a phone
    fetched: list[str] = []
    guest.on("request", lambda r: fetched.append(r.url))
    guest.goto(web_server.url + "/#" + link.json()["url"])
    guest.wait_for_selector(f".shared-tile[data-id='{video['id']}']")
    overflow = guest.evaluate("() => document.documentElement.scrollWidth - innerWidth")
    assert overflow <= 0, overflow  # nothing wider than the phone's screen
    guest.click(f".shared-tile[data-id='{video['id']}']")
    guest.wait_for_function(
        "() => { const v = document.querySelector('#share-video');"
        " return v && v.readyState >= 2 && v.videoWidth > 0; }",
        timeout=30_000,
    )
    # Played as HLS through the link's stream token (as in the main viewer), not the file.
    stream = f"/video/stream/{video['content_hash']}/"
    assert any(stream + "playlist.m3u8?token=" in u for u in fetched), fetched
    assert any(stream in u and ".ts?token=" in u for u in fetched), fetched
    assert not any("/original" in u for u in fetched), fetched
    box = guest.locator("#share-video").bounding_box()
    assert box is not None and box["width"] <= 390
    assert guest.locator("#topbar").is_hidden()
    assert not guest.errors, guest.errors
    web_server.api("DELETE", f"/shares/{link.json()['id']}")


def test_a_selection_is_starred_and_shared_from_the_selection_bar(
    page_factory: Any, web_server: WebServer
) -> None:
    """Two photos picked in the grid: Favorite stars both; Share makes one link of exactly
    those two, which a browser with no login opens."""
    page = page_factory(token=web_server.token())
    picked = two_photos(page, web_server)
    page.click(f".canvas .tile[data-id='{picked[0]}']", modifiers=["Shift"])
    page.click(f".canvas .tile[data-id='{picked[1]}']")
    page.wait_for_selector("#sel-count:text-is('2 selected')")
    page.click("#sel-favorite")
    page.wait_for_selector("#toast:has-text('2 marked as favorite')")
    try:
        starred = web_server.api("GET", "/media", params={"favorite": "true"}).json()["items"]
        assert sorted(i["id"] for i in starred) == sorted(picked)
        for media_id in picked:
            page.click(f".canvas .tile[data-id='{media_id}']", modifiers=["Shift"])
        page.wait_for_selector("#sel-count:text-is('2 selected')")
        page.click("#sel-share")
        page.wait_for_selector("#share-dialog")
        page.click("#share-dialog button[type=submit]")
        url = page.locator("#share-link").input_value()
        page.click("#share-link-dialog button[type=submit]")
        links = web_server.api("GET", "/shares").json()
        made = next(x for x in links if url.endswith(x["token"]))
        assert made["album_id"] is None and made["item_count"] == 2
        guest = page_factory()
        guest.goto(url)
        guest.wait_for_selector(f".shared-tile[data-id='{picked[0]}']")
        shown = guest.evaluate(
            "() => [...document.querySelectorAll('.shared-tile')].map(t => Number(t.dataset.id))"
        )
        assert sorted(shown) == sorted(picked)
        web_server.api("DELETE", f"/shares/{made['id']}")
        assert not page.errors and not guest.errors, (page.errors, guest.errors)
    finally:
        web_server.api("POST", "/media/favorite", json={"ids": picked, "value": False})


def test_a_selection_downloads_as_a_zip(page: Any, web_server: WebServer) -> None:
    import io
    import zipfile

    picked = two_photos(page, web_server)
    select_in_grid(page, picked)
    with page.expect_download() as info:
        page.click("#sel-download")
    saved = info.value.path()
    names = {web_server.api("GET", f"/media/{i}").json()["name"] for i in picked}
    with zipfile.ZipFile(io.BytesIO(open(saved, "rb").read())) as archive:
        assert set(archive.namelist()) == names
    assert info.value.suggested_filename == "imageserver-2-items.zip"
    assert not page.errors, page.errors


def test_the_default_map_falls_back_to_outlines_when_tiles_cannot_load(
    page: Any, web_server: WebServer
) -> None:
    """This server keeps the default tile URL (OpenStreetMap); with no internet (every tile
    request fails, as on an offline machine) the map switches to the server's outlines and
    its markers still work."""
    config = web_server.api("GET", "/map/config").json()
    assert "tile.openstreetmap.org" in str(config)
    refused: list[str] = []

    def offline(route: Any) -> None:
        refused.append(route.request.url)
        route.abort("namenotresolved")

    page.route("**/tile.openstreetmap.org/**", offline)
    page.goto(web_server.url + "/#/map")
    page.wait_for_selector("#map[data-base='outlines']", timeout=20_000)
    assert refused, "the map never asked for a tile"
    assert page.evaluate("() => document.querySelectorAll('#map path').length") > 50
    page.wait_for_selector(".map-marker img.loaded")
    assert not page.errors, page.errors


def test_edit_title_and_rating_in_the_viewer_and_tags_of_a_selection(
    page: Any, web_server: WebServer
) -> None:
    """The viewer's Edit dialog saves to the server (a reload shows it); the selection
    bar's Edit sets the tags of two items at once; undo walks the viewer's edit back."""
    first = photo_ids(web_server)[0]
    page.goto(web_server.url + f"/#/viewer/{first}")
    page.click("#viewer-edit")
    page.wait_for_selector("#edit-dialog")
    page.fill("#edit-title", "Lake at dawn")
    page.select_option("#edit-rating", "4")
    page.click("#edit-dialog button[type=submit]")
    page.wait_for_selector("#viewer-caption:text-is('Lake at dawn')")
    page.reload()
    page.wait_for_selector("#viewer-caption:text-is('Lake at dawn')")
    assert page.locator("#viewer-rating").inner_text() == "★★★★☆"
    got = web_server.api("GET", f"/media/{first}").json()["curation"]
    assert (got["title"], got["rating"], got["sources"]["title"]) == ("Lake at dawn", 4, "edit")
    assert "edit" not in (got["sources"].get("taken_at"), got["sources"].get("gps"))  # untouched

    page.click("#viewer-undo")
    page.wait_for_selector("#toast:has-text('Undone.')")
    page.wait_for_function("() => !document.querySelector('#viewer-caption')")
    assert web_server.api("GET", f"/media/{first}").json()["curation"]["rating"] is None
    page.keyboard.press("Escape")

    picked = two_photos(page, web_server)
    select_in_grid(page, picked)
    page.click("#sel-edit")
    page.wait_for_selector("#edit-dialog")
    page.fill("#edit-tags", "Family/Lake, dawn")
    page.click("#edit-dialog button[type=submit]")
    page.wait_for_selector("#toast:has-text('2 items changed')")
    tagged = web_server.api("GET", "/media", params={"tag": "Family"}).json()["items"]
    assert sorted(i["id"] for i in tagged) == sorted(picked)

    # The tag browser: Family -> Lake shows exactly the two tagged items in its grid.
    page.goto(web_server.url + "/#/tags")
    page.click("#tags-list a[data-tag='Family']")
    page.click("#tags-list a[data-tag='Family/Lake']")
    page.wait_for_selector("#tags-crumbs:has-text('Family › Lake')")
    tiles = ".canvas .tile[data-kind='photo'] img.loaded"
    page.wait_for_function("s => document.querySelectorAll(s).length === 2", arg=tiles)
    shown = page.evaluate(
        "() => [...document.querySelectorAll('.canvas .tile')].map(t => Number(t.dataset.id))"
    )
    assert sorted(shown) == sorted(picked)
    assert page.locator("#tags-list li").count() == 0  # a leaf has no tags below it
    for media_id in picked:  # leave the module's world as it was
        undone = web_server.api("POST", f"/media/{media_id}/edits/undo")
        assert undone.status_code == 200, undone.text
    assert not page.errors, page.errors


def test_a_place_typed_by_name_sets_the_location(page: Any, web_server: WebServer) -> None:
    """The edit dialog's "Find a place": a few letters offer towns, choosing one fills the
    coordinates and moves the dialog's map there; a click on the map sets the place, and
    saving stores it as the item's edited location."""
    media_id = photo_ids(web_server)[1]
    page.goto(web_server.url + f"/#/viewer/{media_id}")
    page.click("#viewer-edit")
    page.wait_for_selector("#edit-dialog")
    page.fill("#edit-place", "lisb")
    page.click("#edit-place-offers button:text-is('Lisbon, Lisboa, Portugal')")
    assert page.input_value("#edit-place") == "Lisbon, Lisboa, Portugal"
    assert abs(float(page.input_value("#edit-lat")) - 38.7167) < 0.01
    assert abs(float(page.input_value("#edit-lon")) + 9.1333) < 0.01
    # the map went to Lisbon; a click on it, right of its centre, moves the place east
    page.wait_for_selector("#edit-map[data-ready='1'] path.leaflet-interactive")
    box = page.locator("#edit-map").bounding_box()
    assert box is not None
    page.mouse.click(box["x"] + box["width"] / 2 + 60, box["y"] + box["height"] / 2)
    page.wait_for_function("() => Number(document.querySelector('#edit-lon').value) > -9.12")
    lat, lon = float(page.input_value("#edit-lat")), float(page.input_value("#edit-lon"))
    assert abs(lat - 38.7167) < 0.05 and -9.12 < lon < -8.0, (lat, lon)
    page.click("#edit-dialog button[type=submit]")
    page.wait_for_selector("#toast:has-text('Saved.')")
    got = web_server.api("GET", f"/media/{media_id}").json()
    assert got["curation"]["sources"]["gps"] == "edit"
    assert got["gps"]["latitude"] == pytest.approx(lat, abs=1e-6), got["gps"]
    assert got["gps"]["longitude"] == pytest.approx(lon, abs=1e-6), got["gps"]
    undone = web_server.api("POST", f"/media/{media_id}/edits/undo")  # leave the world as it was
    assert undone.status_code == 200, undone.text
    assert not page.errors, page.errors
