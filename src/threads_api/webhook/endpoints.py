from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Header, Request, Response

from threads_api.api_key.errors import UnknownSpace
from threads_api.auth.dependencies import AdminPrincipal
from threads_api.errors import Forbidden, InvalidCursor, PreconditionFailed, error_responses
from threads_api.idempotency.dependencies import IDEMPOTENCY_ERRORS, IdempotencyDep
from threads_api.kit.etag import etag_of, with_etag
from threads_api.kit.pagination import DEFAULT_LIMIT, Cursor, Limit, Page
from threads_api.pages import CursorsDep, build_page
from threads_api.routing import ApiRoute
from threads_api.state import DatabaseDep, SessionDep, app_state
from threads_api.webhook.errors import DeliveryNotFound, EventPurged, WebhookNotFound
from threads_api.webhook.schemas import (
    SecretRotation,
    Webhook,
    WebhookCreate,
    WebhookDelivery,
    WebhookUpdate,
    WebhookWithSecret,
)
from threads_api.webhook.service import webhook as webhook_service

router = APIRouter(prefix="/webhooks", tags=["webhooks"], route_class=ApiRoute)

LIST_BINDING = "webhooks"
DELIVERIES_BINDING = "webhook_deliveries"
IfMatch = Annotated[
    str | None,
    Header(description="The webhook's ETag: answered 412 if it changed since it was read."),
]


@router.post(
    "",
    status_code=201,
    response_model=WebhookWithSecret,
    responses=error_responses(Forbidden, UnknownSpace, *IDEMPOTENCY_ERRORS),
)
async def create_webhook(
    request: Request,
    response: Response,
    _: AdminPrincipal,
    idempotency: IdempotencyDep,
    body: WebhookCreate,
    session: SessionDep,
) -> WebhookWithSecret | Response:
    """Send events to a URL (admin). The response is the only place its signing `secret`
    appears. Accepts `Idempotency-Key`; a replay shows `secret: null`."""
    if replay := await idempotency.replay():
        # Its stored body shows `secret: null`; the tag is still the webhook's own.
        replay.headers["ETag"] = etag_of(Webhook.model_validate_json(bytes(replay.body)))
        return replay
    state = app_state(request)
    created = await webhook_service.create(session, state.webhook_secrets, body)
    state.webhooks.webhooks_changed()
    await idempotency.created(
        created,
        location=f"/v1/webhooks/{created.id}",
        stored=created.model_copy(update={"secret": None}),
    )
    return _with_webhook_etag(response, created)


