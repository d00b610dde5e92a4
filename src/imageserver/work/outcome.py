"""The outcome of one attempt at one work item, and the one rule for retrying or giving up.

`done`, `failed` (permanent: never retried) or `retry` (transient: retried after an
exponential backoff). Whether a transient failure is given up is decided here only, by
`settle`: a drain declares its `GiveUp` policy once, an outcome may carry a tighter limit
of its own (a crash nobody understands, a tool that keeps writing half a playlist), and an
outage of something the item does not own (a disk, a service) is `retry_forever`: backed
off, never given up, because the item is not at fault.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

Status = Literal["done", "failed", "retry"]  # plus "pending": leased, not yet attempted

BACKOFF_BASE = 60.0
BACKOFF_MAX = 6 * 3600.0

# Crashes we do not understand: retried, failed for good after this many tries, so one
# poisonous file cannot keep a drain busy forever.
UNEXPECTED_GIVE_UP = 3


@dataclass(frozen=True)
class Outcome:
    status: Status
    detail: str | None = None
    # This outcome's own give-up limit, tighter than the drain's (None: the drain's policy).
    give_up_after: int | None = None
    # An outage, not the item's fault: retried with backoff indefinitely whatever the policy.
    forever: bool = False

    @classmethod
    def done(cls, detail: str | None = None) -> Outcome:
        return cls("done", detail)

    @classmethod
    def failed(cls, reason: str) -> Outcome:
        return cls("failed", reason)

    @classmethod
    def retry(cls, reason: str) -> Outcome:
        return cls("retry", reason)

    @classmethod
    def retry_forever(cls, reason: str) -> Outcome:
        return cls("retry", reason, forever=True)

    @classmethod
    def unexpected(cls, exc: BaseException) -> Outcome:
        return cls("retry", f"unexpected {type(exc).__name__}: {exc}", UNEXPECTED_GIVE_UP)

    @property
    def permanent(self) -> bool:
        return self.status == "failed"


@dataclass(frozen=True)
class GiveUp:
    """A drain's retry policy: give up a transient failure at the `after`-th attempt (None:
    only outcomes with their own limit are ever given up). `say` prefixes the detail with
    "gave up after N attempts: " so the listing shows why a retry became permanent."""

    after: int | None = None
    say: bool = True


NEVER = GiveUp()


def settle(outcome: Outcome, attempts: int, policy: GiveUp = NEVER) -> Outcome:
    """The outcome to record for the `attempts`-th attempt (this one included)."""
    if outcome.status != "retry" or outcome.forever:
        return outcome
    limit = outcome.give_up_after or policy.after
    if limit is None or attempts < limit:
        return outcome
    detail = outcome.detail
    if policy.say or outcome.give_up_after:
        detail = f"gave up after {attempts} attempts: {detail}"
    return replace(outcome, status="failed", detail=detail)


def backoff(attempts: int) -> float:
    """Seconds to wait after the n-th transient failure: 1, 2, 4 ... minutes, capped at 6 h."""
    return float(min(BACKOFF_MAX, BACKOFF_BASE * 2 ** max(0, attempts - 1)))
