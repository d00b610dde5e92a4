"""Path safety over every route that takes a path or a name, with a trap outside the root.

Next to the world's library lies a `secret/` folder (a real JPEG and a text file); inside
the library, symlinks point at it (a file and a folder) and one points back inside. The
indexer runs over that, then every path-like parameter of the OpenAPI document (and the
web page's /static/ route) gets `..` in every encoding, absolute paths, NUL, very long
names, backslashes and Unicode look-alikes, through the query, the path and JSON bodies.

An audit hook (tests/reliability/fsaudit.py) records every file the process opens, lists,
writes or removes meanwhile: nothing below `secret/` is ever touched, no read leaves the
library root and the server's own folders, and nothing is written outside the data
folders.
"""

from __future__ import annotations

import os
import sys
import sysconfig
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import pytest
from blake3 import blake3
from fastapi.testclient import TestClient
from sqlalchemy import select

import imageserver
from imageserver.db.tables import media
from imageserver.libraries.schemas import MAX_EXCLUDE_LEN, has_control
from imageserver.media.layout import thumb_path
from imageserver.scan.watcher import Watcher
from tests.fixtures import make_jpeg
from tests.reliability.fsaudit import Recorder
from tests.reliability.world import World, login_headers

SECRET_TEXT = "TOP-SECRET-CANARY-7f3a"

# Every string parameter (path or query) of the document is one of these: a path-like
# value the tests below attack, or text that never names a file. A new parameter must be
# classified here before the suite passes.
PATH_LIKE = {"path", "folder", "parent", "content_hash", "segment"}
NOT_A_PATH = {
    "cursor",
    "camera",
    "q",
    "model_version",
    "order",
    "kind",
    "granularity",
    "size",
    "from",
    "to",
    # share links: a token looked up in the database and the unlock key it was given
    "token",
    "key",
    # places: names and codes matched against the places table, a map box, a memories day
    "country",
    "region",
    "place",
    "bbox",
    "date",
    # curation: a tag matched against the tags table (levels joined by "/", never a file)
    "tag",
}

HOSTILE = [
    "..",
    "../secret/s.jpg",
    "../../../../../../etc/passwd",
    "2021/../../secret/s.jpg",
    "2021/../../../etc/passwd",
    "./../secret",
    "%2e%2e/secret/s.jpg",  # arrives as typed: never decoded a second time
    "%252e%252e%252fsecret",
    "..%2fsecret%2fs.jpg",
    "..%5csecret%5cs.jpg",
    "%c0%ae%c0%ae/secret/s.jpg",  # overlong UTF-8 for '.'
    "\xc0\xae\xc0\xae/secret/s.jpg",
    "..\\secret\\s.jpg",
    "2021\\..\\..\\secret",
    "/etc/passwd",
    "//etc/passwd",
    "/" + "secret/s.jpg",
    "C:\\Windows\\win.ini",
    "c:/secret",
    "file:///etc/passwd",
    "2021/a.jpg\x00.png",
    "\x00",
    "a\x00/../../secret",
    "．．/secret/s.jpg",  # fullwidth full stops: NFKC folds them to '..'
    "\u2025/secret/s.jpg",  # two dot leader
    "\ufe30/secret",  # presentation form of the two dot leader
    "..\uff0fsecret",  # fullwidth solidus
    "\uff0e\uff0e\uff0f\uff0e\uff0e\uff0fetc\uff0fpasswd",
    ".\u0307./secret",  # a combining mark between the dots
    "..\u200b/secret",  # zero-width space
    "links/outdir/s.jpg",  # through a symlinked folder that leaves the root
    "links/out.jpg",  # a symlinked file that leaves the root
    "x" * 256 + "/a.jpg",  # one name over 255 bytes
    "a/" * 2100,  # over 4096 bytes
    "\udcff\udcfe",  # lone surrogates (undecodable file names)
    "links/../../secret/s.jpg",
]


@dataclass
class Trap:
    secret: Path
    secret_hash: str
    recorder: Recorder


