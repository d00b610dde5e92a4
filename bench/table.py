"""Result rows: one line per measurement, printed as a Markdown table and saved as JSON."""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

Goal = Literal["higher", "lower", "info"]


@dataclass
class Row:
    """`ours` vs `reference` in one unit; `target` is the ratio ours/reference to reach.

    goal "higher": pass when ratio >= target (throughput); "lower": pass when ratio <= target
    (time, memory); "info": printed, never judged. A row without a reference compares `ours`
    itself with `target` (an absolute limit such as peak RSS).
    """

    group: str
    name: str
    unit: str
    ours: float | None
    reference: float | None = None
    reference_name: str = ""
    target: float | None = None
    goal: Goal = "info"
    note: str = ""
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def ratio(self) -> float | None:
        if self.ours is None or self.reference is None or self.reference == 0:
            return None
        return self.ours / self.reference

    @property
    def judged(self) -> float | None:
        """The figure compared with the target: the ratio, or `ours` when there is no reference."""
        return self.ratio if self.reference_name else self.ours

    @property
    def status(self) -> str:
        if self.goal == "info" or self.target is None:
            return "INFO"
        value = self.judged
        if value is None or math.isnan(value):
            return "ERROR"
        ok = value >= self.target if self.goal == "higher" else value <= self.target
        return "PASS" if ok else "MISS"

    def target_text(self) -> str:
        if self.goal == "info" or self.target is None:
            return "info"
        sign = ">=" if self.goal == "higher" else "<="
        suffix = "x" if self.reference_name else f" {self.unit}"
        return f"{sign} {self.target:g}{suffix}"

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data.update(ratio=self.ratio, status=self.status, target_text=self.target_text())
        return data


def cpu_text(ours: float, reference: float) -> str:
    """CPU seconds side by side: steadier than wall time on a machine shared with other work."""
    ratio = f" = {ours / reference:.2f}x" if reference > 0 else ""
    return f"CPU s ours {ours:,.1f} vs reference {reference:,.1f}{ratio}"


def fmt(value: float | None) -> str:
    if value is None:
        return "-"
    if value == 0:
        return "0"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    if abs(value) >= 0.01:
        return f"{value:.3g}" if abs(value) < 1 else f"{value:.2f}"
    return f"{value:.2g}"


def render(rows: list[Row]) -> str:
    """A Markdown table; the notes (what the reference did, caveats) follow it, numbered."""
    header = ["row", "ours", "reference", "ratio", "target", "result"]
    lines: list[list[str]] = []
    notes: list[str] = []
    for row in rows:
        label = f"{row.group}: {row.name}"
        if row.note:
            notes.append(row.note)
            label += f" [{len(notes)}]"
        ref = (
            f"{fmt(row.reference)} {row.unit} ({row.reference_name})" if row.reference_name else "-"
        )
        ratio = f"{row.ratio:.2f}x" if row.ratio is not None else "-"
        lines.append(
            [label, f"{fmt(row.ours)} {row.unit}", ref, ratio, row.target_text(), row.status]
        )
    widths = [max([len(h)] + [len(line[i]) for line in lines]) for i, h in enumerate(header)]
    out = [
        "| " + " | ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)) + " |",
        "|" + "|".join("-" * (w + 2) for w in widths) + "|",
    ]
    out += [
        "| " + " | ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)) + " |"
        for line in lines
    ]
    out += [""] + [f"[{i}] {note}" for i, note in enumerate(notes, 1)]
    return "\n".join(out)


def write_json(path: Path, rows: list[Row], meta: dict[str, Any]) -> None:
    payload = {"meta": meta, "rows": [r.as_json() for r in rows]}
    path.write_text(json.dumps(payload, indent=2, default=str) + "\n", encoding="utf-8")
