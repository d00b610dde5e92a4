"""The page's own routes: / and /static/..., caching headers, no escape, no API shadowing,
the vendored hls.js as VENDOR.md describes it, and the files in a non-editable install."""

from __future__ import annotations

import hashlib
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from imageserver.server.app import create_app
from imageserver.server.bootstrap import bootstrap
from imageserver.web import api as web_api
from tests.conftest import login, make_settings

WEB = Path(web_api.__file__).parent
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def web_client(tmp_path: Path, sqlite_url: str) -> Iterator[TestClient]:
    ctx = bootstrap(make_settings(tmp_path, sqlite_url)).ctx
    with TestClient(create_app(ctx, background=False)) as client:
        yield client
    ctx.engine.dispose()


def test_index_is_served_without_login_with_security_headers(web_client: TestClient) -> None:
    response = web_client.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert '<script type="module" src="/static/js/main.js">' in response.text
    assert response.headers["cache-control"] == "no-cache"
    csp = response.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "img-src 'self' blob:" in csp
    # Revalidation: the same ETag gives a 304 without a body.
    again = web_client.get("/", headers={"If-None-Match": response.headers["etag"]})
    assert again.status_code == 304 and again.content == b""


def test_static_files_types_and_caching(web_client: TestClient) -> None:
    js = web_client.get("/static/js/main.js")
    assert js.status_code == 200 and js.headers["content-type"].startswith("text/javascript")
    assert js.headers["cache-control"] == "no-cache" and js.headers["etag"]
    css = web_client.get("/static/css/app.css")
    assert css.headers["content-type"].startswith("text/css")
    hls = web_client.get("/static/vendor/hls.js/hls.light.min.mjs")
    assert hls.status_code == 200
    assert hls.headers["content-type"].startswith("text/javascript")
    assert "max-age=86400" in hls.headers["cache-control"]
    assert web_client.get("/static/vendor/hls.js/LICENSE").status_code == 200


@pytest.mark.parametrize(
    "path",
    [
        "/static/../api.py",
        "/static/%2e%2e/api.py",
        "/static/js/../../api.py",
        "/static/..%2fapi.py",
        "/static/nothing.js",
        "/static/",
        "/static/js",
    ],
)
def test_static_never_serves_anything_else(web_client: TestClient, path: str) -> None:
    response = web_client.get(path)
    assert response.status_code == 404, path
    assert "def " not in response.text


def test_the_page_routes_do_not_shadow_the_api(web_client: TestClient) -> None:
    assert web_client.get("/libraries").status_code == 401
    assert web_client.get("/health").status_code == 200
    token = login(web_client)
    me = web_client.get("/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert me.json()["username"] == "admin"
    paths = web_client.get("/openapi.json").json()["paths"]
    assert "/" not in paths and not any(p.startswith("/static") for p in paths)


def test_every_module_the_page_imports_exists() -> None:
    """Static and dynamic imports of every module resolve to a shipped file."""
    static = WEB / "static"
    pattern = re.compile(
        r"""(?:import\s*\(\s*|from\s+|import\s+)['"](\.{1,2}/[^'"]+|/static/[^'"]+)['"]"""
    )
    for module in static.rglob("*.js"):
        for target in pattern.findall(module.read_text(encoding="utf-8")):
            if target.startswith("/static/"):
                rel = target.removeprefix("/static/")
                found = (static / rel).is_file() or (WEB / rel).is_file()
            else:
                found = (module.parent / target).resolve().is_file()
            assert found, f"{module.relative_to(WEB)} imports {target!r}, which does not exist"


def test_vendored_hls_matches_vendor_md() -> None:
    folder = WEB / "vendor" / "hls.js"
    text = (folder / "VENDOR.md").read_text(encoding="utf-8")
    for name in ("hls.light.min.mjs", "LICENSE"):
        digest = hashlib.sha256((folder / name).read_bytes()).hexdigest()
        assert f"`{name}` {digest}" in text, f"{name} differs from VENDOR.md"
    assert "Apache License" in (folder / "LICENSE").read_text(encoding="utf-8")
    assert re.search(r"hls\.js@(\d+\.\d+\.\d+)", text)


@pytest.mark.slow
def test_a_non_editable_build_ships_the_page(tmp_path: Path) -> None:
    """What a wheel would hold (setuptools' build_py, package-data `web/**/*`), offline."""
    build = subprocess.run(
        [
            sys.executable,
            "-W",
            "always",
            "-c",
            "from setuptools import setup; setup()",
            "-q",
            "build_py",
            "--build-lib",
            str(tmp_path),
        ],
        cwd=REPO,
        check=True,
        timeout=300,
        capture_output=True,
        text=True,
    )
    # The packaging metadata is current: no deprecation on every install.
    assert "deprecated" not in build.stderr.lower(), build.stderr
    built = {
        p.relative_to(tmp_path).as_posix() for p in (tmp_path / "imageserver" / "web").rglob("*")
    }
    local = {
        "imageserver/" + p.relative_to(WEB.parent).as_posix()
        for p in WEB.rglob("*")
        if "__pycache__" not in p.parts
    }
    assert "imageserver/web/static/index.html" in built
    assert "imageserver/web/vendor/hls.js/hls.light.min.mjs" in built
    assert local <= built, sorted(local - built)


def test_vendored_swagger_ui_matches_vendor_md() -> None:
    folder = WEB / "vendor" / "swagger-ui"
    text = (folder / "VENDOR.md").read_text(encoding="utf-8")
    for name in ("swagger-ui-bundle.js", "swagger-ui.css", "LICENSE", "NOTICE"):
        digest = hashlib.sha256((folder / name).read_bytes()).hexdigest()
        assert f"`{name}` {digest}" in text, f"{name} differs from VENDOR.md"
    assert "Apache License" in (folder / "LICENSE").read_text(encoding="utf-8")
    assert re.search(r"swagger-ui-dist@(\d+\.\d+\.\d+)", text)


def test_docs_load_only_vendored_files_under_a_csp(web_client: TestClient) -> None:
    client = web_client
    page = client.get("/docs")
    assert page.status_code == 200
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-eval" not in csp
    assert "frame-ancestors 'none'" in csp
    sources = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert sources and all(s.startswith("/static/") for s in sources), sources
    assert "<script>" not in page.text  # no inline script
    for source in sources:
        asset = client.get(source)
        assert asset.status_code == 200, source
        assert asset.headers["x-content-type-options"] == "nosniff"
    assert client.get("/redoc").status_code == 404
    assert client.get("/openapi.json").status_code == 200


def test_api_json_is_never_stored_and_never_sniffed(web_client: TestClient) -> None:
    client = web_client
    for url in ("/health", "/openapi.json", "/photos", "/no/such/route"):
        response = client.get(url)
        assert response.headers["content-type"].startswith("application/json"), url
        assert response.headers["x-content-type-options"] == "nosniff", url
        assert response.headers["cache-control"] == "no-store", url
    page = client.get("/")
    assert page.headers["cache-control"] == "no-cache"  # the page keeps its revalidation
