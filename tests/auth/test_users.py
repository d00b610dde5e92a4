"""User management over HTTP by an admin, and what it does to a member at once."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.conftest import MEMBER_PASSWORD, add_member, login


def bob_id(client: TestClient, admin: dict[str, str]) -> int:
    users = {u["username"]: u for u in client.get("/users", headers=admin).json()}
    return int(users["bob"]["id"])


def test_member_account_as_a_member_meets_it(
    client: TestClient, auth: dict[str, str], member: dict[str, str]
) -> None:
    me = client.get("/auth/me", headers=member).json()
    assert me["username"] == "bob" and me["role"] == "member" and me["is_admin"] is False
    listed = client.get("/users", headers=auth).json()
    assert [(u["username"], u["role"], u["disabled"]) for u in listed] == [
        ("admin", "admin", False),
        ("bob", "member", False),
    ]
    assert "password_hash" not in listed[1]
    assert client.get("/libraries", headers=member).status_code == 200
    refused = client.post("/libraries", headers=member, json={"name": "x", "root_path": "/etc"})
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "forbidden"


def test_usernames_are_case_insensitive(client: TestClient, auth: dict[str, str]) -> None:
    add_member(client, auth, "Carol")
    assert login(client, "carol", MEMBER_PASSWORD)
    assert login(client, "CAROL", MEMBER_PASSWORD)
    clash = client.post(
        "/users", headers=auth, json={"username": "cAROL", "password": MEMBER_PASSWORD}
    )
    assert clash.status_code == 409 and clash.json()["error"]["code"] == "conflict"


def test_role_change_applies_on_the_next_request(
    client: TestClient, auth: dict[str, str], member: dict[str, str]
) -> None:
    uid = bob_id(client, auth)
    assert client.get("/users", headers=member).status_code == 403
    promoted = client.patch(f"/users/{uid}", headers=auth, json={"role": "admin"})
    assert promoted.status_code == 200 and promoted.json()["role"] == "admin"
    assert client.get("/users", headers=member).status_code == 200
    client.patch(f"/users/{uid}", headers=auth, json={"role": "member"})
    assert client.get("/users", headers=member).status_code == 403
    bad = client.patch(f"/users/{uid}", headers=auth, json={"role": "root"})
    assert bad.status_code == 422


def test_disable_ends_sessions_at_once_and_refuses_login(
    client: TestClient, auth: dict[str, str], member: dict[str, str]
) -> None:
    uid = bob_id(client, auth)
    disabled = client.patch(f"/users/{uid}", headers=auth, json={"disabled": True})
    assert disabled.status_code == 200 and disabled.json()["disabled"] is True
    assert client.get("/libraries", headers=member).status_code == 401
    denied = client.post("/auth/login", json={"username": "bob", "password": MEMBER_PASSWORD})
    assert denied.status_code == 401
    client.patch(f"/users/{uid}", headers=auth, json={"disabled": False})
    assert client.get("/libraries", headers=member).status_code == 401  # ended, not paused
    assert login(client, "bob", MEMBER_PASSWORD)


def test_password_reset_ends_the_users_sessions(
    client: TestClient, auth: dict[str, str], member: dict[str, str]
) -> None:
    uid = bob_id(client, auth)
    reset = client.patch(f"/users/{uid}", headers=auth, json={"password": "reset by admin"})
    assert reset.status_code == 200
    assert client.get("/libraries", headers=member).status_code == 401
    assert login(client, "bob", "reset by admin")
    assert client.get("/libraries", headers=auth).status_code == 200  # the admin's own stays


def test_delete_ends_sessions_and_the_account(
    client: TestClient, auth: dict[str, str], member: dict[str, str]
) -> None:
    uid = bob_id(client, auth)
    assert client.delete(f"/users/{uid}", headers=auth).status_code == 204
    assert client.get("/libraries", headers=member).status_code == 401
    assert client.get(f"/users/{uid}", headers=auth).status_code == 404
    assert client.delete(f"/users/{uid}", headers=auth).status_code == 404


def test_the_last_enabled_admin_stays(client: TestClient, auth: dict[str, str]) -> None:
    me = client.get("/auth/me", headers=auth).json()["id"]
    for change in ({"role": "member"}, {"disabled": True}):
        refused = client.patch(f"/users/{me}", headers=auth, json=change)
        assert refused.status_code == 409, refused.text
    assert client.delete(f"/users/{me}", headers=auth).status_code == 409
    # With a second admin, the first may step down.
    add_member(client, auth, "second", role="admin")
    assert client.patch(f"/users/{me}", headers=auth, json={"role": "member"}).status_code == 200
    assert client.get("/users", headers=auth).status_code == 403


def test_user_input_is_validated(client: TestClient, auth: dict[str, str]) -> None:
    cases = [
        {"username": "has space", "password": MEMBER_PASSWORD},
        {"username": "dave", "password": "short"},
        {"username": "dave", "password": MEMBER_PASSWORD, "role": "owner"},
        {"username": "dave", "password": MEMBER_PASSWORD, "is_admin": True},
    ]
    for body in cases:
        response = client.post("/users", headers=auth, json=body)
        assert response.status_code == 422, (body, response.text)
    assert [u["username"] for u in client.get("/users", headers=auth).json()] == ["admin"]


def test_an_admin_cannot_delete_their_own_account(client: TestClient, auth: dict[str, str]) -> None:
    """Even with another admin present: the request would end its own session mid-way."""
    me = client.get("/auth/me", headers=auth).json()
    other = client.post(
        "/users",
        headers=auth,
        json={"username": "second", "password": "second pw 1", "role": "admin"},
    )
    assert other.status_code == 201, other.text
    refused = client.delete(f"/users/{me['id']}", headers=auth)
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "conflict", (
        refused.text
    )
    assert client.get("/auth/me", headers=auth).status_code == 200
    assert client.delete(f"/users/{other.json()['id']}", headers=auth).status_code == 204
