"""Detection and clustering on the shared corpus against MANIFEST.tsv's ground truth.

Every single-frontal-face picture must give exactly one face, at least 80% of all face
pictures their exact count, the pictures without people none; the Obama, Biden and Kit
Harington pictures must each form one person; a broken file fails permanently.
"""

from __future__ import annotations

import csv
import re
import shutil
from pathlib import Path

import pytest
from sqlalchemy import select

from imageserver.db.tables import artefacts, faces, media
from imageserver.scan.watcher import Watcher
from imageserver.server.bootstrap import bootstrap
from imageserver.work.artefacts import FACES_KIND
from tests.conftest import make_settings

BROKEN = ("broken/corrupt-header.jpg", "broken/clap-overflow-divide-zero.heic")
COUNT = re.compile(r"(?:manual visual count: |training\.xml: )(\d+)")


def ground_truth(corpus: Path) -> dict[str, tuple[int, bool]]:
    """faces/... -> (expected count, is a single frontal face)."""
    with (corpus / "MANIFEST.tsv").open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle, delimiter="\t"))
    truth = {}
    for row in rows[1:]:
        if not row[0].startswith("faces/"):
            continue
        found = COUNT.search(row[7])
        assert found, f"no face count in the ground truth of {row[0]}"
        text = row[7].split("||")[0]
        expected = int(found.group(1))
        frontal = expected == 1 and "frontal" in text and "profile" not in text
        truth[row[0].removeprefix("faces/")] = (expected, frontal)
    return truth


@pytest.mark.corpus
def test_corpus_faces_match_ground_truth_and_cluster(
    corpus: Path, tmp_path: Path, sqlite_url: str
) -> None:
    truth = ground_truth(corpus)
    root = tmp_path / "faces"
    shutil.copytree(corpus / "faces", root)
    for rel in BROKEN:
        shutil.copy(corpus / rel, root / Path(rel).name)
    settings = make_settings(
        tmp_path,
        sqlite_url,
        libraries=[{"name": "faces", "root_path": str(root)}],
        faces_enabled=True,
    )
    ctx = bootstrap(settings).ctx
    watcher = Watcher(ctx)
    for tick in range(10):
        [t] = watcher.tick(full=tick == 0)
        if not t.pending.get("faces"):
            break
    with ctx.engine.connect() as conn:
        paths = dict(conn.execute(select(media.c.rel_path, media.c.content_hash)).all())
        people = {
            name: [
                r.person_id
                for r in conn.execute(
                    select(faces.c.person_id)
                    .where(faces.c.content_hash == digest)
                    .order_by(faces.c.box_x)
                )
            ]
            for name, digest in paths.items()
        }
        states = {
            name: conn.execute(
                select(artefacts.c.status, artefacts.c.detail).where(
                    artefacts.c.content_hash == digest, artefacts.c.kind == FACES_KIND
                )
            ).one()
            for name, digest in paths.items()
        }
    ctx.engine.dispose()

    table = [f"{'file':28} expected detected"]
    exact = 0
    for name, (expected, frontal) in sorted(truth.items()):
        detected = len(people[name])
        exact += detected == expected
        mark = "" if detected == expected else "  <- differs"
        table.append(f"{name:28} {expected:8} {detected:8}{' frontal' if frontal else ''}{mark}")
    report = "\n".join(table)
    print("\n" + report)

    for name, (expected, frontal) in truth.items():
        if frontal or expected == 0:
            assert len(people[name]) == expected, f"{name}\n{report}"
    assert exact >= 0.8 * len(truth), report
    assert sum(1 for _, (n, f) in truth.items() if f) >= 4  # the rule above was exercised

    obama = people["obama.jpg"][0]
    biden = people["biden.jpg"][0]
    assert obama is not None and biden is not None and obama != biden
    assert people["obama-240p.jpg"] == [obama]
    assert people["obama_partial_face.jpg"] == [obama]
    assert {obama, biden} <= set(people["obama_and_biden.jpg"])
    assert {obama, biden} <= set(people["two_people.jpg"])
    kit = people["johnsnow_test1.jpg"][0]
    assert kit is not None and kit in people["kit_with_rose.jpg"]
    assert kit not in (obama, biden)
    # Nobody else is mixed into these three people.
    expected_pictures = {
        obama: {"obama.jpg", "obama-240p.jpg", "obama_partial_face.jpg"},
        biden: {"biden.jpg"},
        kit: {"johnsnow_test1.jpg", "kit_with_rose.jpg"},
    }
    for person, own in expected_pictures.items():
        holding = {name for name, found in people.items() if person in found}
        assert holding <= own | {"obama_and_biden.jpg", "two_people.jpg"}, (person, holding)
    for rel in BROKEN:
        status, detail = states[Path(rel).name]
        assert status == "failed", (rel, detail)
