"""Login throttling cannot lock the owner out, and password spraying cannot starve the API.

Failures count per (username, client address) and per address; usernames case-folded as
the lookup is. At most `login_max_concurrent` argon2 checks run at once; the overflow is
a quick 503. The load test runs a real server process over real sockets.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from imageserver.clock import FakeClock
from imageserver.errors import ServiceUnavailable
from imageserver.server.app import create_app
from imageserver.work.context import AppContext
from imageserver.work.throttle import LoginThrottle
from tests.conftest import ADMIN_PASSWORD
from tests.web.harness import free_port

ATTACKER = ("203.0.113.66", 40000)
OWNER = ("198.51.100.7", 40001)


def test_attacker_hammering_the_admin_name_does_not_lock_the_owner_out(
    ctx: AppContext,
) -> None:
    app = create_app(ctx, background=False)
    attacker, owner = TestClient(app, client=ATTACKER), TestClient(app, client=OWNER)
    statuses = [
        attacker.post("/auth/login", json={"username": name, "password": "guess-guess"}).status_code
        for name in ("admin", "ADMIN", "Admin", "admin", "admin", "admin")
    ]
    # Three failures (any case of the name), then the attacker's address must wait.
    assert statuses[:3] == [401, 401, 401] and set(statuses[3:]) == {429}, statuses
    right = {"username": "admin", "password": ADMIN_PASSWORD}
    assert attacker.post("/auth/login", json=right).status_code == 429
    mine = owner.post("/auth/login", json=right)
    assert mine.status_code == 200, mine.text
    token = mine.json()["access_token"]
    assert owner.get("/libraries", headers={"Authorization": f"Bearer {token}"}).status_code == 200


def test_one_address_spraying_many_usernames_is_slowed_too() -> None:
    clock = FakeClock()
    throttle = LoginThrottle(clock, after=3, max_delay=60, after_per_address=5)
    for n in range(5):
        throttle.failed(f"user{n}", "203.0.113.66")
    assert throttle.wait_remaining("someone-else", "203.0.113.66") > 0
    assert throttle.wait_remaining("someone-else", "198.51.100.7") == 0
    assert throttle.wait_remaining("user0", "198.51.100.7") == 0
    # A success clears the pair, not the address count (an attacker with an account of
    # their own cannot reset it by logging in between guesses).
    throttle.succeeded("user0", "203.0.113.66")
    assert throttle.wait_remaining("user0", "203.0.113.66") > 0
    clock.advance(61)
    assert throttle.wait_remaining("user0", "203.0.113.66") == 0


def test_password_checks_beyond_the_bound_are_refused_at_once() -> None:
    throttle = LoginThrottle(FakeClock(), after=3, max_delay=60, max_concurrent=2)
    with throttle.verification_slot(), throttle.verification_slot():
        started = time.monotonic()
        with pytest.raises(ServiceUnavailable) as refused, throttle.verification_slot():
            pass
        assert time.monotonic() - started < 0.05
        assert refused.value.status_code == 503 and refused.value.headers == {"Retry-After": "1"}
    with throttle.verification_slot():  # released again
        pass


# argv: base URL, concurrent clients, tries per client (a bound), seconds (a bound).
SPRAY = """
import asyncio, sys, time
import httpx

async def main(base, clients, tries, seconds):
    deadline = time.monotonic() + seconds
    codes = []
    async def one(n):
        async with httpx.AsyncClient(base_url=base, timeout=30) as c:
            for i in range(tries):
                if time.monotonic() > deadline:
                    return
                body = {"username": f"nobody{n}-{i}", "password": "bogus-password"}
                codes.append((await c.post("/auth/login", json=body)).status_code)
    await asyncio.gather(*(one(n) for n in range(clients)))
    print(" ".join(map(str, codes)))

asyncio.run(main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])))
"""


def p99(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=100)[98]


def timed_gets(client: httpx.Client, url: str, headers: dict[str, str], n: int) -> list[float]:
    out = []
    for _ in range(n):
        started = time.perf_counter()
        response = client.get(url, headers=headers)
        out.append(time.perf_counter() - started)
        assert response.status_code == 200
    return out


@dataclass(frozen=True)
class Round:
    baseline: float
    under_load: float

    @property
    def within_2x(self) -> bool:
        # 2x the baseline, with a 10 ms floor: a 3 ms baseline on a shared machine is noise.
        return self.under_load <= 2 * max(self.baseline, 0.010)


def spray_round(client: httpx.Client, base: str, headers: dict[str, str]) -> Round:
    """p99 of GET /libraries alone, then while 50 clients spray bogus logins."""
    baseline = p99(timed_gets(client, "/libraries", headers, 200))
    # The spray runs in its own process: threads here would share this process's
    # GIL with the measuring client and measure themselves.
    spray = subprocess.Popen(
        [sys.executable, "-c", SPRAY, base, "50", "40", "8"],
        stdout=subprocess.PIPE,
        text=True,
    )
    time.sleep(1.0)
    under_load = p99(timed_gets(client, "/libraries", headers, 200))
    out, _ = spray.communicate(timeout=120)
    statuses = [int(code) for code in out.split()]
    assert set(statuses) <= {401, 503}, set(statuses)
    # Both happened: some bogus logins were checked (401), the overflow refused (503).
    assert statuses.count(401) >= 1 and statuses.count(503) >= 10, (
        statuses.count(401),
        statuses.count(503),
    )
    return Round(baseline, under_load)


@pytest.mark.slow
def test_api_p99_stays_within_2x_while_50_bogus_logins_run(tmp_path: Path) -> None:
    """A real `imageserver serve` with real argon2 costs; backoff off, so every bogus
    login asks for a password check (the worst case: a spray from many addresses)."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("IMAGESERVER_")}
    env.update(
        IMAGESERVER_DATA_DIR=str(tmp_path / "data"),
        IMAGESERVER_HOST="127.0.0.1",
        IMAGESERVER_PORT=str(port),
        IMAGESERVER_ADMIN_PASSWORD=ADMIN_PASSWORD,
        IMAGESERVER_RUN_BACKGROUND="false",
        IMAGESERVER_LOGIN_BACKOFF_AFTER="1000000",
        IMAGESERVER_LOGIN_BACKOFF_AFTER_PER_ADDRESS="1000000",
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "imageserver.server.cli", "serve", "--no-workers"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(base_url=base, timeout=30) as client:
            for _ in range(300):
                try:
                    if client.get("/health").status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.1)
            login = client.post(
                "/auth/login", json={"username": "admin", "password": ADMIN_PASSWORD}
            )
            headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
            timed_gets(client, "/libraries", headers, 20)  # warm up
            # Up to three rounds: a shared CI machine has noisy seconds that a single p99 of
            # 200 requests cannot tell from a regression; a real regression fails all three.
            rounds = [spray_round(client, base, headers)]
            while not any(r.within_2x for r in rounds) and len(rounds) < 3:
                rounds.append(spray_round(client, base, headers))
        assert any(r.within_2x for r in rounds), [(r.baseline, r.under_load) for r in rounds]
    finally:
        proc.terminate()
        proc.wait(timeout=30)
