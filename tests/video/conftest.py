"""Video tests: the server's own settings, minus work no video test looks at (face scans)."""

from __future__ import annotations

from pathlib import Path

import pytest

from imageserver.config import Settings
from tests.conftest import make_settings


@pytest.fixture
def settings(tmp_path: Path, db_url: str) -> Settings:
    """Faces off (a photo scan costs seconds) and the fastest x264 preset (same plans)."""
    return make_settings(tmp_path, db_url, faces_enabled=False, hls_preset="ultrafast")
