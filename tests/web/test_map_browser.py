"""Browser tests of places and the map, on a server with no tile URL: the map must draw
the server's own country outlines and never ask anything of another host. One server for
the module; a member granted one library sees only its items."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from imageserver.web.api import page_csp, tile_source
from tests.conftest import require_corpus
from tests.fixtures import CHROMIUM
from tests.ml.tiny_clip import build_tiny_clip
from tests.web import harness
from tests.web.harness import WebServer, start_server


@pytest.fixture(scope="module")
def web_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebServer]:
    corpus = require_corpus()
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing")
    base = tmp_path_factory.mktemp("webmap")
    plain_env = harness.server_env

    def offline_env(settings: dict[str, Any]) -> dict[str, str]:
        return {**plain_env(settings), "IMAGESERVER_MAP_TILE_URL": ""}

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(harness, "server_env", offline_env)
        server = start_server(base, corpus, build_tiny_clip(base / "tiny-clip").root)
    yield server
    server.stop()


def test_tile_host_in_the_csp_is_only_the_configured_one() -> None:
    assert tile_source("") == ""
    assert tile_source("https://tile.openstreetmap.org/{z}/{x}/{y}.png") == (
        "https://tile.openstreetmap.org"
    )
    assert tile_source("https://{s}.tiles.example:8443/{z}/{x}/{y}.png") == (
        "https://*.tiles.example:8443"
    )
    for hostile in ("javascript:alert(1)", "https://a b/x", "https://x;script-src *", "//x/y"):
        assert tile_source(hostile) == "", hostile
    assert "img-src 'self' blob: data:;" in page_csp("")
    assert "img-src 'self' blob: data: https://tile.openstreetmap.org;" in page_csp(
        "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
    )


def gps_total(server: WebServer, token: str) -> int:
    headers = {"Authorization": f"Bearer {token}"}
    tree = httpx.get(f"{server.url}/places", headers=headers, timeout=30).json()
    return sum(int(c["count"]) for c in tree["countries"])


def test_map_offline_places_and_a_member_sees_only_granted_items(
    page_factory: Any, web_server: WebServer
) -> None:
    assert "openstreetmap" not in httpx.get(web_server.url + "/").headers["content-security-policy"]
    admin_total = gps_total(web_server, web_server.token())
    assert admin_total >= 3  # the GPS fixtures of both libraries

    page = page_factory(token=web_server.token())
    foreign: list[str] = []
    page.on(
        "request",
        lambda r: (
            None
            if r.url.startswith(("http://127.0.0.1", "blob:", "data:"))
            else foreign.append(r.url)
        ),
    )
    page.goto(web_server.url + "/#/map")
    page.wait_for_selector("#map[data-base='outlines']")
    assert page.locator(".leaflet-overlay-pane path").count() > 50  # the country outlines
    page.wait_for_selector(f"#map-status:has-text('{admin_total} items in view')")
    assert page.locator(".map-marker").count() >= 1
    page.wait_for_selector(".map-marker img.loaded")
    # Click markers until one opens the viewer (a cluster zooms in first).
    for _ in range(8):
        if "#/viewer/" in page.url:
            break
        page.locator(".leaflet-marker-icon").first.click()
        page.wait_for_timeout(700)
    assert "#/viewer/" in page.url
    page.wait_for_selector("#viewer-place")
    assert page.inner_text("#viewer-place").strip()
    # The info panel's mini map: the same offline base, one marker at the photo's fix.
    page.wait_for_selector("#viewer-minimap[data-base='outlines'][data-ready='1']")
    assert page.locator("#viewer-minimap .leaflet-overlay-pane path").count() > 50
    assert page.locator("#viewer-minimap path.leaflet-interactive").count() == 1
    page.keyboard.press("Escape")
    assert page.locator("#viewer-minimap").count() == 0

    # Places: the tree lists a country; choosing it shows its items in the grid.
    page.click("#mainnav a[data-nav='places']")
    country = page.locator("#places-list a").first
    country.wait_for()
    label = country.get_attribute("data-label")
    country.click()
    page.wait_for_selector(f"#places-crumbs:has-text('{label}')")
    page.wait_for_selector(".view-places .canvas .tile img.loaded")
    assert not foreign, foreign
    assert not page.errors, page.errors

    # A member granted the family library only.
    users = web_server.api(
        "POST", "/users", json={"username": "walker", "password": "walker pass 1", "role": "member"}
    )
    assert users.status_code == 201, users.text
    libs = {lib["name"]: lib["id"] for lib in web_server.api("GET", "/libraries").json()}
    granted = web_server.api("PUT", f"/libraries/{libs['family']}/members/{users.json()['id']}")
    assert granted.status_code in (200, 204), granted.text
    login = httpx.post(
        f"{web_server.url}/auth/login", json={"username": "walker", "password": "walker pass 1"}
    )
    token = login.json()["access_token"]
    member_total = gps_total(web_server, token)
    family = web_server.api("GET", "/media", params={"library": libs["family"], "has_gps": "true"})
    assert 0 < member_total == len(family.json()["items"]) < admin_total
    member = page_factory(token=token)
    member.goto(web_server.url + "/#/map")
    member.wait_for_selector(f"#map-status:has-text('{member_total} items in view')")
    member.goto(web_server.url + "/#/places")
    member.locator("#places-list a").first.wait_for()
    shown = member.evaluate(
        "() => [...document.querySelectorAll('#places-list a .muted')]"
        ".reduce((n, e) => n + Number(e.textContent.replace(/\\D/g, '')), 0)"
    )
    assert shown == member_total
    assert not member.errors, member.errors
