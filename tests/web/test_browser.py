"""The web page in a real headless Chromium against a real server (corpus library).

One server and one browser for the module; each test opens its own page. Covers: log in,
log out, an expired session; the grid's thumbnails really loaded; the viewer with the
keyboard and its metadata; a corpus video through hls.js; semantic search and similar
photos; disabling a library in the admin page; people, duplicates, dashboard; phone width;
page weight of the first load.
"""

from __future__ import annotations

import itertools
import shutil
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import httpx
import pytest

from imageserver.auth import tokens
from tests.fixtures import make_jpeg
from tests.web.conftest import save_shot, wait_until
from tests.web.harness import ADMIN_PASSWORD, JWT_SECRET, WebServer

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.corpus]

LOADED_THUMBS = """() => [...document.querySelectorAll('.canvas .tile img')]
    .filter(img => img.complete && img.naturalWidth > 0).map(img => img.alt)"""


def media_ids(server: WebServer) -> dict[str, dict[str, Any]]:
    """Every item by name: the timeline's and the "Could not read" view's."""
    items = server.api("GET", "/media", params={"limit": 1000}).json()["items"]
    broken = server.api("GET", "/media", params={"limit": 1000, "unreadable": True}).json()
    return {item["name"]: item for item in [*items, *broken["items"]]}


def library_id(server: WebServer, name: str) -> int:
    return next(lib["id"] for lib in server.api("GET", "/libraries").json() if lib["name"] == name)


def grid_names(page: Any) -> list[str]:
    names: list[str] = page.evaluate(LOADED_THUMBS)
    return [alt.split(",")[0] for alt in names]


def scroll_collect(page: Any, expected: set[str], timeout: float = 20) -> set[str]:
    """Scroll the windowed grid top to bottom; names of every thumbnail seen loaded."""
    seen: set[str] = set()
    deadline = time.monotonic() + timeout
    page.wait_for_selector(".canvas .tile img.loaded")
    page.evaluate("() => { document.querySelector('.scroller').scrollTop = 0 }")
    while time.monotonic() < deadline:
        seen |= set(grid_names(page))
        if seen >= expected:
            break
        at_end = page.evaluate(
            """() => { const s = document.querySelector('.scroller');
                       const end = s.scrollTop + s.clientHeight >= s.scrollHeight - 2;
                       s.scrollTop += s.clientHeight / 2; return end }"""
        )
        time.sleep(0.15)
        if at_end:
            page.evaluate("() => { document.querySelector('.scroller').scrollTop = 0 }")
    return seen


