"""Limits on identity guesses and one-time codes, counted by what is attacked rather than by who asks.

A per-conversation limit is no limit: an attacker simply rotates user ids. So wrong answers
are counted per entity (the secret being guessed belongs to it), and also per client address
and per user, and reaching a limit locks that subject for everyone. Each lock that follows an
earlier one within a day lasts twice as long, so a patient attacker gains nothing by waiting
out the first. Codes are limited per phone whoever asks (an SMS flood hits the phone's owner),
and per client address and user too.

Pure rules over stored counters; the chat store reads and writes them inside the turn.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum


class Scope(StrEnum):
    ENTITY = "entity"
    CLIENT = "client"
    USER = "user"


@dataclass(frozen=True)
class ThrottleLimits:
    """The configurable defaults (see `bot.config.Settings` for their environment variables)."""

    entity_failures: int = 5
    #: A user or an address may try several entities (an accountant, an office behind one NAT).
    user_failures: int = 10
    client_failures: int = 20
    window: timedelta = timedelta(minutes=15)
    lock: timedelta = timedelta(minutes=15)
    max_lock: timedelta = timedelta(hours=24)
    #: Locks further apart than this start doubling from the base duration again.
    lock_memory: timedelta = timedelta(hours=24)
    codes_per_phone_hour: int = 5
    phone_interval: timedelta = timedelta(seconds=60)
    codes_per_client_hour: int = 20
    codes_per_user_hour: int = 5

    def failures_allowed(self, scope: Scope) -> int:
        return {
            Scope.ENTITY: self.entity_failures,
            Scope.CLIENT: self.client_failures,
            Scope.USER: self.user_failures,
        }[scope]


@dataclass(frozen=True)
class Counter:
    """Failures in the current window, and the lock (current or last) of one subject."""

    failures: int
    window_start: datetime
    locked_until: datetime | None = None
    locks: int = 0

    def lock_end(self, now: datetime) -> datetime | None:
        """When the current lock ends; None when the subject is not locked."""
        return self.locked_until if self.locked_until is not None and self.locked_until > now else None


def after_failure(counter: Counter | None, scope: Scope, now: datetime, limits: ThrottleLimits) -> Counter:
    """The counter once one more wrong answer is counted; it is locked when that reaches the limit.

    A lock restarts the window with no failures, so no slip from before a lock outlives it.
    """
    if counter is None:
        failures, window_start, last_lock, locks = 1, now, None, 0
    else:
        last_lock, locks = counter.locked_until, counter.locks
        if last_lock is not None and last_lock + limits.lock_memory <= now:
            locks = 0
        if counter.window_start + limits.window <= now:
            failures, window_start = 1, now
        else:
            failures, window_start = counter.failures + 1, counter.window_start
    if failures >= limits.failures_allowed(scope):
        locks += 1
        duration = min(limits.lock * 2 ** (locks - 1), limits.max_lock)
        return Counter(failures=0, window_start=now, locked_until=now + duration, locks=locks)
    return Counter(failures=failures, window_start=window_start, locked_until=last_lock, locks=locks)


def remaining(counter: Counter, scope: Scope, limits: ThrottleLimits) -> int:
    return max(0, limits.failures_allowed(scope) - counter.failures)


@dataclass(frozen=True)
class SentCodes:
    """Codes sent in the last hour to one phone, by one client address and by one user."""

    to_phone: int = 0
    first_to_phone: datetime | None = None
    last_to_phone: datetime | None = None
    by_client: int = 0
    first_by_client: datetime | None = None
    by_user: int = 0
    first_by_user: datetime | None = None


HOUR = timedelta(hours=1)


def next_code_allowed(sent: SentCodes, now: datetime, limits: ThrottleLimits) -> datetime | None:
    """When another code may be sent, or None when it may be sent now."""
    waits = []
    if sent.last_to_phone is not None and sent.last_to_phone + limits.phone_interval > now:
        waits.append(sent.last_to_phone + limits.phone_interval)
    for count, first, limit in (
        (sent.to_phone, sent.first_to_phone, limits.codes_per_phone_hour),
        (sent.by_client, sent.first_by_client, limits.codes_per_client_hour),
        (sent.by_user, sent.first_by_user, limits.codes_per_user_hour),
    ):
        if count >= limit and first is not None:
            waits.append(first + HOUR)
    later = [moment for moment in waits if moment > now]
    return max(later) if later else None
