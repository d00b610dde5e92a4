"""The OpenAPI document states the constraints the code enforces: each pattern and length
read from the document is checked against the server's own validator and against the
answers of real requests (a value the schema allows is not a 422, one it forbids is)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from imageserver.auth.service import validate_password, validate_username
from imageserver.errors import Invalid

SAMPLES = ["alice", "a.b@c-d_e", "x" * 150, "x" * 151, "", "bad name", "tab\there", "é", "a/b"]


@pytest.fixture
def spec(client: TestClient) -> dict[str, Any]:
    document: dict[str, Any] = client.get("/openapi.json").json()
    return document


def model(spec: dict[str, Any], name: str) -> dict[str, Any]:
    schema: dict[str, Any] = spec["components"]["schemas"][name]
    return schema


def parameter(spec: dict[str, Any], path: str, method: str, name: str) -> dict[str, Any]:
    for param in spec["paths"][path][method].get("parameters", []):
        if param["name"] == name:
            schema: dict[str, Any] = param["schema"]
            return schema
    raise AssertionError(f"{method} {path} has no parameter {name}")


def allowed(schema: dict[str, Any], value: str) -> bool:
    """What a JSON Schema validator says of a string (pattern is an unanchored search)."""
    if len(value) < schema.get("minLength", 0) or len(value) > schema.get("maxLength", 10**9):
        return False
    return "pattern" not in schema or re.search(schema["pattern"], value) is not None


def accepts(check: Any, value: str) -> bool:
    try:
        check(value)
    except Invalid:
        return False
    return True


def test_username_and_password_rules_are_the_services(spec: dict[str, Any]) -> None:
    props = model(spec, "UserCreate")["properties"]
    for value in SAMPLES:
        assert allowed(props["username"], value) == accepts(validate_username, value), value
    for value in ["", "1234567", "12345678", "p" * 1024, "p" * 1025]:
        assert allowed(props["password"], value) == accepts(validate_password, value), value
    new = model(spec, "PasswordChange")["properties"]["new_password"]
    assert new["minLength"] == props["password"]["minLength"] == 8


def test_user_creation_follows_the_schema(
    client: TestClient, auth: dict[str, str], spec: dict[str, Any]
) -> None:
    props = model(spec, "UserCreate")["properties"]
    for username, password in [("bad name", "longenough"), ("okname", "short"), ("ok", "x" * 8)]:
        expected = allowed(props["username"], username) and allowed(props["password"], password)
        response = client.post(
            "/users", headers=auth, json={"username": username, "password": password}
        )
        assert (response.status_code == 201) == expected, (username, response.text)
        assert response.status_code in {201, 422}


def test_search_q_must_not_be_blank(
    client: TestClient, auth: dict[str, str], spec: dict[str, Any]
) -> None:
    q = parameter(spec, "/photos/search", "get", "q")
    assert not allowed(q, "   ") and allowed(q, " cat ")
    response = client.get("/photos/search", params={"q": "   "}, headers=auth)
    assert response.status_code == 422, response.text


def test_content_hashes_are_64_lowercase_hex(
    client: TestClient, auth: dict[str, str], spec: dict[str, Any]
) -> None:
    paths = [p for p in spec["paths"] if "{content_hash}" in p]
    assert len(paths) >= 3
    for path in paths:
        schema = parameter(spec, path, "get", "content_hash")
        assert allowed(schema, "a" * 64)
        for bad in ["A" * 64, "a" * 63, "a" * 65, "g" * 64]:
            assert not allowed(schema, bad), (path, bad)
            url = path.replace("{content_hash}", bad).replace("{segment}", "seg_00000.ts")
            assert client.get(url, headers=auth).status_code == 422, url


def test_library_names_must_not_be_blank(
    client: TestClient, auth: dict[str, str], spec: dict[str, Any], tmp_path: Path
) -> None:
    for schema_name in ("LibraryCreate", "LibraryPatch"):
        props = model(spec, schema_name)["properties"]["name"]
        name = props if "pattern" in props else next(s for s in props["anyOf"] if "pattern" in s)
        assert name["maxLength"] == 200
        assert not allowed(name, "   ") and not allowed(name, "a\x01") and allowed(name, " a b ")
    (tmp_path / "lib").mkdir()
    response = client.post(
        "/libraries", headers=auth, json={"name": "   ", "root_path": str(tmp_path / "lib")}
    )
    assert response.status_code == 422


def test_generate_body_states_its_two_shapes(
    client: TestClient, auth: dict[str, str], spec: dict[str, Any]
) -> None:
    shapes = model(spec, "GenerateRequest")["oneOf"]
    assert sorted(tuple(s["required"]) for s in shapes) == [("library_id", "path"), ("media_id",)]
    for body in [{}, {"library_id": 1}, {"media_id": 1, "library_id": 1, "path": "a.mp4"}]:
        matching = [s for s in shapes if all(body.get(k) is not None for k in s["required"])]
        assert len(matching) != 1
        response = client.post("/video/generate", headers=auth, json=body)
        assert response.status_code == 422, (body, response.text)


def test_merge_needs_a_person(spec: dict[str, Any]) -> None:
    assert model(spec, "MergeRequest")["properties"]["ids"]["minItems"] == 1


PATHS = ["a.jpg", "2021/a.jpg", "a//b", "x" * 255, "é/ü.jpg", "\U0008bfb2"]
NOT_PATHS = ["", "/a", "a\\b", "x" * 256, "a\x85b", "a\x07", "ok/" + "y" * 256]


def _path_schemas(spec: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every library-relative path or folder the document takes, by where it is."""
    found = {
        f"{method} {path} {p['name']}": p["schema"]
        for path, item in spec["paths"].items()
        for method, op in item.items()
        for p in op.get("parameters", [])
        if p["name"] in ("path", "folder", "parent")
    }
    found["GenerateRequest.path"] = model(spec, "GenerateRequest")["properties"]["path"]
    found["FromFolder.path"] = model(spec, "FromFolder")["properties"]["path"]
    return {
        k: next((s for s in v.get("anyOf", [v]) if "pattern" in s), v) for k, v in found.items()
    }


