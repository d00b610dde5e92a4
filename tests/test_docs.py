"""docs/ARCHITECTURE.md stays true: every module and package it names exists."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "ARCHITECTURE.md"
PACKAGE = ROOT / "src" / "imageserver"
# `media/repo.py`, `work/drain.py`, `proc.py`, `tests/auth/test_roles.py`, `scan/`
NAMED = re.compile(r"`((?:[a-z_]+/)*[a-z_]+(?:\.py|/))`")


def _named_paths() -> set[str]:
    return set(NAMED.findall(DOC.read_text(encoding="utf-8")))


def _exists(name: str) -> bool:
    if name.startswith(("tests/", "docs/", "bench/", "src/")):
        return (ROOT / name).exists()
    if "/" not in name.rstrip("/") and not (PACKAGE / name).exists():
        # a layer's file name (`api.py`, `repo.py`): some feature must hold one
        return any(PACKAGE.glob(f"*/{name}"))
    return (PACKAGE / name).exists()


def test_architecture_names_only_modules_that_exist() -> None:
    named = _named_paths()
    assert len(named) >= 30, "the pattern stopped matching the document's module names"
    missing = sorted(name for name in named if not _exists(name))
    assert not missing, f"docs/ARCHITECTURE.md names modules that do not exist: {missing}"


def test_every_package_appears_in_the_architecture() -> None:
    text = DOC.read_text(encoding="utf-8")
    packages = sorted(p.name for p in PACKAGE.iterdir() if (p / "__init__.py").exists())
    absent = [name for name in packages if not re.search(rf"\b{name}\b", text)]
    assert not absent, f"packages missing from docs/ARCHITECTURE.md: {absent}"
