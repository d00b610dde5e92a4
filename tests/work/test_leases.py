"""Leases of a dead process on this machine are released at start-up, not after expiry.

The owner id carries boot id, pid and process start time: a killed predecessor (its pid
gone, or reused by a process started later) loses its leases when the next process
boots; a live process, another machine and another boot keep theirs until expiry.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from sqlalchemy import select

from imageserver.config import Settings
from imageserver.db.tables import artefacts, libraries, media
from imageserver.server.bootstrap import bootstrap
from imageserver.work import leases
from imageserver.work.artefacts import THUMB_KIND
from imageserver.work.leases import ProcessId
from tests.fixtures import insert_library
from tests.video.test_stats import insert_media


def dead_process() -> ProcessId:
    """A process of this machine that ran and is gone."""
    here = leases.this_process()
    assert here is not None, "needs /proc (Linux)"
    child = subprocess.Popen(["sleep", "30"])
    started = leases.start_time(child.pid)
    assert started is not None
    child.kill()
    child.wait()
    return ProcessId(here.host, here.boot, child.pid, started)


def test_a_dead_predecessors_leases_are_released_at_start(
    settings: Settings, tmp_path: Path
) -> None:
    here = leases.this_process()
    assert here is not None
    ctx = bootstrap(settings).ctx
    dead = dead_process()
    reused = ProcessId(here.host, here.boot, os.getpid(), here.started - 1)  # pid reused
    other_boot = ProcessId(here.host, "0" * 8, dead.pid, dead.started)
    other_host = ProcessId("elsewhere", here.boot, dead.pid, dead.started)
    owners = {
        "dead": dead.owner(),
        "reused": reused.owner(),
        "me": here.owner(),
        "boot": other_boot.owner(),
        "host": other_host.owner(),
    }
    until = ctx.clock() + 600
    insert_library(ctx.engine, "lib", tmp_path / "lib")
    with ctx.engine.begin() as conn:
        library_id = conn.execute(select(libraries.c.id)).scalar_one()
        for n, (name, owner) in enumerate(owners.items()):
            row = insert_media(conn, library_id, f"{name}.mp4", None, kind="video")
            conn.execute(
                media.update().where(media.c.id == row).values(lease_owner=owner, lease_until=until)
            )
            conn.execute(
                artefacts.insert().values(
                    content_hash=f"{n:064x}",
                    kind=THUMB_KIND,
                    status="pending",
                    attempts=0,
                    lease_owner=owner,
                    lease_until=until,
                    updated_at=0.0,
                )
            )
    ctx.engine.dispose()

    restarted = bootstrap(settings).ctx  # the next process on this machine
    with restarted.engine.connect() as conn:
        rows = {r.rel_path: r.lease_owner for r in conn.execute(select(media))}
        states = {r.content_hash: r.lease_owner for r in conn.execute(select(artefacts))}
    restarted.engine.dispose()
    kept = {"me", "boot", "host"}
    for n, (name, owner) in enumerate(owners.items()):
        expected = owner if name in kept else None
        assert rows[f"{name}.mp4"] == expected, name
        assert states[f"{n:064x}"] == expected, name


def test_owner_ids_parse_back_and_fit_the_column() -> None:
    here = leases.this_process()
    assert here is not None
    assert ProcessId.parse(here.owner()) == here and len(leases.owner()) <= 64
    assert ProcessId.parse("host:123:abcdef12") is None  # the fallback form: expiry only