def test_library_paths_state_what_the_resolver_accepts(
    client: TestClient, auth: dict[str, str], spec: dict[str, Any]
) -> None:
    from imageserver.media.paths import clean_rel_path

    schemas = _path_schemas(spec)
    assert len(schemas) >= 9, sorted(schemas)
    for where, schema in schemas.items():
        for value in PATHS:
            assert allowed(schema, value) and accepts(clean_rel_path, value), (where, value)
        for value in NOT_PATHS:
            root = value == "" and ("folder" in where or "parent" in where or "From" in where)
            assert allowed(schema, value) == root, (where, value)
    for value in ["", "a\x85b", "x" * 256]:
        response = client.get("/media/by-path", headers=auth, params={"library": 1, "path": value})
        assert response.status_code == 422, (value, response.text)


def test_library_bodies_state_names_roots_and_excludes(
    client: TestClient, auth: dict[str, str], spec: dict[str, Any], tmp_path: Path
) -> None:
    from imageserver.libraries.schemas import normalise_exclude

    create = model(spec, "LibraryCreate")["properties"]
    assert allowed(create["root_path"], "/srv/photos") and not allowed(create["root_path"], "a/b")
    excludes = [create["excluded_dirs"]["items"], model(spec, "LibraryPatch")["properties"]]
    excludes[1] = excludes[1]["excluded_dirs"]["items"]
    for items in excludes:
        for value in ["@eaDir", ".git", "2019/raw", " a ", "\U0008bfb2"]:
            assert allowed(items, value) and normalise_exclude(value), value
        for value in ["", ".", " ", "/abs", "c:x", "a\\b", "a\x07b", "a\x9fb"]:
            assert not allowed(items, value), value
    (tmp_path / "lib").mkdir()
    name = "\U0008bfb2 photos\u200b"  # unassigned and format characters: no control one
    assert allowed(create["name"], name)
    body = {"name": name, "root_path": str(tmp_path / "lib"), "excluded_dirs": ["\U0008bfb2"]}
    response = client.post("/libraries", headers=auth, json=body)
    assert response.status_code == 201, response.text
    for bad in ["a\x85b", "\u3000"]:  # a C1 control; a blank of another script
        assert not allowed(create["name"], bad)
        response = client.post("/libraries", headers=auth, json={**body, "name": bad})
        assert response.status_code == 422, response.text


def test_text_search_and_map_box_state_their_shapes(
    client: TestClient, auth: dict[str, str], spec: dict[str, Any]
) -> None:
    from imageserver.errors import Invalid
    from imageserver.ocr.service import terms_of
    from imageserver.places.service import parse_bbox

    q = parameter(spec, "/ocr/search", "get", "q")
    for value in [
        "abc",
        "a b cde",
        " x yz long ",
        "0",
        "ab cd",
        "a b c d e f g hij",
        "a " * 9,
        "abc\x1fd e f g h i j k",
        "abc\x00d",
        "abc \x07",
    ]:
        assert allowed(q, value) == accepts(terms_of, value), value
    for value in ["abc\x00", "abc\x07d"]:  # NUL never reaches PostgreSQL
        response = client.get("/ocr/search", headers=auth, params={"q": value})
        assert response.status_code == 422, (value, response.text)
    bbox = parameter(spec, "/map/markers", "get", "bbox")
    for value in ["-180,-90,180,90", " 1.5 ,.2,3.,-4", "0000", "1,2,3", "a,b,c,d", "1,2,3,4,5"]:
        try:
            parse_bbox(value)
            shaped = True
        except Invalid as exc:
            shaped = "four numbers" not in exc.message
        assert allowed(bbox, value) == shaped, value