def test_login_grid_logout_and_expired_session(page_factory: Any, web_server: WebServer) -> None:
    page = page_factory()
    page.goto(web_server.url + "/")
    page.wait_for_selector("#username-input")
    page.fill("#username-input", "admin")
    page.fill("#password-input", "wrong password")
    page.click("button[type=submit]")
    page.wait_for_selector("#login-error:has-text('Wrong user name or password')")
    page.fill("#password-input", ADMIN_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/#/timeline")

    # The grid shows the corpus thumbnails: images actually decoded, alt = name + date.
    expected = {n for n, item in media_ids(web_server).items() if not n.endswith(".webm")}
    seen = scroll_collect(page, expected)
    assert seen >= expected, f"thumbnails never loaded: {expected - seen}"
    # Windowed: the DOM holds the tiles near the viewport, not one per item.
    assert page.locator(".canvas .tile").count() < len(expected) + 2
    alts = page.evaluate(
        "() => [...document.querySelectorAll('.canvas .tile img')].map(i => i.alt)"
    )
    assert all("," in alt and len(alt) > 8 for alt in alts), alts
    assert page.locator(".month").first.inner_text().strip()  # month headers from /timeline
    assert page.evaluate("() => sessionStorage.getItem('imageserver.token')")
    # The unsupported video is not on the timeline: it waits in "Could not read", where its
    # tile says so instead of showing a broken image.
    timeline = web_server.api("GET", "/media", params={"limit": 1000}).json()["items"]
    assert "invalid-bitstream.webm" not in {item["name"] for item in timeline}
    page.goto(web_server.url + "/#/unreadable")
    page.wait_for_selector(".tile:has(img[alt^='invalid-bitstream']) .ph")

    page.click("#logout")
    page.wait_for_selector("#login-notice:has-text('logged out')")
    assert page.evaluate("() => sessionStorage.getItem('imageserver.token')") is None

    # A token that expired: the first API call gets a 401 -> back to login with a message.
    expired = tokens.issue(JWT_SECRET, "1", time.time() - 7200, 60)
    page.evaluate(f"() => sessionStorage.setItem('imageserver.token', '{expired}')")
    page.goto(web_server.url + "/#/dashboard")
    page.wait_for_selector("#login-notice:has-text('session has expired')")
    assert "next=" in page.url and "dashboard" in page.url
    assert not page.errors, page.errors


def test_viewer_keyboard_metadata_and_download(page: Any, web_server: WebServer) -> None:
    items = media_ids(web_server)
    page.goto(web_server.url + "/#/timeline")
    page.wait_for_selector(".canvas .tile img.loaded")
    # The grid by keyboard: Tab into it, arrows move the focus, Enter opens.
    page.focus(".scroller")
    start = page.evaluate("() => document.activeElement.dataset.key")
    assert start == "0:0"
    page.keyboard.press("ArrowRight")
    assert page.evaluate("() => document.activeElement.dataset.key") == "0:1"
    page.keyboard.press("ArrowLeft")
    first = page.locator(".canvas .tile[data-kind=photo]").first
    first_id = first.get_attribute("data-id")
    first.focus()
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/#/viewer/{first_id}")
    page.wait_for_function(
        """() => { const i = document.querySelector('#viewer-image');
                   return i && i.complete && i.naturalWidth > 0 }"""
    )
    title = page.inner_text("#viewer-title")
    assert page.locator("#viewer-path").inner_text().endswith(items[title]["path"])

    page.keyboard.press("ArrowRight")
    page.wait_for_function(f"() => !location.hash.endsWith('/{first_id}')")
    second_id = page.evaluate("() => location.hash.split('/').pop()")
    page.wait_for_function(
        f"() => document.querySelector('#viewer-title').textContent !== {title!r}"
    )
    page.keyboard.press("ArrowLeft")
    page.wait_for_url(f"**/#/viewer/{first_id}")
    assert second_id != first_id
    page.keyboard.press("Escape")
    page.wait_for_url("**/#/timeline")
    page.wait_for_selector(".viewer", state="detached")
    # Focus comes back to the tile that was open (a link with a visible focus ring).
    page.wait_for_function(f"() => document.activeElement.dataset.id === '{first_id}'")

    # A deep link to a GPS photo: coordinates, camera and the original to download.
    gps = items["DSCN0010.jpg"]
    page.goto(f"{web_server.url}/#/viewer/{gps['id']}")
    page.wait_for_selector("#viewer-gps")
    assert page.inner_text("#viewer-gps").startswith("43.46")
    assert "NIKON" in page.inner_text(".viewer .info").upper()
    with page.expect_download() as download:
        page.click("#viewer-download")
    assert download.value.suggested_filename == "DSCN0010.jpg"
    assert not page.errors, page.errors


def test_a_video_with_a_ladder_offers_its_qualities(page: Any, web_server: WebServer) -> None:
    """The 360p clip with its 240p rung: the viewer's quality menu lists Auto and both,
    Auto names the level it plays, and choosing 240p plays the 240p rendition."""
    clip = media_ids(web_server)["short_hamilton_clip.mp4"]
    page.goto(f"{web_server.url}/#/viewer/{clip['id']}")
    page.wait_for_selector("#viewer-quality", timeout=20_000)
    labels = page.eval_on_selector_all("#viewer-quality option", "els => els.map(e => e.value)")
    texts = page.eval_on_selector_all("#viewer-quality option", "els => els.map(e => e.text)")
    assert labels[0] == "-1" and texts[1:] == ["360p", "240p"], texts
    auto = "() => document.querySelector('#viewer-quality option').text"
    page.wait_for_function(f"() => /^Auto \\((240|360)p\\)$/.test(({auto})())", timeout=20_000)
    page.select_option("#viewer-quality", label="240p")
    page.wait_for_function(
        """() => { const v = document.querySelector('#viewer-video');
                   return v.dataset.level === '240' && v.videoHeight === 240 }""",
        timeout=20_000,
    )
    assert page.locator("#viewer-quality option").first.inner_text() == "Auto"
    assert not page.errors, page.errors


def test_video_plays_through_hls_js_loaded_on_demand(page: Any, web_server: WebServer) -> None:
    requested: list[str] = []
    page.on("request", lambda r: requested.append(r.url))
    page.goto(web_server.url + "/#/timeline")
    tile = page.locator(".canvas .tile:has(img[alt^='short_hamilton_clip'])")
    tile.wait_for()
    page.wait_for_selector(".canvas .tile img.loaded")
    assert not any("hls.light" in url for url in requested), "hls.js loaded before any video"

    # Hovering the tile plays its muted preview clip in place.
    tile.hover()
    page.wait_for_function(
        """() => { const v = document.querySelector('.tile video.preview');
                   return v && v.muted && v.readyState >= 2 }"""
    )
    tile.click()
    page.wait_for_function(
        """() => { const v = document.querySelector('#viewer-video');
                   return v && v.currentTime > 1.0 }""",
        timeout=20_000,
    )
    state = page.evaluate(
        """() => { const v = document.querySelector('#viewer-video');
                   return {error: v.error && v.error.code, engine: v.dataset.engine,
                           poster: v.poster.startsWith('blob:'),
                           state: document.querySelector('.viewer .stage').dataset.videoState} }"""
    )
    assert state == {"error": None, "engine": "hls.js", "poster": True, "state": "ready"}
    assert any("hls.light.min.mjs" in url for url in requested)
    assert any("/video/stream/" in url and "token=" in url for url in requested)

    # Where the browser has HLS of its own (this Chromium does), it can play natively too.
    clip = media_ids(web_server)["short_hamilton_clip.mp4"]
    page.evaluate("() => sessionStorage.setItem('imageserver.player', 'native')")
    page.goto(f"{web_server.url}/#/timeline")
    page.goto(f"{web_server.url}/#/viewer/{clip['id']}")
    page.wait_for_function(
        """() => { const v = document.querySelector('#viewer-video');
                   return v && v.dataset.engine === 'native' && !v.error
                          && v.currentTime > 1.0 }""",
        timeout=20_000,
    )
    page.evaluate("() => sessionStorage.removeItem('imageserver.player')")

    # Its stream gone from disk: opening it asks for it at once (no click) and plays it.
    digest = clip["content_hash"]
    shutil.rmtree(web_server.data_dir / "video" / digest[:2] / digest)
    asked: list[str] = []
    page.on("request", lambda r: asked.append(r.method + " " + r.url))
    page.goto(f"{web_server.url}/#/timeline")
    page.goto(f"{web_server.url}/#/viewer/{clip['id']}")
    page.wait_for_function(
        """() => { const v = document.querySelector('#viewer-video');
                   return v && !v.error && v.currentTime > 0.5 }""",
        timeout=30_000,
    )
    assert sum(a.startswith("POST ") and a.endswith("/video/generate") for a in asked) == 1

    # A video ffmpeg cannot read: the reason, and the original instead.
    broken = media_ids(web_server)["invalid-bitstream.webm"]
    page.goto(f"{web_server.url}/#/viewer/{broken['id']}")
    page.wait_for_selector(
        '.stage[data-video-state=unsupported] .state:has-text("can\'t be played")'
    )
    assert not page.errors, page.errors


def test_search_and_similar_photos(page: Any, web_server: WebServer) -> None:
    page.goto(web_server.url + "/#/search")
    page.fill("#search-input", "red car on the beach")
    page.fill("#search-min", "-1")  # the tiny test model scores low: show every hit
    page.press("#search-input", "Enter")
    page.wait_for_selector("#search-results .tile img.loaded")
    scores = page.locator("#search-results .tile .score").all_inner_texts()
    assert len(scores) >= 10
    values = [float(s) for s in scores]
    assert values == sorted(values, reverse=True)
    assert "matching" in page.inner_text("#search-status")
    assert "q=red" in page.url

    # From a result into the viewer, then "Similar" lists photos that look like it.
    page.locator("#search-results .tile").first.click()
    page.wait_for_selector("#viewer-image")
    page.click("button:has-text('Similar')")
    page.wait_for_url("**/#/search?similar=*")
    page.wait_for_selector("#search-status:has-text('similar to that one')")
    assert page.locator("#search-results .tile").count() >= 1
    assert not page.errors, page.errors


def test_one_search_chips_why_it_matched_and_syntax_errors(
    page: Any, web_server: WebServer
) -> None:
    """The search box speaks GET /search: the query's clauses become chips (× removes one),
    quick filters add one, every tile says why it matched, a syntax error points at its
    character, and free text is ranked by the model with each hit's reasons."""
    page.goto(web_server.url + "/#/search?q=" + quote("type:photo has:gps"))
    page.wait_for_selector("#search-results .tile img.loaded")
    chips = page.locator("#search-chips .chip").all_inner_texts()
    assert [c.rstrip("×").strip() for c in chips] == ["type:photo", "has:gps"]
    whys = page.locator("#search-results .tile .why").all_inner_texts()
    assert whys and all(w == "type:photo · has:gps" for w in whys), whys
    assert "newest first" in page.inner_text("#search-status")
    with_gps = len(whys)

    page.click("#search-chips .chip[data-clause='has:gps'] .chip-x")
    page.wait_for_url("**/#/search?q=type%3Aphoto*")
    page.wait_for_function(
        "n => document.querySelectorAll('#search-results .tile').length > n", arg=with_gps
    )
    assert page.locator("#search-chips .chip").count() == 1

    page.click("#search-quick .chip[data-clause='has:gps']")
    page.wait_for_selector("#search-chips .chip[data-clause='has:gps']")
    page.wait_for_function(
        "n => document.querySelectorAll('#search-results .tile').length === n", arg=with_gps
    )

    page.fill("#search-input", "red type:pic")
    page.press("#search-input", "Enter")
    page.wait_for_selector("#search-status:has-text('character 10')")
    assert "photo or video" in page.inner_text("#search-status")
    assert page.eval_on_selector("#search-input", "e => e.classList.contains('invalid')")
    assert page.eval_on_selector("#search-input", "e => e.selectionStart") == 9

    # autocomplete: the clause being typed becomes a camera of the collection
    page.fill("#search-input", "type:photo camera:nik")
    offer = page.locator("#search-suggest button").first
    offer.wait_for()
    assert offer.get_attribute("data-clause") == 'camera:"NIKON D70"'
    offer.click()
    assert page.input_value("#search-input") == 'type:photo camera:"NIKON D70" '
    page.press("#search-input", "Enter")
    page.wait_for_selector("#search-chips .chip[data-clause='camera:\"NIKON D70\"']")
    page.wait_for_selector("#search-results .tile img[alt^='Nikon_D70']")
    assert page.locator("#search-results .tile").count() == 1

    page.goto(web_server.url + "/#/search?min=-1&q=" + quote("red car -type:video"))
    page.wait_for_selector("#search-status:has-text('best match first')")
    page.wait_for_selector("#search-results .tile img.loaded")
    first = page.locator("#search-results .tile .why").first.inner_text()
    assert first == "red (clip) · car (clip) · -type:video", first
    assert not page.errors, page.errors


def test_disabling_a_library_removes_its_items_on_the_next_tick(
    page: Any, web_server: WebServer
) -> None:
    archive = library_id(web_server, "archive")
    archived = {"Kodak_CX7530.jpg", "Fujifilm_FinePix_E500.jpg", "BlueSquare.jpg"}
    page.goto(web_server.url + "/#/timeline")
    assert scroll_collect(page, archived) >= archived
    before = page.inner_text(".filters .count")

    page.click("#mainnav a[data-nav=libraries]")
    card = page.locator(f".lib[data-id='{archive}']")
    card.wait_for()
    assert "reachable" in card.inner_text()
    card.locator(".enabled-toggle").uncheck()
    page.wait_for_selector("#toast:has-text('archive disabled')")
    page.click("#mainnav a[data-nav=timeline]")
    page.wait_for_selector(".canvas .tile img.loaded")
    assert wait_until(lambda: page.inner_text(".filters .count") != before)
    assert not scroll_collect(page, {"everything"}, timeout=3) & archived

    # Enabled again elsewhere (the API): the open grid picks it up on its next tick.
    response = web_server.api("PATCH", f"/libraries/{archive}", json={"enabled": True})
    assert response.status_code == 200
    assert wait_until(lambda: page.inner_text(".filters .count") == before, timeout=10)
    assert scroll_collect(page, archived) >= archived

    # The admin page shows it too without a reload.
    page.click("#mainnav a[data-nav=libraries]")
    toggle = page.locator(f".lib[data-id='{archive}'] .enabled-toggle")
    toggle.wait_for()
    assert toggle.is_checked()
    assert not page.errors, page.errors


def test_add_edit_stale_and_remove_a_library(
    page: Any, web_server: WebServer, tmp_path: Path
) -> None:
    root = tmp_path / "holiday"
    make_jpeg(root / "beach.jpg", size=(320, 240), color=(20, 120, 200))
    page.goto(web_server.url + "/#/libraries")
    page.wait_for_selector(".lib")
    page.fill("#add-name", "holiday")
    page.fill("#add-path", str(root))
    page.fill("#add-excluded", "@eaDir")
    page.click("#add-library button[type=submit]")
    card = page.locator(".lib:has(h2:text-is('holiday'))")
    card.wait_for()
    # Indexed by the running watcher; the card updates on the page's own tick.
    page.wait_for_function(
        """() => [...document.querySelectorAll('.lib')].some(c =>
             c.querySelector('h2').textContent === 'holiday' &&
             c.textContent.includes('1 (1 photos') && c.textContent.includes('reachable'))""",
        timeout=20_000,
    )
    assert card.locator("textarea.excluded").input_value() == "@eaDir"
    card.locator("textarea.excluded").fill("@eaDir\nprivate")
    card.locator("button:has-text('Save')").click()
    page.wait_for_selector("#toast:has-text('Saved')")
    holiday = library_id(web_server, "holiday")
    excluded = web_server.api("GET", f"/libraries/{holiday}").json()["excluded_dirs"]
    assert excluded == ["@eaDir", "private"]

    # The disk goes away: stale, with the reason, without a reload.
    shutil.rmtree(root)
    page.wait_for_selector(".lib:has(h2:text-is('holiday')) .badge.bad", timeout=60_000)
    assert "missing" in card.inner_text()

    page.once("dialog", lambda dialog: dialog.accept())
    card.locator("button:has-text('Remove library')").click()
    card.wait_for(state="detached")
    names = [lib["name"] for lib in web_server.api("GET", "/libraries").json()]
    assert "holiday" not in names
    assert not page.errors, page.errors


def test_people_duplicates_dashboard_and_filters(page: Any, web_server: WebServer) -> None:
    # People: face crops, rename, a person's photos.
    page.goto(web_server.url + "/#/people")
    page.wait_for_function(
        "() => [...document.querySelectorAll('.person img')].some(i => i.naturalWidth > 0)"
    )
    page.locator(".person a.face").first.click()
    page.wait_for_selector("#person-name")
    page.fill("#person-name", "Barack")
    page.click("button:has-text('Save name')")
    page.wait_for_selector("#person-title:has-text('Barack')", timeout=30_000)
    page.wait_for_selector(".canvas .tile img.loaded")
    page.click("a:has-text('All people')")
    page.wait_for_selector(".person .name:has-text('Barack')")

    # Duplicates: the copy in the other library, both paths listed.
    page.click("#mainnav a[data-nav=duplicates]")
    group = page.locator("#duplicate-groups .dup").first
    group.wait_for()
    text = group.inner_text()
    assert "family: trips/DSCN0010.jpg" in text and "archive: copies/DSCN0010-copy.jpg" in text

    # Dashboard: one row per library, every backlog drained.
    page.click("#mainnav a[data-nav=dashboard]")
    page.wait_for_selector("#backlogs tr[data-library=family]")
    for drain in ("hash", "metadata", "thumbs", "hls", "clip", "faces"):
        cell = page.locator(f"#backlogs tr[data-library=family] td[data-drain={drain}]")
        assert cell.get_attribute("data-pending") == "0", drain
    assert "1 unsupported" in page.inner_text(
        "#backlogs tr[data-library=family] td[data-drain=hls]"
    )

    # Filters: videos only, then folder browsing inside a library.
    page.goto(web_server.url + "/#/timeline?kind=video")
    page.wait_for_selector(".canvas .tile")
    # The one playable video: the unreadable one waits in its own view.
    assert wait_until(lambda: page.inner_text(".filters .count") == "1 item")
    family = library_id(web_server, "family")
    page.goto(f"{web_server.url}/#/timeline?library={family}")
    page.click("button:has-text('Folders')")
    page.click("#folders button:has-text('trips')")
    page.wait_for_url("**folder=trips*")
    assert wait_until(lambda: page.inner_text(".filters .count") == "2 items")
    assert page.locator(".crumbs").is_visible()
    assert not page.errors, page.errors


def test_phone_width_and_screenshots(page_factory: Any, web_server: WebServer) -> None:
    token = web_server.token()
    items = media_ids(web_server)
    pages = [  # name, route, what shows it is ready
        ("timeline", "#/timeline", ".canvas .tile img.loaded"),
        ("viewer", f"#/viewer/{items['DSCN0021.jpg']['id']}", "#viewer-gps"),
        ("search", "#/search?q=red%20car&min=-1", "#search-results .tile img.loaded"),
        ("people", "#/people", ".person img.loaded"),
        ("libraries", "#/libraries", ".lib .badge.ok"),
        ("dashboard", "#/dashboard", "#backlogs tr[data-library]"),
    ]
    for label, (width, height) in {"desktop": (1280, 800), "phone": (375, 740)}.items():
        page = page_factory(width, height, token)
        for name, hash_, ready in pages:
            page.goto(f"{web_server.url}/{hash_}")
            page.wait_for_selector(ready)
            page.wait_for_timeout(300)  # let the images paint
            overflow = page.evaluate("() => document.documentElement.scrollWidth - innerWidth")
            assert overflow <= 0, f"{name} at {width}px scrolls sideways by {overflow}px"
            save_shot(page, f"{label}-{name}")
        if label == "phone":
            page.goto(f"{web_server.url}/#/timeline")
            assert page.locator("#mainnav").is_hidden()
            page.click("#menu-toggle")
            page.click("#mainnav a[data-nav=people]")
            page.wait_for_url("**/#/people")
        assert not page.errors, page.errors


def test_first_load_weight(page_factory: Any, web_server: WebServer) -> None:
    page = page_factory(token=web_server.token())
    page.goto(web_server.url + "/#/timeline")
    page.wait_for_selector(".canvas .tile img.loaded")
    page.wait_for_timeout(500)
    entries = page.evaluate(
        """() => performance.getEntriesByType('resource')
            .filter(e => /\\.(m?js|css)$/.test(new URL(e.name).pathname))
            .map(e => ({url: e.name, size: e.encodedBodySize}))"""
    )
    total = sum(e["size"] for e in entries)
    assert total <= 500_000, total
    assert not any("hls" in e["url"] for e in entries)


def test_merge_people(page: Any, web_server: WebServer) -> None:
    """Last: it leaves one person where there were two."""
    page.goto(web_server.url + "/#/people")
    page.wait_for_selector(".person")
    assert page.locator(".person").count() == 2
    for box in page.locator(".person .pick input").all():
        box.check()
    page.wait_for_selector("#merge-bar:has-text('Merge 2 people')")
    page.click("#merge-button")
    page.wait_for_selector("#toast:has-text('Merged 2 people')")
    assert wait_until(lambda: page.locator(".person").count() == 1)
    assert web_server.api("GET", "/people").json()["total"] == 1
    assert not page.errors, page.errors


def ui_login(page: Any, url: str, username: str, password: str) -> None:
    page.goto(url + "/#/login")
    page.fill("#username-input", username)
    page.fill("#password-input", password)
    page.click("button[type=submit]")
    page.wait_for_url("**/#/timeline")


def test_admin_manages_users_and_a_member_sees_no_admin_controls(
    page_factory: Any, web_server: WebServer
) -> None:
    admin = page_factory(token=web_server.token())
    admin.goto(web_server.url + "/#/users")
    admin.wait_for_selector("#users-rows tr[data-username='admin']")
    assert admin.locator("#mainnav a[data-nav='users']").is_visible()
    admin.fill("#new-username", "kid")
    admin.fill("#new-password", "kid password 1")
    admin.click("#add-user button[type=submit]")
    # The new row, or the form's error saying why not (a failure names its cause).
    admin.wait_for_selector(
        "#users-rows tr[data-username='kid'], #add-user-error:not(:empty)", timeout=60_000
    )
    assert admin.locator("#add-user-error").text_content() == ""
    row = admin.locator("#users-rows tr[data-username='kid']")
    assert row.locator(".role-select").input_value() == "member"
    # Disable and enable again; reset the password (the prompt answers).
    row.locator("button[data-action=toggle]").click()
    admin.wait_for_selector("#users-rows tr[data-username='kid'] td.state:text-is('disabled')")
    row.locator("button[data-action=toggle]").click()
    admin.wait_for_selector("#users-rows tr[data-username='kid'] td.state:text-is('active')")
    admin.once("dialog", lambda dialog: dialog.accept("kid password 2"))
    row.locator("button[data-action=reset]").click()
    admin.wait_for_selector("#toast:has-text('Password of kid reset')")

    # The admin grants the kid the first library (a member sees only granted ones).
    kid_id = next(u["id"] for u in web_server.api("GET", "/users").json() if u["username"] == "kid")
    library_id = web_server.api("GET", "/libraries").json()[0]["id"]
    granted = web_server.api("PUT", f"/libraries/{library_id}/members/{kid_id}")
    assert granted.status_code in (200, 204), granted.text

    member = page_factory()
    ui_login(member, web_server.url, "kid", "kid password 2")
    member.wait_for_selector("#username:text-is('kid')")
    assert not member.locator("#mainnav a[data-nav='users']").is_visible()
    member.goto(web_server.url + "/#/libraries")
    member.wait_for_selector(".lib")
    assert not member.locator("#add-library").is_visible()
    assert not member.locator(".lib button:has-text('Remove library')").first.is_visible()
    assert not member.locator(".lib .enabled-toggle").first.is_visible()
    member.goto(web_server.url + "/#/users")
    member.wait_for_selector("#users-status:has-text('Only admins')")
    assert member.locator("#users-rows tr").count() == 0

    # Promoted by the admin: the member's next page load shows the admin controls.
    admin.locator("#users-rows tr[data-username='kid'] .role-select").select_option("admin")
    admin.wait_for_selector("#toast:has-text('kid is now admin')")
    member.reload()
    member.wait_for_selector("#mainnav a[data-nav='users']", state="visible")
    admin.locator("#users-rows tr[data-username='kid'] .role-select").select_option("member")
    admin.wait_for_selector("#toast:has-text('kid is now member')")
    admin.once("dialog", lambda dialog: dialog.accept())
    admin.locator("#users-rows tr[data-username='kid'] button[data-action=delete]").click()
    admin.wait_for_selector("#users-rows tr[data-username='kid']", state="detached")
    assert "kid" not in [u["username"] for u in web_server.api("GET", "/users").json()]
    assert not admin.errors and not member.errors, (admin.errors, member.errors)


def test_my_account_password_sessions_and_api_keys(
    page_factory: Any, web_server: WebServer
) -> None:
    created = web_server.api(
        "POST", "/users", json={"username": "teen", "password": "teen password 1"}
    )
    assert created.status_code == 201, created.text
    elsewhere = httpx.post(
        f"{web_server.url}/auth/login", json={"username": "teen", "password": "teen password 1"}
    ).json()["access_token"]
    page = page_factory()
    ui_login(page, web_server.url, "teen", "teen password 1")
    page.click("#username")
    page.wait_for_url("**/#/account")
    page.wait_for_selector("#account-who:has-text('teen · member')")
    page.wait_for_selector("#session-list li[data-current='false']")
    assert page.locator("#session-list li").count() == 2

    # A read-only API key: shown once, works for reading, refused for writing, revocable.
    page.fill("#key-name", "photo frame")
    page.check("#key-read-only")
    page.click("#key-form button[type=submit]")
    secret = page.locator("#new-key-secret").inner_text().strip()
    assert secret.startswith("isk_")
    page.wait_for_selector("#key-list li[data-name='photo frame']:has-text('read-only')")
    key = {"x-api-key": secret}
    assert httpx.get(f"{web_server.url}/libraries", headers=key).status_code == 200
    assert httpx.post(f"{web_server.url}/video/generate", headers=key, json={}).status_code == 403
    page.reload()
    page.wait_for_selector("#key-list li[data-name='photo frame']")
    assert secret not in page.content()  # shown once only
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#key-list li[data-name='photo frame'] button:has-text('Revoke')")
    page.wait_for_selector("#key-list li[data-name='photo frame']", state="detached")
    assert httpx.get(f"{web_server.url}/libraries", headers=key).status_code == 401

    # Log the other session out from here; it stops at once.
    other = {"Authorization": f"Bearer {elsewhere}"}
    assert httpx.get(f"{web_server.url}/libraries", headers=other).status_code == 200
    page.click("#session-list li[data-current='false'] button:has-text('Log out')")
    page.wait_for_selector("#session-list li[data-current='false']", state="detached")
    assert httpx.get(f"{web_server.url}/libraries", headers=other).status_code == 401

    # Change the password: a wrong current one is refused, then it works.
    page.fill("#current-password", "not my password")
    page.fill("#new-password", "teen password 2")
    page.click("#password-form button[type=submit]")
    page.wait_for_selector("#password-error:has-text('current password is wrong')")
    page.fill("#current-password", "teen password 1")
    page.click("#password-form button[type=submit]")
    page.wait_for_selector("#toast:has-text('Password changed')")

    # Everywhere: this page is back at the login with the reason.
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#logout-everywhere")
    page.wait_for_selector("#login-notice:has-text('logged out everywhere')")
    ui_login(page, web_server.url, "teen", "teen password 2")
    assert not page.errors, page.errors


SCRUBBER_LABELS = """async () => {
  const { VirtualGrid } = await import('/static/js/grid.js');
  const scrubber = document.createElement('div');
  scrubber.style.height = '600px';
  document.body.append(scrubber);
  // Twenty-five recent years evenly spread, then four old ones squeezed into the last
  // pixels of the canvas (a few photos each), as in a family archive of scans.
  const sections = [];
  for (let i = 0; i <= 24; i++) sections.push({ key: `${2024 - i}-06`, top: i * 400 });
  const old = ['1999-05', '1970-01', '1969-12', '1919-03'];
  old.forEach((key, i) => sections.push({ key, top: 9990 + i }));
  const fake = {
    scrubber, thumbLine: document.createElement('div'), hoverLabel: document.createElement('div'),
    model: { sections }, scrollRange: () => 10000, updateThumbLine() {},
  };
  VirtualGrid.prototype.drawScrubber.call(fake);
  const labels = [...scrubber.querySelectorAll('.year')]
    .map((el) => [el.textContent, parseFloat(el.style.top)]);
  scrubber.remove();
  return labels;
}"""


def test_scrubber_labels_the_oldest_year(page: Any, web_server: WebServer) -> None:
    page.goto(web_server.url + "/")
    labels = page.evaluate(SCRUBBER_LABELS)
    years = [year for year, _ in labels]
    assert years[0] == "2024" and years[-1] == "1919", years
    tops = [top for _, top in labels]
    assert all(b - a >= 16 for a, b in itertools.pairwise(tops)), labels
    assert max(tops) <= 600 - 8, labels


NOT_CONFIGURED = {
    "error": {
        "code": "unavailable",
        "message": "semantic search is not configured: set IMAGESERVER_CLIP_MODEL_PATH",
    }
}


def test_search_unavailable_in_plain_words_and_dashboard_of_one_library(
    page_factory: Any, web_server: WebServer
) -> None:
    """No model: a member reads a plain sentence, the admin also the how-to. A dashboard of
    one library has no totals row and no stray "null" (the server answers are routed)."""
    created = web_server.api(
        "POST", "/users", json={"username": "gran", "password": "gran password 1"}
    )
    assert created.status_code == 201, created.text
    try:
        admin = page_factory(token=web_server.token())
        member = page_factory()
        ui_login(member, web_server.url, "gran", "gran password 1")
        member.wait_for_selector("#username:text-is('gran')")
        for page in (admin, member):
            page.route(
                lambda url: urlsplit(url).path == "/search",
                lambda route: route.fulfill(status=503, json=NOT_CONFIGURED),
            )
            page.goto(web_server.url + "/#/search?q=beach")
            page.wait_for_selector("#search-status:has-text('not set up on this server')")
        assert "IMAGESERVER_" not in member.inner_text("#search-status")
        assert "IMAGESERVER_CLIP_MODEL_PATH" in admin.inner_text("#search-status")

        def one_library(route: Any) -> None:
            body = route.fetch().json()
            body["libraries"] = body["libraries"][:1]
            body["libraries"][0]["skipped"] = 3
            body["libraries"][0]["skipped_by_reason"] = [
                {"reason": "unknown_type", "description": "d", "count": 3,
                 "examples": ["a.bin", "b.mrx"]},
            ]  # fmt: skip
            route.fulfill(json=body)

        admin.route("**/stats/backlogs", one_library)
        admin.goto(web_server.url + "/#/dashboard")
        admin.wait_for_selector("#backlogs tbody tr[data-library]")
        assert admin.locator("#backlogs tfoot").count() == 0
        assert "null" not in admin.inner_text("#backlogs")
        skipped = admin.locator("#backlogs details.skipped")
        assert "3 files not indexed" in skipped.inner_text()
        skipped.locator("summary").click()
        assert "unknown type: 3" in skipped.inner_text() and "a.bin, b.mrx" in skipped.inner_text()
        assert not admin.errors and not member.errors, (admin.errors, member.errors)
    finally:
        gran = next(u for u in web_server.api("GET", "/users").json() if u["username"] == "gran")
        web_server.api("DELETE", f"/users/{gran['id']}")


TILE_MARKS = """() => Object.fromEntries([...document.querySelectorAll('.canvas .tile[data-id]')]
    .map(t => [t.dataset.id, t.querySelector('.meta.filetime') !== null]))"""


def test_a_date_that_is_the_file_time_is_marked_on_tiles_and_in_the_viewer(
    page: Any, web_server: WebServer
) -> None:
    """Items dated by their file's time (no date inside) say so; dated ones do not."""
    items = web_server.api("GET", "/media", params={"limit": 1000}).json()["items"]
    guessed = {str(i["id"]) for i in items if i["taken_at_source"] == "file_mtime"}
    assert guessed and len(guessed) < len(items), "the corpus has dated and undated files"
    page.goto(web_server.url + "/#/timeline")
    page.wait_for_selector(".canvas .tile[data-id]")
    marks: dict[str, bool] = {}
    one = None  # the first undated tile met, scrolling down
    checked = False
    for _ in range(40):  # top to bottom of the windowed grid
        shown = page.evaluate(TILE_MARKS)
        marks |= shown
        one = one or next((i for i in sorted(shown) if i in guessed), None)
        if one is not None:
            tile = page.locator(f".canvas .tile[data-id='{one}']")
            if tile.count():
                assert tile.locator(".meta.filetime").inner_text() == "file date"
                assert (tile.locator("img").get_attribute("alt") or "").endswith("(file time)")
                checked = True
        at_end = page.evaluate(
            """() => { const s = document.querySelector('.scroller');
                       const end = s.scrollTop + s.clientHeight >= s.scrollHeight - 2;
                       s.scrollTop += s.clientHeight; return end }"""
        )
        if at_end:
            break
        time.sleep(0.1)
    assert {i for i, marked in marks.items() if marked} == guessed & set(marks), marks
    assert checked and one is not None and set(marks) - guessed, marks
    names = {str(i["id"]): i["name"] for i in items}
    for media_id, marked in [(one, True), (sorted(set(marks) - guessed)[0], False)]:
        page.goto(f"{web_server.url}/#/viewer/{media_id}")
        page.wait_for_selector(f"#viewer-title:text-is({names[media_id]!r})")
        page.wait_for_selector(".viewer .info dd")
        assert ("(file time)" in page.inner_text(".viewer .info")) == marked, media_id
    assert not page.errors, page.errors


def test_files_that_could_not_be_read_wait_in_their_own_view(
    page: Any, web_server: WebServer
) -> None:
    listed = web_server.api("GET", "/media", params={"unreadable": "true", "limit": 500}).json()
    broken = {int(i["id"]) for i in listed["items"]}
    assert broken, "the corpus holds broken files: some must have failed their thumbnail"
    timeline = web_server.api("GET", "/media", params={"limit": 500}).json()["items"]
    assert broken.isdisjoint(int(i["id"]) for i in timeline)
    page.goto(web_server.url + "/#/albums")
    page.click("a[href='#/unreadable']")
    page.wait_for_selector(".view-unreadable .canvas .tile[data-id]")
    page.wait_for_function(
        "n => document.querySelectorAll('.view-unreadable .canvas .tile[data-id]').length >= n",
        arg=min(len(broken), 10),
    )
    shown = page.evaluate(
        "() => [...document.querySelectorAll('.view-unreadable .canvas .tile[data-id]')]"
        ".map(t => Number(t.dataset.id))"
    )
    assert set(shown) <= broken
    assert "Could not read" in page.locator("h1.inline-title").inner_text()
    assert not page.errors, page.errors
