"""Webhook endpoints and their deliveries log (contract §15). Sending is dispatcher.py's,
but for a manual retry, which sends at once and answers with what happened."""

import json
import logging
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from threads_api.api_key import repository as api_key_repository
from threads_api.api_key.errors import UnknownSpace
from threads_api.config import Settings
from threads_api.db import Database
from threads_api.event.service import StoredEvent
from threads_api.kit.crypto import SecretBox
from threads_api.kit.etag import check_if_match, etag_of
from threads_api.kit.ids import is_valid_id, new_id
from threads_api.kit.schemas import utcnow
from threads_api.models import Webhook as WebhookRow
from threads_api.models import WebhookDelivery as DeliveryRow
from threads_api.webhook import repository, sender, signing
from threads_api.webhook.address import without_query
from threads_api.webhook.errors import DeliveryNotFound, EventPurged, WebhookNotFound
from threads_api.webhook.schemas import (
    Webhook,
    WebhookCreate,
    WebhookDelivery,
    WebhookUpdate,
    WebhookWithSecret,
)

logger = logging.getLogger("threads_api.webhook")

GONE_REASON = "the endpoint answered 410 Gone"


def _to_schema(row: WebhookRow) -> Webhook:
    return Webhook.model_validate(row)


UNREADABLE_SECRET = (
    "the signing secret cannot be decrypted (was THREADS_API_SECRET_KEY changed?): rotate it"
)


def live_secrets(box: SecretBox, sealed: str, now: datetime) -> list[str]:
    """The secrets that sign now: the current one first, then rotated ones not yet expired.
    Raises ValueError when they were sealed under another key."""
    entries = json.loads(box.open(sealed))
    return [
        entry["secret"]
        for entry in entries
        if entry["expires_at"] is None or datetime.fromisoformat(entry["expires_at"]) > now
    ]


def _sealed(box: SecretBox, current: str, old: list[tuple[str, datetime]]) -> str:
    entries = [{"secret": current, "expires_at": None}] + [
        {"secret": secret, "expires_at": expires_at.isoformat()} for secret, expires_at in old
    ]
    return box.seal(json.dumps(entries))


async def send_event(
    box: SecretBox, settings: Settings, url: str, sealed: str, event: StoredEvent, now: datetime
) -> sender.Outcome:
    """One attempt: the event as it is in the log now, signed with every live secret."""
    try:
        secrets = live_secrets(box, sealed, now)
    except ValueError:
        return sender.Outcome(None, UNREADABLE_SECRET, 0)
    body = event.to_json().encode()
    return await sender.post(
        url,
        body,
        signing.headers(secrets, event.id, int(now.timestamp()), body),
        timeout=settings.webhook_timeout_seconds,
        allow_private=settings.webhooks_allow_private,
    )


def log_attempt(
    webhook_id: str, url: str, event_id: str, attempt: int, outcome: sender.Outcome
) -> None:
    """One JSON line per attempt; the URL without its query string, which can hold a token."""
    logger.info(
        "webhook delivery %s",
        "succeeded" if outcome.succeeded else "failed",
        extra={
            "webhook_attempt": {
                "webhook_id": webhook_id,
                "url": without_query(url),
                "event_id": event_id,
                "attempt": attempt,
                "status_code": outcome.status_code,
                "duration_ms": outcome.duration_ms,
                "error": outcome.error,
            }
        },
    )


