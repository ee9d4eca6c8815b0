"""All SQL of webhooks: endpoints, the dispatcher's cursors and jobs, the deliveries log."""

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, delete, func, insert, literal, null, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from threads_api.kit.ids import first_id_at
from threads_api.kit.pagination import keyset_page
from threads_api.models import (
    Event,
    EventCounter,
    Webhook,
    WebhookCursor,
    WebhookDelivery,
    WebhookJob,
)

webhooks = cast(Table, Webhook.__table__)
cursors = cast(Table, WebhookCursor.__table__)
jobs = cast(Table, WebhookJob.__table__)
deliveries = cast(Table, WebhookDelivery.__table__)
events = cast(Table, Event.__table__)
counters = cast(Table, EventCounter.__table__)


def _insert(session: AsyncSession, table: Table) -> Any:
    dialect = session.get_bind().dialect.name
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)


# --- endpoints ----------------------------------------------------------------------------


async def add(session: AsyncSession, row: Webhook) -> None:
    session.add(row)
    await session.flush()


async def get(session: AsyncSession, webhook_id: str) -> Webhook | None:
    return await session.get(Webhook, webhook_id)


async def page(session: AsyncSession, *, after_id: str | None, limit: int) -> Sequence[Webhook]:
    query = keyset_page(
        select(Webhook),
        [Webhook.id.expression],
        None if after_id is None else [after_id],
        order="asc",
        limit=limit,
    )
    return (await session.scalars(query)).all()


async def lock(session: AsyncSession, webhook_ids: Collection[str]) -> set[str]:
    """Lock these webhooks' rows until the transaction ends; the ids that exist.

    The lock order of webhooks: a transaction that changes a webhook's jobs locks the
    webhook's row first (a DELETE of a webhook does, and then its jobs by the foreign key's
    cascade). Taking them the other way round, PostgreSQL found deadlocks between the
    dispatcher recording outcomes and an endpoint being deleted. In id order, so that two
    such transactions never hold one each. SQLite has one writer: nothing to order."""
    query = (
        select(webhooks.c.id)
        .where(webhooks.c.id.in_(sorted(webhook_ids)))
        .order_by(webhooks.c.id)
        .with_for_update(key_share=True)  # FOR NO KEY UPDATE: as an UPDATE of the row locks it
    )
    return set((await session.scalars(query)).all())


async def remove(session: AsyncSession, row: Webhook) -> None:
    await session.delete(row)
    await session.flush()


async def drop_jobs(session: AsyncSession, webhook_id: str) -> None:
    """A disabled endpoint is owed nothing: re-enabling does not backfill."""
    await session.execute(delete(jobs).where(jobs.c.webhook_id == webhook_id))


# --- fan-out: events into jobs ------------------------------------------------------------


async def add_missing_cursors(session: AsyncSession) -> None:
    """A cursor for each space with events and none yet: a space made after the migration,
    whose every event is new."""
    known = select(cursors.c.space_id)
    query = (
        _insert(session, cursors)
        .from_select(
            ["space_id", "position"],
            select(counters.c.space_id, counters.c.purged_through).where(
                counters.c.space_id.not_in(known)
            ),
        )
        .on_conflict_do_nothing()
    )
    await session.execute(query)


async def spaces_behind(session: AsyncSession) -> Sequence[Any]:
    """(space_id, last_position) of each space with events past its cursor."""
    query = select(counters.c.space_id, counters.c.last_position).join(
        cursors,
        (cursors.c.space_id == counters.c.space_id)
        & (counters.c.last_position > cursors.c.position),
    )
    return (await session.execute(query)).all()


async def fast_forward(session: AsyncSession, space_id: str, position: int) -> None:
    await session.execute(
        update(cursors)
        .where(cursors.c.space_id == space_id, cursors.c.position < position)
        .values(position=position)
    )