@pytest.fixture(scope="module")
def trap(world: World) -> Trap:
    """The secret folder, the symlinks, and a full tick over them under the recorder."""
    secret = world.root.parent / "secret"
    make_jpeg(secret / "s.jpg", size=(80, 60), color=(1, 200, 3))
    (secret / "secret.txt").write_text(SECRET_TEXT)
    links = world.root / "links"
    links.mkdir()
    (links / "out.jpg").symlink_to(secret / "s.jpg")
    (links / "outdir").symlink_to(secret, target_is_directory=True)
    (links / "in.jpg").symlink_to(world.root / "2021" / "b.jpg")
    with Recorder() as recorder:
        Watcher(world.ctx).tick(full=True)
    return Trap(secret, blake3((secret / "s.jpg").read_bytes()).hexdigest(), recorder)


@pytest.fixture(scope="module")
def client(world: World) -> Iterator[TestClient]:
    with TestClient(world.app, raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def auth(client: TestClient) -> dict[str, str]:
    return login_headers(client)


def allowed_reads(world: World) -> list[Path]:
    """The library, the server's own folders, and the interpreter's and system's files."""
    s = world.ctx.settings
    system = [Path(p) for p in ("/usr", "/lib", "/lib64", "/proc", "/sys", "/dev")]
    system += [Path("/etc/mime.types"), Path("/etc/localtime")]  # read by mimetypes, time
    runtime = {sys.prefix, sys.base_prefix, sysconfig.get_paths()["purelib"]}
    # the server's own code (tracebacks of logged errors read source lines)
    code = Path(imageserver.__file__).parent
    return [world.root, *s.owned_dirs(), *system, code, *(Path(p) for p in runtime)]


def assert_contained(recorder: Recorder, world: World, trap: Trap) -> None:
    assert recorder.touching(trap.secret) == [], "something below secret/ was accessed"
    assert recorder.writes_outside(world.ctx.settings.owned_dirs()) == []
    outside = recorder.reads_outside(allowed_reads(world))
    assert outside == [], sorted({a.path for a in outside})


def test_the_tick_never_follows_a_symlink_out_of_the_root(world: World, trap: Trap) -> None:
    with world.ctx.engine.connect() as conn:
        rows = {r.rel_path: r.content_hash for r in conn.execute(select(media))}
    assert "links/in.jpg" in rows, "a symlink staying inside the root is indexed"
    assert not any(p.startswith(("links/out", "links/outdir")) for p in rows), rows
    assert trap.secret_hash not in rows.values()
    thumbs = world.ctx.settings.thumbs_dir
    assert not thumb_path(thumbs, trap.secret_hash, "small").exists()
    assert_contained(trap.recorder, world, trap)
    assert trap.recorder.reads(), "the recorder saw nothing: the audit hook is not working"
    with Recorder() as check:  # and it would have seen a read of the secret
        (trap.secret / "s.jpg").read_bytes()
        os.listdir(trap.secret)
    assert len(check.touching(trap.secret)) == 2


def parameters(openapi: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """(method, path, location, name) of every string parameter in the document."""
    found = []
    for path, item in openapi["paths"].items():
        for method, op in item.items():
            for p in op.get("parameters", []):
                schema = p.get("schema", {})
                types = {schema.get("type")} | {s.get("type") for s in schema.get("anyOf", [])}
                if "string" in types and p["in"] in ("path", "query"):
                    found.append((method.upper(), path, p["in"], p["name"]))
    return found


def fill(world: World, path: str) -> tuple[str, dict[str, Any]]:
    url = (
        path.replace("{library_id}", str(world.library_id))
        .replace("{content_hash}", world.video_hash)
        .replace("{segment}", "seg_00000.ts")
        .replace("{media_id}", str(world.photo_id))
    )
    return url, {"library": world.library_id}


def test_every_string_parameter_is_classified(client: TestClient) -> None:
    names = {name for *_, name in parameters(client.get("/openapi.json").json())}
    assert names - PATH_LIKE - NOT_A_PATH == set(), "classify the new parameter above"
    assert {"path", "folder", "content_hash", "segment"} <= names


# Folder filters compare a prefix in the database and open nothing: an odd but harmless
# name ("%2e%2e/x" taken literally) is a valid filter that matches nothing.
FILTERS = {"folder", "parent"}


def nothing_listed(body: Any) -> bool:
    if isinstance(body, list):
        return body == []
    return not body.get("items") and not body.get("folders") and not body.get("count")


def test_hostile_values_in_every_path_parameter(
    client: TestClient, auth: dict[str, str], world: World, trap: Trap
) -> None:
    targets = [p for p in parameters(client.get("/openapi.json").json()) if p[3] in PATH_LIKE]
    assert len(targets) >= 9
    tried = 0
    with Recorder() as recorder:
        for method, path, where, name in targets:
            for value in HOSTILE:
                url, query = fill(world, path)
                # every byte percent-encoded ('/' included); lone surrogates become the
                # undecodable bytes they stand for (a non-UTF-8 file name)
                raw = quote(value.encode("utf-8", "surrogateescape"), safe="")
                if where == "path":
                    template = path.replace("{" + name + "}", "\0")
                    url = fill(world, template)[0].replace("\0", raw)
                    url += "?" + urlencode(query)
                else:
                    url += "?" + urlencode(query) + f"&{name}={raw}"
                response = client.request(method, url, headers=auth)
                tried += 1
                assert SECRET_TEXT not in response.text
                if response.status_code == 200 and name in FILTERS:
                    assert nothing_listed(response.json()), (path, name, value, response.text)
                    continue
                assert response.status_code in (400, 404, 422), (path, name, value, response.text)
                assert response.json()["error"]["code"] in ("not_found", "invalid", "bad_request")
    assert tried >= len(targets) * len(HOSTILE)
    assert_contained(recorder, world, trap)


RAW_URLS = [
    "/video/stream/%2e%2e/playlist.m3u8",
    "/video/stream/{hash}/%2e%2e%2f%2e%2e%2fsecret%2fs.jpg",
    "/video/stream/{hash}/..%2f..%2f..%2fetc%2fpasswd",
    "/video/stream/{hash}/%252e%252e%252fplaylist.m3u8",
    "/video/stream/{hash}/%c0%ae%c0%ae%c0%afplaylist.m3u8",
    "/video/stream/{hash}/seg_00000.ts%00.m3u8",
    "/video/stream/{hash}/..%5c..%5cplaylist.m3u8",
    "/video/stream/{hash}%2f..%2f..%2f/playlist.m3u8",
    "/media/by-path?library={lib}&path=%2e%2e%2f%2e%2e%2fsecret%2fs.jpg",
    "/media/by-path?library={lib}&path=%252e%252e%252fsecret",
    "/media/by-path?library={lib}&path=%c0%ae%c0%ae%2fsecret%2fs.jpg",
    "/media/by-path?library={lib}&path=%ff%fe%2e%2e",
    "/media/by-path?library={lib}&path=2021%2fa.jpg%00",
    "/media?folder=%2e%2e%2fsecret",
    "/media?folder=..%5c..%5c",
    "/video/stream/library/{lib}/playlist.m3u8?path=%2e%2e%2fsecret%2fs.jpg",
    "/video/stream/library/{lib}/preview.mp4?path=%2e%2e%2f%2e%2e%2fetc%2fpasswd",
    "/static/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
    "/static/..%2f..%2f..%2fetc%2fpasswd",
    "/static/%252e%252e/index.html",
    "/static/%c0%ae%c0%ae/%c0%ae%c0%ae/etc/passwd",
    "/static/%00",
    "/static//etc/passwd",
    "/static/vendor/..%2f..%2fapi.py",
]


def test_raw_encoded_urls(
    client: TestClient, auth: dict[str, str], world: World, trap: Trap
) -> None:
    """URLs exactly as an attacker types them (no client-side normalisation)."""
    with Recorder() as recorder:
        for raw in RAW_URLS:
            url = raw.format(hash=world.video_hash, lib=world.library_id)
            response = client.get(url, headers=auth)
            assert response.status_code in (400, 404, 422), (url, response.text)
            assert SECRET_TEXT not in response.text and "root:" not in response.text
            # an error body, never the bytes of a file the URL was aimed at
            assert response.headers["content-type"].startswith("application/json"), url
            assert set(response.json()) == {"error"}, (url, response.text)
    assert_contained(recorder, world, trap)


@pytest.mark.parametrize("value", HOSTILE[:31])
def test_hostile_paths_in_json_bodies(
    client: TestClient, auth: dict[str, str], world: World, trap: Trap, value: str
) -> None:
    with Recorder() as recorder:
        generate = client.post(
            "/video/generate", headers=auth, json={"library_id": world.library_id, "path": value}
        )
        assert generate.status_code in (404, 422), generate.text
        excluded = client.patch(
            f"/libraries/{world.library_id}", headers=auth, json={"excluded_dirs": [value]}
        )
        # excludes are relative names: a traversal or absolute path is refused, anything
        # else is just a name the walker skips (it never leaves the root either way)
        parts = [p for p in value.strip().split("/") if p not in ("", ".")]
        relative_name = (
            not value.startswith("/")
            and value[1:2] != ":"
            and "\\" not in value
            and "\x00" not in value
            and bool(parts)
            and ".." not in parts
            and not any(has_control(p) for p in parts)
            and len(value) <= MAX_EXCLUDE_LEN
        )
        if relative_name:
            assert excluded.status_code == 200, (value, excluded.text)
            assert excluded.json()["excluded_dirs"] == ["/".join(parts)], value
        else:
            assert excluded.status_code == 422, (value, excluded.text)
        client.patch(f"/libraries/{world.library_id}", headers=auth, json={"excluded_dirs": []})
    assert_contained(recorder, world, trap)


@pytest.mark.parametrize(
    "root",
    [
        "relative/path",
        "{data}",
        "{data}/thumbs",
        "{root}/../data",
        "{root}/../data/video/..",
        "{secret}\x00",
        "/nonexistent-" + "x" * 20,
        "{root}/2021/a.jpg",
        "/" + "x" * 5000,
    ],
)
def test_library_roots_cannot_be_the_servers_own_folders_or_nonsense(
    client: TestClient, auth: dict[str, str], world: World, trap: Trap, root: str
) -> None:
    value = root.format(data=world.ctx.settings.data_dir, root=world.root, secret=trap.secret)
    response = client.post("/libraries", headers=auth, json={"name": "evil", "root_path": value})
    assert response.status_code == 422, (value, response.text)


def test_a_symlinked_root_is_stored_resolved(
    client: TestClient, auth: dict[str, str], world: World, trap: Trap, tmp_path: Path
) -> None:
    """A root given through a symlink is kept as its real path: a later swap of the link
    cannot move the library elsewhere (e.g. onto the data folder)."""
    link = tmp_path / "photos-link"
    link.symlink_to(trap.secret, target_is_directory=True)
    response = client.post(
        "/libraries", headers=auth, json={"name": "via-link", "root_path": str(link)}
    )
    assert response.status_code == 201, response.text
    assert response.json()["root_path"] == os.path.realpath(trap.secret)
    assert client.delete(f"/libraries/{response.json()['id']}", headers=auth).status_code == 204


# --- the data folder is private ---------------------------------------------------------------


def test_the_data_folder_is_private_after_a_full_index(world: World) -> None:
    """Folders 0700 and files 0600 from creation: the database, thumbnails, HLS, faces."""
    settings = world.ctx.settings
    data = settings.data_dir
    found = {"thumbs": 0, "segments": 0, "playlists": 0}
    loose: list[str] = []
    assert data.stat().st_mode & 0o777 == 0o700
    for folder, dirs, files in os.walk(data):
        for name in dirs:
            if (Path(folder) / name).lstat().st_mode & 0o077:
                loose.append(f"{folder}/{name}/")
        for name in files:
            path = Path(folder) / name
            if path.lstat().st_mode & 0o077:
                loose.append(f"{path} {oct(path.lstat().st_mode & 0o777)}")
            found["thumbs"] += name.endswith((".webp", ".jpg")) and "thumbs" in folder
            found["segments"] += name.startswith("seg_") and name.endswith(".ts")
            found["playlists"] += name == "playlist.m3u8"
    url = settings.resolved_database_url
    if url.startswith("sqlite:///"):
        database = Path(url.removeprefix("sqlite:///"))
        for path in (database, Path(f"{database}-wal"), Path(f"{database}-shm")):
            if path.exists() and path.stat().st_mode & 0o077:
                loose.append(f"{path} {oct(path.stat().st_mode & 0o777)}")
    assert loose == []
    assert found["thumbs"] >= 8 and found["segments"] >= 1 and found["playlists"] >= 1, found
