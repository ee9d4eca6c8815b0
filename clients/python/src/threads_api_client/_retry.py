"""When to send a request again, and after how long.

A request is sent again after a connection error or a timeout (the server may or may not
have done it: creates carry an Idempotency-Key, so doing it twice is impossible), and after
an answer that says "not now": 409 idempotency_in_flight, 429 and 503. Never after any other
error answer: it would only fail again, or (409 thread_closed) be refused again. Operations
that are not idempotent and take no Idempotency-Key (webhooks.rotate_secret,
webhooks.retry_delivery) are never sent again: see `Operation.retried`.
"""

import random
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import httpx

from threads_api_client._exceptions import problem_of

INITIAL_DELAY = 0.5
MAX_DELAY = 8.0
# A Retry-After longer than this is not waited for; the usual backoff is used instead.
MAX_RETRY_AFTER = 60.0
RETRYABLE_STATUSES = frozenset({429, 503})


def should_retry(response: httpx.Response) -> bool:
    if response.status_code in RETRYABLE_STATUSES:
        return True
    return (
        response.status_code == 409 and problem_of(response).get("code") == "idempotency_in_flight"
    )


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds from a Retry-After header: delta-seconds or an HTTP date (RFC 9110 §10.2.3)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    seconds: float = (when - (now or datetime.now(UTC))).total_seconds()
    return max(0.0, seconds)


def retry_delay(retries_done: int, retry_after: str | None = None) -> float:
    """The wait before the next attempt: what Retry-After says when the server said it (up to
    MAX_RETRY_AFTER), else exponential backoff from INITIAL_DELAY up to MAX_DELAY, less up to
    a quarter at random, so that many clients that failed together do not retry together."""
    asked = parse_retry_after(retry_after)
    if asked is not None and asked <= MAX_RETRY_AFTER:
        return asked
    backoff = min(INITIAL_DELAY * 2.0**retries_done, MAX_DELAY)
    return backoff * (1 - 0.25 * random.random())