@router.get("", responses=error_responses(InvalidCursor, Forbidden))
async def list_webhooks(
    request: Request,
    response: Response,
    _: AdminPrincipal,
    session: SessionDep,
    cursors: CursorsDep,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> Page[Webhook]:
    """Every webhook, in creation order (admin). Never a secret."""
    after_id = None if cursor is None else cursors.decode(LIST_BINDING, cursor)[0]
    items, has_more = await webhook_service.page(session, after_id=after_id, limit=limit)
    return build_page(
        request, response, items, has_more, binding=LIST_BINDING, position_of=lambda w: [w.id]
    )


@router.get("/{webhook_id}", responses=error_responses(WebhookNotFound, Forbidden))
async def get_webhook(
    webhook_id: str, _: AdminPrincipal, session: SessionDep, response: Response
) -> Webhook:
    """One webhook (admin)."""
    return with_etag(response, await webhook_service.get(session, webhook_id))


@router.patch(
    "/{webhook_id}",
    responses=error_responses(WebhookNotFound, Forbidden, UnknownSpace, PreconditionFailed),
)
async def update_webhook(
    request: Request,
    webhook_id: str,
    patch: WebhookUpdate,
    _: AdminPrincipal,
    session: SessionDep,
    response: Response,
    if_match: IfMatch = None,
) -> Webhook:
    """Change a webhook's `url`, `space_ids`, `types`, `description` or `enabled` (admin); a
    JSON merge patch. Disabling drops what was still to be sent; enabling again sends the
    events from then on, never the ones in between."""
    updated = await webhook_service.update(session, webhook_id, patch, if_match=if_match)
    app_state(request).webhooks.webhooks_changed()
    return with_etag(response, updated)


@router.delete(
    "/{webhook_id}", responses=error_responses(WebhookNotFound, Forbidden, PreconditionFailed)
)
async def delete_webhook(
    webhook_id: str,
    _: AdminPrincipal,
    session: SessionDep,
    response: Response,
    if_match: IfMatch = None,
) -> Webhook:
    """Remove a webhook, with its deliveries log and everything still to be sent (admin);
    answers with the webhook as it was."""
    removed = await webhook_service.delete(session, webhook_id, if_match=if_match)
    return with_etag(response, removed)


# No body at all is the default rotation (routing.py reads an optional body so).
_DEFAULT_ROTATION = SecretRotation()


@router.post("/{webhook_id}/rotate-secret", responses=error_responses(WebhookNotFound, Forbidden))
async def rotate_webhook_secret(
    request: Request,
    webhook_id: str,
    _: AdminPrincipal,
    session: SessionDep,
    response: Response,
    body: SecretRotation = _DEFAULT_ROTATION,
) -> WebhookWithSecret:
    """A new signing secret, shown only here (admin). The old one keeps signing next to it,
    both signatures in `webhook-signature`, for `expire_old_in_seconds` (default a day;
    0: it stops at once); no body (or `{}`) for the default. Not idempotent: a retry makes
    another secret."""
    expire = body.expire_old_in_seconds
    rotated = await webhook_service.rotate_secret(
        session, app_state(request).webhook_secrets, webhook_id, timedelta(seconds=expire)
    )
    return _with_webhook_etag(response, rotated)


@router.get(
    "/{webhook_id}/deliveries",
    responses=error_responses(WebhookNotFound, InvalidCursor, Forbidden),
)
async def list_webhook_deliveries(
    request: Request,
    response: Response,
    webhook_id: str,
    _: AdminPrincipal,
    session: SessionDep,
    cursors: CursorsDep,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> Page[WebhookDelivery]:
    """The webhook's delivery attempts, newest first (admin); kept 7 days."""
    binding = f"{DELIVERIES_BINDING}:{webhook_id}"
    before_id = None if cursor is None else cursors.decode(binding, cursor)[0]
    items, has_more = await webhook_service.deliveries(
        session, webhook_id, before_id=before_id, limit=limit
    )
    return build_page(
        request, response, items, has_more, binding=binding, position_of=lambda d: [d.id]
    )


@router.post(
    "/{webhook_id}/deliveries/{delivery_id}/retry",
    responses=error_responses(WebhookNotFound, DeliveryNotFound, EventPurged, Forbidden),
)
async def retry_webhook_delivery(
    request: Request,
    webhook_id: str,
    delivery_id: str,
    _: AdminPrincipal,
    db: DatabaseDep,
    response: Response,
) -> WebhookDelivery:
    """Send the delivery's event again, now, and answer with this attempt (admin): it waits
    for the endpoint, up to 10 s. `410` when the event has been purged. Never retried by
    itself: an answer lost on the way means one more attempt, not a duplicate event id."""
    state = app_state(request)
    attempt = await webhook_service.retry(
        db, state.webhook_secrets, state.settings, webhook_id, delivery_id
    )
    return with_etag(response, attempt)


def _with_webhook_etag(response: Response, answer: WebhookWithSecret) -> WebhookWithSecret:
    """The ETag of the webhook, as GET shows it: the secret is not part of what `If-Match`
    compares, so the tag of a create or rotation works for the next PATCH."""
    response.headers["ETag"] = etag_of(Webhook.model_validate(answer.model_dump()))
    return answer
