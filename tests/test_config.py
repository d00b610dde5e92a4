"""Settings: defaults, validation with one clear line, .env support, README table in step."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from imageserver.config import Settings, config_table_markdown, describe_validation_error

ROOT = Path(__file__).resolve().parents[1]


def test_defaults_match_the_spec() -> None:
    s = Settings(_env_file=None)
    assert s.watch_quick_interval_seconds == 60
    assert s.watch_full_interval_seconds == 3600
    assert s.orphan_cleanup_interval_seconds == 24 * 3600
    assert s.clip_backlog_max_per_tick == 32
    assert s.clip_encode_concurrency == 4
    assert s.resolved_database_url.startswith("sqlite:///")
    assert s.resolved_video_path == s.data_dir / "video"


def test_every_field_is_described() -> None:
    for name, field in Settings.model_fields.items():
        assert field.description, f"{name} has no description"


@pytest.mark.parametrize(
    ("env", "value"),
    [
        ("WATCH_QUICK_INTERVAL_SECONDS", "-5"),
        ("PORT", "70000"),
        ("HLS_CONCURRENCY", "lots"),
        ("LOG_LEVEL", "chatty"),
        ("LIBRARIES", "no-equals-sign"),
    ],
)
def test_invalid_values_name_the_variable(
    env: str, value: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(f"IMAGESERVER_{env}", value)
    with pytest.raises(ValidationError) as info:
        Settings(_env_file=None)
    line = describe_validation_error(info.value)
    assert f"IMAGESERVER_{env}" in line
    assert "\n" not in line


def test_cli_start_fails_with_one_line(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "IMAGESERVER_WATCH_QUICK_INTERVAL_SECONDS": "0",
        "IMAGESERVER_DATA_DIR": str(tmp_path),
    }
    result = subprocess.run(
        [sys.executable, "-m", "imageserver.server.cli", "migrate"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, result.stderr
    assert "IMAGESERVER_WATCH_QUICK_INTERVAL_SECONDS" in lines[0]


def test_library_seeds_parse_both_forms(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IMAGESERVER_LIBRARIES", "photos=/srv/photos, phone=/srv/phone")
    s = Settings(_env_file=None)
    assert [(x.name, str(x.root_path)) for x in s.libraries] == [
        ("photos", "/srv/photos"),
        ("phone", "/srv/phone"),
    ]
    monkeypatch.setenv(
        "IMAGESERVER_LIBRARIES",
        '[{"name": "nas", "root_path": "/mnt/nas", "excluded_dirs": ["@eaDir"]}]',
    )
    s = Settings(_env_file=None)
    assert s.libraries[0].excluded_dirs == ["@eaDir"]


def test_dotenv_file_is_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("IMAGESERVER_HLS_CONCURRENCY=3\n")
    assert Settings(_env_file=env_file).hls_concurrency == 3


def test_readme_table_is_generated_from_settings() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    match = re.search(
        r"<!-- config-table:start -->\n(.*?)\n<!-- config-table:end -->", readme, re.S
    )
    assert match, "README lacks the config-table markers"
    assert match.group(1).strip() == config_table_markdown().strip(), (
        "README configuration table is out of date: run `imageserver config-table`"
    )


def test_empty_values_mean_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("CLIP_MODEL_PATH", "VIDEO_PATH", "DATABASE_URL", "JWT_SECRET"):
        monkeypatch.setenv(f"IMAGESERVER_{name}", "")
    s = Settings(_env_file=None)
    assert s.clip_model_path is None and s.video_path is None
    assert s.database_url is None and s.jwt_secret is None
    assert s.resolved_video_path == s.data_dir / "video"