async def lock_cursor(session: AsyncSession, space_id: str) -> int | None:
    """The space's cursor, locked until the transaction ends; None when another process
    holds it (PostgreSQL; on SQLite the writer's lock already makes this one process)."""
    query = (
        select(cursors.c.position)
        .where(cursors.c.space_id == space_id)
        .with_for_update(skip_locked=True)
    )
    position = await session.scalar(query)
    return None if position is None else int(position)


async def any_enabled(session: AsyncSession) -> bool:
    query = select(webhooks.c.id).where(webhooks.c.enabled).limit(1)
    return await session.scalar(query) is not None


async def enabled_webhooks(session: AsyncSession) -> Sequence[Any]:
    query = select(webhooks.c.id, webhooks.c.space_ids, webhooks.c.types, webhooks.c.enabled_at)
    return (await session.execute(query.where(webhooks.c.enabled))).all()


async def add_jobs(
    session: AsyncSession, hook: Any, space_id: str, *, after: int, through: int, now: datetime
) -> None:
    """A job due now for each event of the space in (after, through] that the webhook wants
    (its types, made since it was enabled): in one statement, the events never leaving the
    database."""
    wanted = select(
        literal(hook.id),
        events.c.space_id,
        events.c.position,
        events.c.id,
        literal(0),
        literal(now, jobs.c.next_attempt_at.type),
        null(),
    ).where(
        events.c.space_id == space_id,
        events.c.position > after,
        events.c.position <= through,
        events.c.created_at >= hook.enabled_at,
    )
    if hook.types is not None:
        wanted = wanted.where(events.c.type.in_(hook.types))
    columns = ["webhook_id", "space_id", "position", "event_id", "attempts", "next_attempt_at"]
    query = _insert(session, jobs).from_select([*columns, "lease_until"], wanted)
    await session.execute(query.on_conflict_do_nothing())


async def move_cursor(session: AsyncSession, space_id: str, position: int) -> None:
    await session.execute(
        update(cursors).where(cursors.c.space_id == space_id).values(position=position)
    )


# --- sending: claims and outcomes ---------------------------------------------------------


async def webhooks_with_due_jobs(session: AsyncSession, now: datetime, limit: int) -> list[str]:
    """Enabled webhooks with a job due, each found through its jobs' index: what this costs
    does not grow with the jobs waiting (a backlog, a dead endpoint's retries)."""
    due = select(jobs.c.id).where(
        jobs.c.webhook_id == webhooks.c.id,
        jobs.c.next_attempt_at <= now,
        (jobs.c.lease_until.is_(None)) | (jobs.c.lease_until < now),
    )
    query = select(webhooks.c.id).where(webhooks.c.enabled, due.exists()).limit(limit)
    return list((await session.scalars(query)).all())


