"""Which snapshots a retention policy keeps: last N, per hour/day/week/month/year, within an age,
and per trigger (`pre-install=30d` keeps pre-install snapshots younger than 30 days,
`pre-install=5` the last five of them)."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Callable, Iterable

from bodega import errors

TRIGGERS = ("system", "manual", "pre-install", "post-install")
_DURATION = re.compile(r"^(\d+)([hdwmy])$")
_UNIT = {"h": timedelta(hours=1), "d": timedelta(days=1), "w": timedelta(weeks=1),
         "m": timedelta(days=30), "y": timedelta(days=365)}


@dataclass(frozen=True)
class Candidate:
    """What retention needs to know of a snapshot."""

    id: str
    created_at: datetime
    trigger: str


@dataclass
class Policy:
    """Keep rules; a snapshot any rule keeps is kept, the others are forgotten."""

    last: int = 0
    hourly: int = 0
    daily: int = 0
    weekly: int = 0
    monthly: int = 0
    yearly: int = 0
    within: timedelta | None = None
    by_trigger: dict[str, int | timedelta] = field(default_factory=dict)

    def is_empty(self) -> bool:
        """True when no rule is given (which would forget everything: refused)."""
        return not (self.last or self.hourly or self.daily or self.weekly or self.monthly or self.yearly
                    or self.within or self.by_trigger)


def parse_duration(text: str) -> timedelta:
    """'30d' -> 30 days (units h, d, w, m = 30 days, y = 365 days)."""
    m = _DURATION.match(text.strip())
    if not m or int(m.group(1)) == 0:
        raise errors.RetentionInvalid(f"not a duration (like 12h, 30d, 4w, 6m, 1y): {text!r}")
    return int(m.group(1)) * _UNIT[m.group(2)]


def parse_trigger_rule(text: str) -> tuple[str, int | timedelta]:
    """'pre-install=30d' -> ('pre-install', 30 days); 'manual=5' -> ('manual', 5)."""
    trigger, sep, value = text.partition("=")
    trigger = trigger.strip()
    if not sep or trigger not in TRIGGERS:
        raise errors.RetentionInvalid(
            f"a trigger rule is TRIGGER=N or TRIGGER=AGE with TRIGGER one of {', '.join(TRIGGERS)}: {text!r}")
    value = value.strip()
    if value.isdigit():
        if int(value) == 0:
            raise errors.RetentionInvalid(f"keep at least one snapshot in {text!r}")
        return trigger, int(value)
    return trigger, parse_duration(value)


def _buckets(cands: list[Candidate], n: int, key: Callable[[datetime], object], reason: str,
             reasons: dict[str, list[str]]) -> None:
    """Keeps the newest snapshot of each of the n newest periods that have one."""
    seen: set[object] = set()
    for c in cands:  # newest first
        if len(seen) >= n:
            break
        k = key(c.created_at)
        if k not in seen:
            seen.add(k)
            reasons.setdefault(c.id, []).append(reason)


def select(snapshots: Iterable[Candidate], policy: Policy, now: datetime | None = None
           ) -> tuple[list[str], list[str], dict[str, list[str]]]:
    """(ids kept, ids forgotten, why each kept one is kept), newest first."""
    if policy.is_empty():
        raise errors.RetentionInvalid("no keep rule given: that would forget every snapshot")
    for name in ("last", "hourly", "daily", "weekly", "monthly", "yearly"):
        if getattr(policy, name) < 0:
            raise errors.RetentionInvalid(f"--keep-{name} cannot be negative")
    now = now or datetime.now(timezone.utc)
    cands = sorted(snapshots, key=lambda c: c.created_at, reverse=True)
    reasons: dict[str, list[str]] = {}
    for c in cands[:policy.last]:
        reasons.setdefault(c.id, []).append("last")
    _buckets(cands, policy.hourly, lambda t: (t.year, t.month, t.day, t.hour), "hourly", reasons)
    _buckets(cands, policy.daily, lambda t: t.date(), "daily", reasons)
    _buckets(cands, policy.weekly, lambda t: t.isocalendar()[:2], "weekly", reasons)
    _buckets(cands, policy.monthly, lambda t: (t.year, t.month), "monthly", reasons)
    _buckets(cands, policy.yearly, lambda t: t.year, "yearly", reasons)
    if policy.within is not None:
        for c in cands:
            if now - c.created_at <= policy.within:
                reasons.setdefault(c.id, []).append("within")
    for trigger, rule in policy.by_trigger.items():
        of_trigger = [c for c in cands if c.trigger == trigger]
        for i, c in enumerate(of_trigger):
            if (isinstance(rule, int) and i < rule) or (isinstance(rule, timedelta) and now - c.created_at <= rule):
                reasons.setdefault(c.id, []).append(f"trigger {trigger}")
    keep = [c.id for c in cands if c.id in reasons]
    forget = [c.id for c in cands if c.id not in reasons]
    return keep, forget, reasons
