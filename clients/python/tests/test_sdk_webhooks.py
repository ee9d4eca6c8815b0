"""client.webhooks against a real server, on SQLite and on PostgreSQL: every method, a real
delivery to a local receiver verified with webhooks.verify, and the creates and sends that
must not be repeated."""

import asyncio
import time
from collections.abc import Callable, Iterator

import pytest
from sdk_proxy import FaultProxy, problem_response
from sdk_receiver import Receiver
from sdk_servers import ADMIN_KEY, Server
from threads_api_client import (
    NOT_GIVEN,
    APIConnectionError,
    AsyncThreadsClient,
    NotFoundError,
    PreconditionFailedError,
    SecretUnavailableError,
    ServiceUnavailableError,
    Space,
    ThreadsClient,
    UnknownSpaceError,
    ValidationError,
    WebhookDelivery,
    WebhookSecretUnavailableError,
    WebhookVerificationError,
    WebhookWithSecret,
    webhooks,
)

pytestmark = pytest.mark.slow

# Nothing listens on the discard port: a delivery there fails at once, and never leaves the
# machine. The tests that need no delivery create no event in the webhook's space anyway.
NOWHERE = "http://127.0.0.1:9/hooks?token=sekrit"
NO_SUCH_DELIVERY = "dlv_00000000000000000000000000"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    started = Receiver().start()
    yield started
    started.stop()


def _via(proxy: FaultProxy) -> ThreadsClient:
    """A client through the proxy that does not really wait between attempts."""
    client = ThreadsClient(base_url=proxy.url, api_key=ADMIN_KEY)
    client._sleep = lambda seconds: None  # type: ignore[method-assign]
    return client


def _deliveries(client: ThreadsClient, webhook_id: str, count: int) -> list[WebhookDelivery]:
    """The deliveries log once it has `count` attempts: the server writes it after the
    receiver answered."""
    deadline = time.monotonic() + 10
    while len(found := list(client.webhooks.list_deliveries(webhook_id))) < count:
        assert time.monotonic() < deadline, f"{len(found)} of {count} deliveries logged"
        time.sleep(0.05)
    return found


def test_webhooks(client: ThreadsClient, space: Space) -> None:
    created = client.webhooks.create(
        url=NOWHERE,
        space_ids=[space.id],
        types=["thread.created", "message.created"],
        description="support bot",
    )
    assert isinstance(created, WebhookWithSecret) and created.secret.startswith("whsec_")
    assert created.response.status_code == 201 and created.response.idempotency_key
    assert (created.space_ids, created.types) == ([space.id], ["message.created", "thread.created"])
    assert created.enabled and created.disabled_reason is None

    read = client.webhooks.retrieve(created.id)
    assert read.model_dump() == created.model_dump(exclude={"secret"}) and read.etag
    assert created.id in [hook.id for hook in client.webhooks.list(limit=1)]
    assert len(client.webhooks.list(limit=1).first_page()) == 1

    paused = client.webhooks.update(
        created.id, types=None, description=None, enabled=False, if_match=read.etag
    )
    assert (paused.types, paused.description, paused.enabled) == (None, None, False)
    assert paused.space_ids == [space.id] and paused.etag != read.etag
    with pytest.raises(PreconditionFailedError):
        client.webhooks.update(created.id, url=NOWHERE + "2", if_match=read.etag)
    assert client.webhooks.update(created.id, description=NOT_GIVEN) == paused
    assert client.webhooks.update(created.id, space_ids=None).space_ids is None

    assert list(client.webhooks.list_deliveries(created.id)) == []
    with pytest.raises(NotFoundError) as no_delivery:
        client.webhooks.retry_delivery(created.id, NO_SUCH_DELIVERY)
    assert no_delivery.value.code == "webhook_delivery_not_found"

    with pytest.raises(PreconditionFailedError):
        client.webhooks.delete(created.id, if_match=read.etag)
    current = client.webhooks.retrieve(created.id)
    removed = client.webhooks.delete(created.id, if_match=current.etag)
    assert removed.id == created.id and removed.space_ids is None
    with pytest.raises(NotFoundError) as gone:
        client.webhooks.retrieve(created.id)
    assert (gone.value.status, gone.value.code) == (404, "webhook_not_found")


def test_what_the_server_refuses(client: ThreadsClient) -> None:
    with pytest.raises(UnknownSpaceError) as unknown:
        client.webhooks.create(url=NOWHERE, space_ids=["spc_00000000000000000000000000"])
    assert (unknown.value.status, unknown.value.code) == (422, "unknown_space")
    with pytest.raises(ValidationError) as invalid:
        client.webhooks.create(url="ftp://example.com/hooks", types="message.created")
    assert invalid.value.errors[0].loc == ["body", "url"]
    with pytest.raises(NotFoundError) as missing:
        list(client.webhooks.list_deliveries("whk_00000000000000000000000000"))
    assert missing.value.code == "webhook_not_found"


