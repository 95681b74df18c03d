"""The throttle rules alone: windows, locks that double, and when the next code may go out."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.config import Settings
from core.throttle import Counter, Scope, SentCodes, ThrottleLimits, after_failure, next_code_allowed

T0 = datetime(2026, 12, 4, 2, 0, tzinfo=UTC)
LIMITS = ThrottleLimits()


def _fail(times: int, start: datetime = T0, counter: Counter | None = None, step=timedelta(seconds=1)):
    for n in range(times):
        counter = after_failure(counter, Scope.ENTITY, start + n * step, LIMITS)
    return counter


def test_failures_count_within_the_window_and_the_fifth_locks() -> None:
    assert _fail(4) == Counter(failures=4, window_start=T0, locked_until=None, locks=0)
    locked_at = T0 + timedelta(seconds=4)
    assert _fail(5) == Counter(
        failures=0, window_start=locked_at, locked_until=locked_at + timedelta(minutes=15), locks=1
    )


def test_a_failure_after_the_window_starts_a_new_one() -> None:
    later = T0 + timedelta(minutes=15)
    assert after_failure(_fail(4), Scope.ENTITY, later, LIMITS) == Counter(1, later, None, 0)


def test_locks_double_and_are_forgotten_after_a_day() -> None:
    first = _fail(5)
    second = _fail(5, start=first.locked_until, counter=first)
    assert second.locks == 2
    assert second.locked_until - second.window_start == timedelta(minutes=30)
    third = _fail(5, start=second.locked_until, counter=second)
    assert third.locked_until - third.window_start == timedelta(minutes=60)
    rested = _fail(5, start=third.locked_until + timedelta(hours=24), counter=third)
    assert (rested.locks, rested.locked_until - rested.window_start) == (1, timedelta(minutes=15))


def test_a_lock_never_exceeds_the_maximum() -> None:
    counter = Counter(failures=4, window_start=T0, locked_until=T0 - timedelta(seconds=1), locks=20)
    locked = after_failure(counter, Scope.ENTITY, T0, LIMITS)
    assert locked.locked_until == T0 + timedelta(hours=24)


def test_scopes_have_their_own_limits() -> None:
    counter = None
    for n in range(9):
        counter = after_failure(counter, Scope.USER, T0 + timedelta(seconds=n), LIMITS)
    assert counter.lock_end(T0 + timedelta(seconds=9)) is None
    assert after_failure(counter, Scope.USER, T0 + timedelta(seconds=9), LIMITS).locks == 1


def test_the_next_code_waits_for_the_interval_and_the_hourly_limits() -> None:
    assert next_code_allowed(SentCodes(), T0, LIMITS) is None
    recent = SentCodes(to_phone=1, first_to_phone=T0, last_to_phone=T0)
    assert next_code_allowed(recent, T0 + timedelta(seconds=30), LIMITS) == T0 + timedelta(seconds=60)
    assert next_code_allowed(recent, T0 + timedelta(seconds=60), LIMITS) is None
    full = SentCodes(to_phone=5, first_to_phone=T0, last_to_phone=T0 + timedelta(minutes=10))
    assert next_code_allowed(full, T0 + timedelta(minutes=20), LIMITS) == T0 + timedelta(hours=1)
    by_user = SentCodes(by_user=5, first_by_user=T0)
    assert next_code_allowed(by_user, T0 + timedelta(minutes=1), LIMITS) == T0 + timedelta(hours=1)
    by_client = SentCodes(by_client=19, first_by_client=T0)
    assert next_code_allowed(by_client, T0 + timedelta(minutes=1), LIMITS) is None


def test_limits_come_from_the_environment_with_the_documented_defaults() -> None:
    assert Settings.from_env({}).limits == ThrottleLimits()
    env = {
        "CREDITBOT_IDENTITY_MAX_FAILURES": "3",
        "CREDITBOT_IDENTITY_USER_MAX_FAILURES": "4",
        "CREDITBOT_IDENTITY_CLIENT_MAX_FAILURES": "6",
        "CREDITBOT_IDENTITY_LOCK_MINUTES": "30",
        "CREDITBOT_SMS_PHONE_INTERVAL_SECONDS": "90",
        "CREDITBOT_SMS_PHONE_PER_HOUR": "2",
        "CREDITBOT_SMS_CLIENT_PER_HOUR": "7",
        "CREDITBOT_SMS_USER_PER_HOUR": "8",
    }
    assert Settings.from_env(env).limits == ThrottleLimits(
        entity_failures=3,
        user_failures=4,
        client_failures=6,
        lock=timedelta(minutes=30),
        phone_interval=timedelta(seconds=90),
        codes_per_phone_hour=2,
        codes_per_client_hour=7,
        codes_per_user_hour=8,
    )
