"""Agent and admin accounts (cs_backend/accounts): signing in and out, bearer sessions that expire or end, the
roles of every route of the registry (401 without a credential, 403 for a role a route is not open to), the
account routes, the create-admin command and migration 0005. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses
import hashlib
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from argon2 import PasswordHasher
from sqlalchemy import select, text

from cs_backend import migrate
from cs_backend.accounts import passwords, service
from cs_backend.accounts.models import Account, AccountSession, Role
from cs_backend.api.registry import ApiRoute
from cs_backend.app_keys import DATABASE
from cs_backend.config import Settings, SettingsError
from cs_backend.db import Database
from cs_backend.main import create_app
from tests.support import REPO_ROOT

from .helpers import FAST_HASHER, assert_error
from .services import table_names
from .test_auth import JSON, concrete_request, registered_routes, signed_headers

PASSWORD = "correct horse battery staple"
DENIED = (401, 403)


def non_public_routes() -> list[Any]:
    return [
        pytest.param(route, id=f"{route.method} {route.path}")
        for route in registered_routes()
        if route.access != "public"
    ]


@pytest.fixture
async def people(aiohttp_client: Any, settings: Settings) -> TestClient[Any, Any]:
    """The real app, and a client that signs nothing: each request carries its own credential."""
    return await aiohttp_client(create_app(settings), sign=False)


def db_of(client: TestClient[Any, Any]) -> Database:
    return client.app[DATABASE]


async def new_account(
    client: TestClient[Any, Any], role: Role, email: str | None = None, password: str = PASSWORD
) -> Account:
    email = email or f"{role}@example.com"
    return await service.create_account(db_of(client), email, role.title(), role, password, FAST_HASHER)


async def bearer(client: TestClient[Any, Any], account: Account, hours: float = 1) -> dict[str, str]:
    new_session = await service.start_session(db_of(client), account, timedelta(hours=hours))
    return {"Authorization": f"Bearer {new_session.token}"}


async def login(client: TestClient[Any, Any], email: str, password: str = PASSWORD) -> Any:
    return await client.post("/api/auth/login", json={"email": email, "password": password})


async def assert_unauthenticated(response: Any) -> None:
    error = await assert_error(response, 401)
    assert response.headers.getall("WWW-Authenticate"), error


@pytest.mark.parametrize("route", non_public_routes())
async def test_every_non_public_route_refuses_a_request_without_a_valid_credential(
    people: TestClient[Any, Any], route: ApiRoute
) -> None:
    path, body = concrete_request(route)
    for headers in ({}, {"Authorization": "Bearer not-a-session"}, {"Authorization": "Basic YTpi"}):
        response = await people.request(route.method, path, data=body, headers={**JSON, **headers})
        await assert_unauthenticated(response)


@pytest.mark.parametrize("route", non_public_routes())
async def test_every_non_public_route_answers_each_principal_as_its_access_says(
    people: TestClient[Any, Any], route: ApiRoute
) -> None:
    assert route.access != "public"
    path, body = concrete_request(route)
    credentials = {
        "agent": await bearer(people, await new_account(people, "agent")),
        "admin": await bearer(people, await new_account(people, "admin")),
    }
    # The console's websocket (its success is 101) opens only from this site's pages, as a browser says.
    site = {"Origin": f"http://{people.host}:{people.port}"} if 101 in route.responses else {}
    for principal in ("agent", "admin", "service"):
        headers = (
            credentials[principal] if principal != "service" else signed_headers(route.method, path, body)
        )
        response = await people.request(route.method, path, data=body, headers={**JSON, **headers, **site})
        if principal in route.access:
            assert response.status not in DENIED, (principal, await response.text())
            response.close()  # /api/events answers with a stream that would stay open
        else:
            await assert_error(response, 403, message=f"not open to the {principal} role")


async def test_signing_in_gives_a_session_token_that_identifies_the_account(
    people: TestClient[Any, Any],
) -> None:
    await new_account(people, "agent", email="ada@example.com")
    before = datetime.now(UTC)
    response = await login(people, " Ada@Example.com ")
    assert response.status == 200, await response.text()
    body = await response.json()
    assert set(body) == {"token", "token_type", "expires_at", "role", "account_id"}
    assert body["token_type"] == "Bearer" and body["role"] == "agent"
    expires_at = datetime.fromisoformat(body["expires_at"])
    assert before + timedelta(hours=12) <= expires_at <= datetime.now(UTC) + timedelta(hours=12)

    me = await people.get("/api/auth/me", headers={"Authorization": f"Bearer {body['token']}"})
    assert me.status == 200
    account = await me.json()
    assert account["email"] == "ada@example.com" and account["role"] == "agent"
    assert "password_hash" not in account and account["disabled"] is False


async def test_the_session_lifetime_comes_from_the_settings(aiohttp_client: Any, settings: Settings) -> None:
    app = create_app(dataclasses.replace(settings, account_session_hours=0.5))
    client = await aiohttp_client(app, sign=False)
    await new_account(client, "admin")
    body = await (await login(client, "admin@example.com")).json()
    lifetime = datetime.fromisoformat(body["expires_at"]) - datetime.now(UTC)
    assert timedelta(minutes=29) < lifetime <= timedelta(minutes=30)


async def test_a_wrong_password_an_unknown_email_and_a_disabled_account_get_the_same_answer(
    people: TestClient[Any, Any],
) -> None:
    await new_account(people, "agent")
    disabled = await new_account(people, "agent", email="gone@example.com")
    async with db_of(people).sessions() as session:
        row = await session.get(Account, disabled.id)
        assert row is not None
        row.disabled_at = datetime.now(UTC)
        await session.commit()
    answers = []
    for email, password in (
        ("agent@example.com", "wrong password!"),
        ("nobody@example.com", PASSWORD),
        ("gone@example.com", PASSWORD),
        ("not an email", PASSWORD),
    ):
        response = await login(people, email, password)
        answers.append(await assert_error(response, 401))
    assert all(answer == {"status": 401, "message": "wrong email or password"} for answer in answers)


async def test_an_unknown_email_costs_one_password_check_like_a_wrong_password(
    migrated_database_url: str,
) -> None:
    class CountingHasher(PasswordHasher):
        verified = 0

        def verify(self, hash: str | bytes, password: str | bytes) -> bool:
            type(self).verified += 1
            return super().verify(hash, password)

    hasher = CountingHasher(time_cost=1, memory_cost=1024, parallelism=1)
    db = Database.connect(migrated_database_url)
    try:
        account = await service.create_account(db, "ada@example.com", "Ada", "agent", PASSWORD, hasher)
        assert account.password_hash.startswith("$argon2id$")
        lifetime = timedelta(hours=1)
        for email, password in (("ada@example.com", "wrong password!"), ("nobody@example.com", PASSWORD)):
            before = CountingHasher.verified
            with pytest.raises(service.SignInRefused):
                await service.sign_in(db, email, password, lifetime, hasher)
            assert CountingHasher.verified == before + 1, email  # the same work, whether the email exists
        await service.sign_in(db, "ada@example.com", PASSWORD, lifetime, hasher)
    finally:
        await db.dispose()


def test_passwords_shorter_than_12_characters_are_refused() -> None:
    with pytest.raises(passwords.PasswordTooShort, match="at least 12 characters"):
        passwords.hash_password("x" * 11, FAST_HASHER)
    assert passwords.hash_password("x" * 12, FAST_HASHER)


async def test_signing_in_rehashes_a_password_hashed_with_older_parameters(
    people: TestClient[Any, Any],
) -> None:
    account = await new_account(people, "agent")
    assert passwords.needs_rehash(account.password_hash)
    assert (await login(people, "agent@example.com")).status == 200
    async with db_of(people).sessions() as session:
        stored = await session.scalar(select(Account.password_hash).where(Account.id == account.id))
    assert stored is not None and stored != account.password_hash
    assert not passwords.needs_rehash(stored)
    assert (await login(people, "agent@example.com")).status == 200  # the new hash checks the same password


async def test_only_the_sha256_of_the_token_is_stored(people: TestClient[Any, Any]) -> None:
    await new_account(people, "agent")
    token = (await (await login(people, "agent@example.com")).json())["token"]
    assert len(token) >= 43  # 32 random bytes
    async with db_of(people).engine.connect() as connection:
        rows = (await connection.execute(text("SELECT * FROM account_sessions"))).all()
        accounts = (await connection.execute(text("SELECT * FROM accounts"))).all()
    assert [row.token_hash for row in rows] == [hashlib.sha256(token.encode()).hexdigest()]
    stored_text = " ".join(str(value) for row in [*rows, *accounts] for value in row)
    assert token not in stored_text and PASSWORD not in stored_text


async def test_expired_and_ended_sessions_are_refused(people: TestClient[Any, Any]) -> None:
    agent = await new_account(people, "agent")
    expired = await bearer(people, agent, hours=-1 / 3600)
    await assert_unauthenticated(await people.get("/api/auth/me", headers=expired))

    token = (await (await login(people, "agent@example.com")).json())["token"]
    headers = {"Authorization": f"Bearer {token}"}
    assert (await people.get("/api/tickets", headers=headers)).status == 200
    assert (await people.post("/api/auth/logout", headers=headers)).status == 204
    await assert_unauthenticated(await people.get("/api/tickets", headers=headers))
    await assert_unauthenticated(await people.post("/api/auth/logout", headers=headers))


async def test_an_admin_manages_accounts_and_disabling_ends_their_sessions(
    people: TestClient[Any, Any],
) -> None:
    admin = await bearer(people, await new_account(people, "admin"))
    created = await people.post(
        "/api/accounts",
        json={"email": "Bob@Example.com", "display_name": "Bob", "role": "agent", "password": PASSWORD},
        headers=admin,
    )
    assert created.status == 201, await created.text()
    bob = await created.json()
    assert bob["email"] == "bob@example.com" and bob["role"] == "agent" and bob["disabled"] is False
    duplicate = {"email": "bob@example.com", "display_name": "B", "role": "admin", "password": PASSWORD}
    await assert_error(await people.post("/api/accounts", json=duplicate, headers=admin), 409)
    short = {**duplicate, "email": "carol@example.com", "password": "x" * 11}
    await assert_error(await people.post("/api/accounts", json=short, headers=admin), 400, {"password"})

    listed = await (await people.get("/api/accounts?role=agent", headers=admin)).json()
    assert [account["email"] for account in listed["items"]] == ["bob@example.com"]

    bob_session = {
        "Authorization": f"Bearer {(await (await login(people, 'bob@example.com')).json())['token']}"
    }
    assert (await people.get("/api/auth/me", headers=bob_session)).status == 200
    disabled = await people.patch(f"/api/accounts/{bob['id']}", json={"disabled": True}, headers=admin)
    assert (await disabled.json())["disabled"] is True
    await assert_unauthenticated(await people.get("/api/auth/me", headers=bob_session))
    await assert_error(await login(people, "bob@example.com"), 401)
    async with db_of(people).sessions() as session:
        left = await session.scalars(select(AccountSession).where(AccountSession.account_id == bob["id"]))
        assert list(left) == []

    await people.patch(f"/api/accounts/{bob['id']}", json={"disabled": False, "role": "admin"}, headers=admin)
    promoted = await (await login(people, "bob@example.com")).json()
    assert promoted["role"] == "admin"

    me = await (await people.get("/api/auth/me", headers=admin)).json()
    for change in ({"disabled": True}, {"role": "agent"}):
        response = await people.patch(f"/api/accounts/{me['id']}", json=change, headers=admin)
        await assert_error(response, 409, message="your own account")
    await assert_error(await people.patch("/api/accounts/999", json={"disabled": True}, headers=admin), 404)
    await assert_error(await people.patch(f"/api/accounts/{me['id']}", json={}, headers=admin), 400)


async def test_deleting_an_account_deletes_its_sessions(people: TestClient[Any, Any]) -> None:
    agent = await new_account(people, "agent")
    await bearer(people, agent)
    async with db_of(people).engine.begin() as connection:
        await connection.execute(text("DELETE FROM accounts"))
        assert await connection.scalar(text("SELECT count(*) FROM account_sessions")) == 0


def test_account_session_hours_is_read_from_the_environment() -> None:
    assert Settings.from_env({}).account_session_hours == 12
    assert Settings.from_env({"ACCOUNT_SESSION_HOURS": "0.5"}).account_session_hours == 0.5
    with pytest.raises(SettingsError, match="ACCOUNT_SESSION_HOURS must be more than 0"):
        Settings.from_env({"ACCOUNT_SESSION_HOURS": "0"})


def _create_admin(database_url: str, stdin: str, *arguments: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": database_url, "PYTHONPATH": str(REPO_ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "cs_backend", "create-admin", *arguments],
        input=stdin,
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


async def test_create_admin_makes_an_admin_who_can_sign_in(
    migrated_database_url: str, people: TestClient[Any, Any]
) -> None:
    result = _create_admin(migrated_database_url, PASSWORD + "\n", "--email", "Root@Example.com")
    assert result.returncode == 0, result.stderr
    assert "admin root@example.com created" in result.stdout
    response = await login(people, "root@example.com")
    assert response.status == 200 and (await response.json())["role"] == "admin"
    me = await people.get(
        "/api/auth/me", headers={"Authorization": f"Bearer {(await response.json())['token']}"}
    )
    assert (await me.json())["display_name"] == "root"

    again = _create_admin(migrated_database_url, PASSWORD + "\n", "--email", "root@example.com")
    assert again.returncode == 1 and "already exists" in again.stderr
    short = _create_admin(migrated_database_url, "too-short\n", "--email", "new@example.com", "--name", "N")
    assert short.returncode == 2 and "at least 12 characters" in short.stderr
    empty = _create_admin(migrated_database_url, "", "--email", "new@example.com")
    assert empty.returncode == 2 and "no password" in empty.stderr
    invalid = _create_admin(migrated_database_url, PASSWORD + "\n", "--email", "not-an-email")
    assert invalid.returncode == 2 and "not a valid email" in invalid.stderr
    long_name = _create_admin(
        migrated_database_url, PASSWORD + "\n", "--email", "n@example.com", "--name", "N" * 201
    )
    assert long_name.returncode == 2 and "--name" in long_name.stderr
    too_long = _create_admin(migrated_database_url, "p" * 1025 + "\n", "--email", "long@example.com")
    assert too_long.returncode == 2 and "at most 1024 characters" in too_long.stderr
    outputs = short.stderr + again.stderr + invalid.stderr + long_name.stderr + too_long.stderr
    assert "Traceback" not in outputs
    assert "root@example.com" not in again.stderr  # the refusal repeats no personal data


async def test_an_email_that_cannot_be_stored_is_a_400_not_a_500(people: TestClient[Any, Any]) -> None:
    response = await people.post(
        "/api/auth/login", json={"email": "a\u0000@example.com", "password": PASSWORD}
    )
    await assert_error(response, 400, {"email"})


async def test_migration_0005_upgrades_and_downgrades(database_url: str) -> None:
    await migrate.upgrade_async(database_url, "0004")
    before = await table_names(database_url)
    await migrate.upgrade_async(database_url, "0005")
    assert await table_names(database_url) == before | {"accounts", "account_sessions"}
    await migrate.downgrade_async(database_url, "0004")
    assert await table_names(database_url) == before
    await migrate.upgrade_async(database_url, "0005")  # and up again: the downgrade left nothing behind
    assert {"accounts", "account_sessions"} <= await table_names(database_url)