class WebhookService:
    async def create(
        self, session: AsyncSession, box: SecretBox, body: WebhookCreate
    ) -> WebhookWithSecret:
        await self._check_spaces(session, body.space_ids)
        secret = signing.new_secret()
        now = utcnow()
        row = WebhookRow(
            id=new_id("whk"),
            url=body.url,
            space_ids=body.space_ids,
            types=body.types,
            description=body.description,
            enabled=True,
            disabled_reason=None,
            enabled_at=now,
            failing_since=None,
            secrets=_sealed(box, secret, []),
            created_at=now,
            updated_at=now,
        )
        await repository.add(session, row)
        return WebhookWithSecret(**_to_schema(row).model_dump(), secret=secret)

    async def get(self, session: AsyncSession, webhook_id: str) -> Webhook:
        return _to_schema(await self._row(session, webhook_id))

    async def page(
        self, session: AsyncSession, *, after_id: str | None, limit: int
    ) -> tuple[list[Webhook], bool]:
        rows = await repository.page(session, after_id=after_id, limit=limit)
        return [_to_schema(row) for row in rows[:limit]], len(rows) > limit

    async def update(
        self, session: AsyncSession, webhook_id: str, patch: WebhookUpdate, *, if_match: str | None
    ) -> Webhook:
        row = await self._row(session, webhook_id)
        check_if_match(if_match, etag_of(_to_schema(row)), what="webhook")
        sent = patch.model_fields_set
        changes: dict[str, object] = {
            name: getattr(patch, name)
            for name in ("url", "space_ids", "types", "description", "enabled")
            if name in sent and getattr(row, name) != getattr(patch, name)
        }
        if "space_ids" in changes:
            await self._check_spaces(session, patch.space_ids)
        if not changes:
            return _to_schema(row)  # same values: updated_at stays, as everywhere
        now = utcnow()
        for name, value in changes.items():
            setattr(row, name, value)
        if changes.get("enabled") is True:
            # From now on, not from when it was disabled: re-enabling does not backfill.
            row.enabled_at, row.disabled_reason, row.failing_since = now, None, None
        elif changes.get("enabled") is False:
            row.disabled_reason = None
        row.updated_at = now
        await session.flush()  # the webhook's row first, then its jobs: repository.lock
        if changes.get("enabled") is False:
            await repository.drop_jobs(session, row.id)
        return _to_schema(row)

    async def delete(
        self, session: AsyncSession, webhook_id: str, *, if_match: str | None
    ) -> Webhook:
        """Gone with its pending jobs and deliveries log; the webhook as it was."""
        row = await self._row(session, webhook_id)
        removed = _to_schema(row)
        check_if_match(if_match, etag_of(removed), what="webhook")
        await repository.remove(session, row)
        return removed

    async def rotate_secret(
        self, session: AsyncSession, box: SecretBox, webhook_id: str, expire_old_in: timedelta
    ) -> WebhookWithSecret:
        """A new secret; the old ones keep signing next to it until they expire."""
        row = await self._row(session, webhook_id)
        now = utcnow()
        try:
            entries = json.loads(box.open(row.secrets))
        except ValueError:
            entries = []  # sealed under another THREADS_API_SECRET_KEY: start afresh
        # Earlier rotations' secrets expire by the new deadline too: after a leak, 0 stops
        # every old secret at once, not only the latest.
        deadline = now + expire_old_in
        old = [
            (entry["secret"], min(datetime.fromisoformat(entry["expires_at"]), deadline))
            for entry in entries[1:]
            if min(datetime.fromisoformat(entry["expires_at"]), deadline) > now
        ]
        if entries and expire_old_in > timedelta(0):
            old.insert(0, (entries[0]["secret"], now + expire_old_in))
        secret = signing.new_secret()
        row.secrets = _sealed(box, secret, old)
        row.updated_at = now
        await session.flush()
        return WebhookWithSecret(**_to_schema(row).model_dump(), secret=secret)

    # --- the deliveries log -------------------------------------------------------------

    async def deliveries(
        self, session: AsyncSession, webhook_id: str, *, before_id: str | None, limit: int
    ) -> tuple[list[WebhookDelivery], bool]:
        await self._row(session, webhook_id)
        rows = await repository.delivery_page(session, webhook_id, before_id=before_id, limit=limit)
        return [WebhookDelivery.model_validate(row) for row in rows[:limit]], len(rows) > limit

    async def retry(
        self, db: Database, box: SecretBox, settings: Settings, webhook_id: str, delivery_id: str
    ) -> WebhookDelivery:
        """Send a delivery's event again, now, and record the attempt. No session is held
        while the endpoint answers; a success settles what was still pending for it."""
        async with db.reader() as session, session.begin():
            row = await self._row(session, webhook_id)
            delivery = await self._delivery(session, webhook_id, delivery_id)
            found = await repository.events_at(session, [(delivery.space_id, delivery.position)])
            if not found:
                raise EventPurged("The event of this delivery has been purged; it cannot be sent.")
            event = StoredEvent.of(found[0])
            attempt = await repository.last_attempt(session, webhook_id, event.id) + 1
            url, sealed = row.url, row.secrets
        outcome = await send_event(box, settings, url, sealed, event, utcnow())
        log_attempt(webhook_id, url, event.id, attempt, outcome)
        record = new_delivery(webhook_id, event, attempt, outcome, next_retry_at=None)
        async with db.writer() as session, session.begin():
            if not await repository.lock(session, [webhook_id]):
                raise WebhookNotFound()  # deleted while the endpoint answered
            await repository.add_deliveries(session, [record])
            if outcome.succeeded:
                await repository.finish_jobs_of_event(
                    session, webhook_id, event.space_id, event.position
                )
                await repository.mark_succeeding(session, webhook_id)
            elif outcome.status_code == 410:
                await repository.disable(session, webhook_id, GONE_REASON, utcnow())
        return WebhookDelivery.model_validate(record)

    # --- helpers -------------------------------------------------------------------------

    @staticmethod
    async def _check_spaces(session: AsyncSession, space_ids: list[str] | None) -> None:
        if not space_ids:
            return
        missing = set(space_ids) - await api_key_repository.existing_space_ids(session, space_ids)
        if missing:
            raise UnknownSpace(
                errors=[{"loc": ["body", "space_ids"], "message": "unknown space id"}]
            )

    @staticmethod
    async def _row(session: AsyncSession, webhook_id: str) -> WebhookRow:
        row = await repository.get(session, webhook_id) if is_valid_id("whk", webhook_id) else None
        if row is None:
            raise WebhookNotFound()
        return row

    @staticmethod
    async def _delivery(session: AsyncSession, webhook_id: str, delivery_id: str) -> DeliveryRow:
        row = None
        if is_valid_id("dlv", delivery_id):
            row = await repository.get_delivery(session, webhook_id, delivery_id)
        if row is None:
            raise DeliveryNotFound()
        return row


def new_delivery(
    webhook_id: str,
    event: StoredEvent,
    attempt: int,
    outcome: sender.Outcome,
    *,
    next_retry_at: datetime | None,
) -> dict[str, object]:
    """A row of the deliveries log: ids and the outcome, no content."""
    return {
        "id": new_id("dlv"),
        "webhook_id": webhook_id,
        "event_id": event.id,
        "space_id": event.space_id,
        "position": event.position,
        "attempt": attempt,
        "status_code": outcome.status_code,
        "duration_ms": outcome.duration_ms,
        "error": outcome.error,
        "next_retry_at": next_retry_at,
        "created_at": utcnow(),
    }


webhook = WebhookService()