async def claim(
    session: AsyncSession, webhook_id: str, now: datetime, lease_until: datetime, limit: int
) -> Sequence[Any]:
    """Lease up to `limit` due jobs of one webhook, oldest due first: no other process takes
    them until `lease_until` (PostgreSQL skips rows another claim holds; SQLite has one
    writer at a time)."""
    due = (
        select(jobs.c.id)
        .where(
            jobs.c.webhook_id == webhook_id,
            jobs.c.next_attempt_at <= now,
            (jobs.c.lease_until.is_(None)) | (jobs.c.lease_until < now),
        )
        .order_by(jobs.c.next_attempt_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    query = (
        update(jobs)
        .where(jobs.c.id.in_(due.scalar_subquery()))
        .values(lease_until=lease_until)
        .returning(jobs.c.id, jobs.c.space_id, jobs.c.position, jobs.c.event_id, jobs.c.attempts)
    )
    return (await session.execute(query)).all()


async def webhooks_by_id(session: AsyncSession, webhook_ids: Collection[str]) -> Sequence[Webhook]:
    return (await session.scalars(select(Webhook).where(Webhook.id.in_(webhook_ids)))).all()


async def events_at(session: AsyncSession, places: Sequence[tuple[str, int]]) -> Sequence[Any]:
    """The events at these (space_id, position) places that are still in the log."""
    if not places:
        return []
    by_space: dict[str, list[int]] = {}
    for space_id, position in places:
        by_space.setdefault(space_id, []).append(position)
    # Per space through the primary key: SQLite answers `(space_id, position) IN (…)` by
    # scanning the whole log (25 ms a claim at 80,000 events).
    query = select(events).where(
        or_(
            *(
                (events.c.space_id == space_id) & events.c.position.in_(positions)
                for space_id, positions in by_space.items()
            )
        )
    )
    return (await session.execute(query)).all()


async def finish_jobs(session: AsyncSession, job_ids: list[int], lease_until: datetime) -> None:
    """Delete the jobs of one claim that this process still holds."""
    await session.execute(
        delete(jobs).where(jobs.c.id.in_(job_ids), jobs.c.lease_until == lease_until)
    )


async def finish_jobs_of_event(
    session: AsyncSession, webhook_id: str, space_id: str, position: int
) -> None:
    await session.execute(
        delete(jobs).where(
            jobs.c.webhook_id == webhook_id,
            jobs.c.space_id == space_id,
            jobs.c.position == position,
        )
    )


async def reschedule_job(
    session: AsyncSession, job_id: int, lease_until: datetime, attempts: int, due: datetime
) -> bool:
    result = await session.execute(
        update(jobs)
        .where(jobs.c.id == job_id, jobs.c.lease_until == lease_until)
        .values(attempts=attempts, next_attempt_at=due, lease_until=None)
    )
    return bool(getattr(result, "rowcount", 0))


async def mark_succeeding(session: AsyncSession, webhook_id: str) -> None:
    await session.execute(
        update(webhooks)
        .where(webhooks.c.id == webhook_id, webhooks.c.failing_since.is_not(None))
        .values(failing_since=None)
    )


async def mark_failing(session: AsyncSession, webhook_id: str, now: datetime) -> datetime | None:
    """Note the first failure since the last success; when the endpoint began failing (None
    if it is gone or disabled)."""
    await session.execute(
        update(webhooks)
        .where(webhooks.c.id == webhook_id, webhooks.c.failing_since.is_(None))
        .values(failing_since=now)
    )
    query = select(webhooks.c.failing_since).where(webhooks.c.id == webhook_id, webhooks.c.enabled)
    return cast(datetime | None, await session.scalar(query))


async def disable(session: AsyncSession, webhook_id: str, reason: str, now: datetime) -> None:
    await session.execute(
        update(webhooks)
        .where(webhooks.c.id == webhook_id, webhooks.c.enabled)
        .values(enabled=False, disabled_reason=reason, failing_since=None, updated_at=now)
    )
    await drop_jobs(session, webhook_id)


# --- the deliveries log -------------------------------------------------------------------


async def add_deliveries(session: AsyncSession, values: list[dict[str, Any]]) -> None:
    if values:
        await session.execute(insert(deliveries), values)


async def delivery_page(
    session: AsyncSession, webhook_id: str, *, before_id: str | None, limit: int
) -> Sequence[WebhookDelivery]:
    query = keyset_page(
        select(WebhookDelivery).where(WebhookDelivery.webhook_id == webhook_id),
        [WebhookDelivery.id.expression],
        None if before_id is None else [before_id],
        order="desc",
        limit=limit,
    )
    return (await session.scalars(query)).all()


async def get_delivery(
    session: AsyncSession, webhook_id: str, delivery_id: str
) -> WebhookDelivery | None:
    row = await session.get(WebhookDelivery, delivery_id)
    return row if row is not None and row.webhook_id == webhook_id else None


async def last_attempt(session: AsyncSession, webhook_id: str, event_id: str) -> int:
    query = select(func.max(deliveries.c.attempt)).where(
        deliveries.c.webhook_id == webhook_id, deliveries.c.event_id == event_id
    )
    return int(await session.scalar(query) or 0)


async def purge_deliveries(session: AsyncSession, before: datetime) -> None:
    """Delete the log's attempts made before `before`, through the primary key (ids sort by
    when they were made)."""
    await session.execute(delete(deliveries).where(deliveries.c.id < first_id_at("dlv", before)))
