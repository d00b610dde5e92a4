"""Request and response models of the libraries API, with their validation rules."""

from __future__ import annotations

import unicodedata

from pydantic import BaseModel, ConfigDict, Field, StrictBool, field_validator
from pydantic.config import JsonDict

MAX_EXCLUDES = 200
MAX_EXCLUDE_LEN = 1024

# What `normalise_exclude` accepts, stated for the OpenAPI document (the validator gives
# the precise message): relative (no leading `/`, no drive letter), `/` as the separator,
# no control character, and some character that is not a space, a dot or a slash.
_TEXT = r"[^\\\x00-\x1f\x7f-\x9f]"
EXCLUDE_PATTERN = rf"^(?!/)(?!.:){_TEXT}*[^\s/.\\\x00-\x1f\x7f-\x9f]{_TEXT}*$"
EXCLUDES_SCHEMA: JsonDict = {
    "items": {"type": "string", "maxLength": MAX_EXCLUDE_LEN, "pattern": EXCLUDE_PATTERN},
    "maxItems": MAX_EXCLUDES,
}
# An absolute path without NUL (`libraries/service.check_root` says the rest: it must
# exist, be a readable folder, not a system or server folder, not overlap another root).
ROOT_PATH_SCHEMA: JsonDict = {"pattern": r"^/[^\x00]*$"}


def has_control(text: str) -> bool:
    """A character of the Unicode category Cc (C0, DEL, C1): what the schemas' patterns
    exclude, no more (an unassigned or format character is allowed in a name)."""
    return any(unicodedata.category(ch) == "Cc" for ch in text)


def normalise_exclude(entry: str) -> str:
    """A folder name ("@eaDir") or a library-relative path ("2019/raw"); never escapes the root."""
    if not isinstance(entry, str):
        raise ValueError("must be a string")
    if "\x00" in entry:
        raise ValueError("must not contain NUL")
    if "\\" in entry:
        raise ValueError("use / as the separator")
    if len(entry) > MAX_EXCLUDE_LEN:
        raise ValueError(f"at most {MAX_EXCLUDE_LEN} characters")
    if entry.startswith("/") or (len(entry) > 1 and entry[1] == ":"):
        raise ValueError("must be relative to the library root")
    parts = [p for p in entry.strip().split("/") if p not in ("", ".")]
    if not parts:
        raise ValueError("must name a folder")
    if any(p == ".." for p in parts):
        raise ValueError("must not contain '..'")
    if any(has_control(p) for p in parts):
        raise ValueError("must not contain control characters")
    return "/".join(parts)


def validate_excludes(entries: list[str]) -> list[str]:
    if len(entries) > MAX_EXCLUDES:
        raise ValueError(f"at most {MAX_EXCLUDES} entries")
    out: list[str] = []
    for i, entry in enumerate(entries):
        try:
            norm = normalise_exclude(entry)
        except ValueError as exc:
            raise ValueError(f"entry {i}: {exc}") from None
        if norm not in out:
            out.append(norm)
    return out


# A name: no control character and at least one that is not a space (the validators
# below strip it and check the same; the pattern states it in the OpenAPI document).
NAME_PATTERN = r"^[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$"


class LibraryCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200, pattern=NAME_PATTERN)
    root_path: str = Field(min_length=1, max_length=4096, json_schema_extra=ROOT_PATH_SCHEMA)
    enabled: StrictBool = True
    excluded_dirs: list[str] = Field(default_factory=list, json_schema_extra=EXCLUDES_SCHEMA)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        value = value.strip()
        if not value or has_control(value):
            raise ValueError("must not be blank nor hold a control character")
        return value

    @field_validator("excluded_dirs")
    @classmethod
    def _excludes(cls, value: list[str]) -> list[str]:
        return validate_excludes(value)


class LibraryPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=200, pattern=NAME_PATTERN)
    enabled: StrictBool | None = None
    excluded_dirs: list[str] | None = Field(default=None, json_schema_extra=EXCLUDES_SCHEMA)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.strip()
        if not value or has_control(value):
            raise ValueError("must not be blank nor hold a control character")
        return value

    @field_validator("excluded_dirs")
    @classmethod
    def _excludes(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else validate_excludes(value)


class LibraryHealth(BaseModel):
    status: str = Field(description="reachable | stale | unknown (not probed yet)")
    reason: str | None = None
    checked_at: float | None = None


class LibraryCounts(BaseModel):
    photos: int = Field(default=0, description="live photos (a RAW beside its JPEG counts once)")
    videos: int = Field(default=0, description="live videos")


class LibraryOut(BaseModel):
    """A library. `root_path`, `excluded_dirs` and `health.reason` are null for a member:
    they name server folders only an admin manages."""

    id: int
    name: str
    root_path: str | None
    enabled: bool
    excluded_dirs: list[str] | None
    created_at: float
    updated_at: float
    health: LibraryHealth
    last_quick_scan_at: float | None
    last_full_scan_at: float | None
    counts: LibraryCounts


class LibraryMember(BaseModel):
    user_id: int
    username: str
    is_admin: bool
    granted_at: float