def _one_of(schema: dict[str, Any], body: dict[str, Any]) -> int:
    """How many branches of a oneOf/anyOf of required non-null properties a body meets."""

    def meets(branch: dict[str, Any]) -> bool:
        for key, prop in branch.get("properties", {}).items():
            value = body.get(key)
            if prop.get("type") == "null" and value is not None:
                return False
            if "maxItems" in prop and len(value or []) > prop["maxItems"]:
                return False
            if "minItems" in prop and len(value or []) < prop["minItems"]:
                return False
        return all(body.get(k) is not None for k in branch["required"])

    return sum(meets(b) for b in schema.get("oneOf", schema.get("anyOf", [])))


def test_album_and_share_bodies_state_their_shapes(
    client: TestClient, auth: dict[str, str], spec: dict[str, Any]
) -> None:
    album = model(spec, "AlbumCreate")
    for body in [{}, {"description": "x"}, {"name": "trip"}]:
        response = client.post("/albums", headers=auth, json=body)
        assert (_one_of(album, body) >= 1) == (response.status_code == 201), response.text
    album_id = client.post("/albums", headers=auth, json={"name": "a"}).json()["id"]
    share = model(spec, "ShareCreate")
    for body in [{}, {"media_ids": []}, {"album_id": album_id, "media_ids": [1]}]:
        assert _one_of(share, body) == 0
        assert client.post("/shares", headers=auth, json=body).status_code == 422, body
    assert _one_of(share, {"album_id": album_id}) == 1
    response = client.post("/shares", headers=auth, json={"album_id": album_id})
    assert response.status_code == 201, response.text


def test_dates_in_queries_are_iso_text_not_numbers(
    client: TestClient, auth: dict[str, str]
) -> None:
    for url, name in [
        ("/media", "from"),
        ("/media", "to"),
        ("/timeline", "to"),
        ("/memories", "date"),
    ]:
        for value in ["0", "0.5", "-3", "1700000000"]:
            response = client.get(url, headers=auth, params={name: value})
            assert response.status_code == 422, (url, name, value, response.text)
        assert client.get(url, headers=auth, params={name: "2021-05-06"}).status_code == 200


def test_album_text_keeps_line_breaks_and_refuses_nul(
    client: TestClient, auth: dict[str, str]
) -> None:
    """PostgreSQL refuses NUL in text: a 422 at the edge, not a driver error."""
    ok = {"name": "Trip", "description": "day one\n\tday two\r\n"}
    created = client.post("/albums", headers=auth, json=ok)
    assert created.status_code == 201, created.text
    url = f"/albums/{created.json()['id']}"
    for body in [{"name": "a\x00"}, {"description": "x\x00y"}, {"name": "a\nb"}]:
        assert client.post("/albums", headers=auth, json=body).status_code == 422, body
        assert client.patch(url, headers=auth, json=body).status_code == 422, body


def test_body_numbers_and_dates_have_their_documented_types(
    client: TestClient, auth: dict[str, str]
) -> None:
    """A boolean is not a coordinate and a JSON number is not a date-time: both would be
    coerced (false as 0.0, 0 as 1970-01-01) where the document says number / ISO text.
    Every check is refused before any id is looked up, so none needs a media row."""
    bad_place = {"location": {"latitude": 0.0, "longitude": False}}
    assert client.patch("/media/1", headers=auth, json=bad_place).status_code == 422
    batch = {"ids": [1], **bad_place}
    assert client.patch("/media", headers=auth, json=batch).status_code == 422
    for since in [0, 1.5, True]:
        r = client.post("/export/xmp", headers=auth, json={"since": since})
        assert r.status_code == 422, (since, r.text)
    r = client.post("/export/xmp", headers=auth, json={"since": "2024-05-06T07:08:09Z"})
    assert r.status_code == 200, r.text
    r = client.post("/shares", headers=auth, json={"media_ids": [1], "expires_at": 0})
    assert r.status_code == 422, r.text