def test_a_real_delivery_verifies_and_is_sent_again_on_demand(
    client: ThreadsClient, space: Space, receiver: Receiver
) -> None:
    hook = client.webhooks.create(url=receiver.url, space_ids=[space.id], types="message.created")
    try:
        started = client.threads.create_with_message(space.id, content="hello, hook")
        [first] = receiver.wait_for(1)
        event = webhooks.verify(first.body, first.headers, hook.secret)
        assert (event.type, event.data["id"]) == ("message.created", started.message.id)
        assert first.headers["webhook-id"] == event.id
        assert list(client.events.list(space.id, types=["message.created"])) == [event]
        [delivery] = _deliveries(client, hook.id, 1)
        assert (delivery.event_id, delivery.attempt, delivery.status_code) == (event.id, 1, 204)
        assert delivery.error is None and delivery.next_retry_at is None

        # A rotation: the old secret signs next to the new one until it expires.
        rotated = client.webhooks.rotate_secret(hook.id)
        again = client.webhooks.retry_delivery(hook.id, delivery.id)
        assert (again.event_id, again.attempt, again.status_code) == (event.id, 2, 204)
        second = receiver.wait_for(2)[1]
        assert second.headers["webhook-id"] == event.id
        assert len(second.headers["webhook-signature"].split()) == 2
        for secret in (hook.secret, rotated.secret):
            assert webhooks.verify(second.body, second.headers, secret) == event
        assert [d.id for d in _deliveries(client, hook.id, 2)] == [again.id, delivery.id]

        # Rotated with 0: the secret it replaces stops signing at once.
        third = client.webhooks.rotate_secret(hook.id, expire_old_in_seconds=0)
        client.webhooks.retry_delivery(hook.id, delivery.id)
        last = receiver.wait_for(3)[2]
        assert webhooks.verify(last.body, last.headers, third.secret) == event
        with pytest.raises(WebhookVerificationError, match="No signature matches"):
            webhooks.verify(last.body, last.headers, rotated.secret)
    finally:
        client.webhooks.delete(hook.id)


async def test_the_async_client(server: Server, space: Space, receiver: Receiver) -> None:
    async with AsyncThreadsClient(base_url=server.url, api_key=ADMIN_KEY) as client:
        hook = await client.webhooks.create(url=receiver.url, space_ids=[space.id])
        assert hook.id in [h.id async for h in client.webhooks.list()]
        assert (await client.webhooks.retrieve(hook.id)).url == receiver.url
        assert (await client.webhooks.update(hook.id, description="async")).description
        await client.threads.create_with_message(space.id, content="async hook")
        received = receiver.wait_for(2)  # thread.created and message.created
        types = {client.webhooks.verify(r.body, r.headers, hook.secret).type for r in received}
        assert types == {"thread.created", "message.created"}
        deliveries: list[WebhookDelivery] = []
        for _ in range(200):  # the log is written once the receiver has answered
            deliveries = [d async for d in client.webhooks.list_deliveries(hook.id)]
            if len(deliveries) == 2:
                break
            await asyncio.sleep(0.05)
        retried = await client.webhooks.retry_delivery(hook.id, deliveries[0].id)
        assert (retried.attempt, retried.event_id) == (2, deliveries[0].event_id)
        rotated = await client.webhooks.rotate_secret(hook.id, expire_old_in_seconds=60)
        assert rotated.secret != hook.secret
        assert (await client.webhooks.delete(hook.id)).id == hook.id


def test_a_webhook_whose_secret_was_lost_is_named_with_how_to_recover(
    client: ThreadsClient, space: Space, proxy_factory: Callable[[], FaultProxy]
) -> None:
    proxy = proxy_factory()
    proxy.drop("POST")
    with _via(proxy) as flaky, pytest.raises(WebhookSecretUnavailableError) as raised:
        flaky.webhooks.create(url=NOWHERE, space_ids=[space.id])

    error = raised.value
    assert isinstance(error, SecretUnavailableError) and error.created is error.webhook
    assert error.webhook_id.startswith("whk_") and error.webhook_id in str(error)
    assert "rotate_secret" in str(error) and "expire_old_in_seconds=0" in str(error)
    assert "whsec_" not in str(error) and "sekrit" not in str(error)
    keys = {request.headers.get("idempotency-key") for request in proxy.seen("POST")}
    assert len(proxy.seen("POST")) == 2 and len(keys) == 1
    assert [hook.id for hook in client.webhooks.list() if hook.id == error.webhook_id]
    recovered = client.webhooks.rotate_secret(error.webhook_id, expire_old_in_seconds=0)
    assert recovered.secret.startswith("whsec_")
    client.webhooks.delete(error.webhook_id)


def test_new_secrets_and_sends_now_are_never_sent_twice(
    client: ThreadsClient, space: Space, proxy_factory: Callable[[], FaultProxy]
) -> None:
    hook = client.webhooks.create(url=NOWHERE, space_ids=[space.id])
    proxy = proxy_factory()
    proxy.drop("POST")
    proxy.answer("POST", problem_response(503, "Service Unavailable", "server_busy"))
    with _via(proxy) as flaky:
        with pytest.raises(APIConnectionError, match="sent once"):
            flaky.webhooks.rotate_secret(hook.id)
        with pytest.raises(ServiceUnavailableError):
            flaky.webhooks.retry_delivery(hook.id, NO_SUCH_DELIVERY)
    assert len(proxy.seen("POST")) == 2
    client.webhooks.delete(hook.id)


def test_a_404_after_a_lost_delete_says_the_first_attempt_may_have_removed_it(
    client: ThreadsClient, space: Space, proxy_factory: Callable[[], FaultProxy]
) -> None:
    hook = client.webhooks.create(url=NOWHERE, space_ids=[space.id])
    proxy = proxy_factory()
    proxy.drop("DELETE")
    with _via(proxy) as flaky, pytest.raises(NotFoundError, match="may have removed it"):
        flaky.webhooks.delete(hook.id)
    assert len(proxy.seen("DELETE")) == 2
