"""Why the walk passed over a file: a count per reason with a few example paths.

A file that never becomes a media row must not vanish silently (a RAW format we do not
know, a name that cannot be stored, a file we may not read): the walk and the sniff
record a reason for every file they pass over, and the tally of a library's last complete
walk is stored on its row (`libraries.walk_skipped`) for /stats/backlogs and the dashboard.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

EXAMPLES = 5

# The reasons, in the order the dashboard lists them, with what they mean to a person.
REASONS: dict[str, str] = {
    "unknown_type": "content and extension are not a photo or video format we index",
    "ignored_type": "a known non-media extension (sidecar, document, audio, ...)",
    "hidden": "a hidden file (its name starts with a dot)",
    "unreadable": "the file could not be read or stat'ed",
    "not_regular": "not a regular file (a device, socket or pipe)",
    "symlink_outside": "a symlink leading outside the library or nowhere",
    "name_not_utf8": "a name that is not valid UTF-8 cannot be stored",
    "name_too_long": "a path longer than the database stores",
}

# Longest library-relative path stored (bytes of UTF-8): beyond any real file system path.
MAX_PATH_BYTES = 4096


@dataclass
class Reason:
    count: int = 0
    examples: list[str] = field(default_factory=list)


@dataclass
class Skipped:
    """Per reason, how many files were passed over and the first few of their paths."""

    reasons: dict[str, Reason] = field(default_factory=dict)

    def add(self, reason: str, rel_path: str) -> None:
        assert reason in REASONS, reason
        entry = self.reasons.setdefault(reason, Reason())
        entry.count += 1
        if len(entry.examples) < EXAMPLES:
            entry.examples.append(rel_path.encode("utf-8", "replace").decode("utf-8"))

    def merge(self, other: Skipped) -> None:
        for reason, entry in other.reasons.items():
            mine = self.reasons.setdefault(reason, Reason())
            mine.count += entry.count
            room = EXAMPLES - len(mine.examples)
            mine.examples.extend(entry.examples[: max(0, room)])

    def total(self) -> int:
        return sum(e.count for e in self.reasons.values())

    def to_json_items(self) -> list[tuple[str, Reason]]:
        """The reasons in REASONS order."""
        order = list(REASONS)
        return sorted(self.reasons.items(), key=lambda kv: order.index(kv[0]))

    def to_json(self) -> dict[str, Any]:
        items = self.to_json_items()
        return {r: {"count": e.count, "examples": list(e.examples)} for r, e in items}

    @classmethod
    def from_json(cls, data: object) -> Skipped:
        """Tolerant of a missing or foreign value (an old row: nothing known yet)."""
        out = cls()
        if not isinstance(data, dict):
            return out
        for reason, entry in data.items():
            if reason in REASONS and isinstance(entry, dict):
                count = entry.get("count")
                examples = entry.get("examples")
                if isinstance(count, int):
                    ex = [str(e) for e in examples][:EXAMPLES] if isinstance(examples, list) else []
                    out.reasons[reason] = Reason(count, ex)
        return out
