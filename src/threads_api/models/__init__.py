from threads_api.models.api_key import ApiKey, api_key_spaces
from threads_api.models.app_secret import AppSecret
from threads_api.models.base import Base
from threads_api.models.event import Event, EventCounter, StreamToken
from threads_api.models.idempotency import IdempotencyRecord
from threads_api.models.message import Message
from threads_api.models.message_version import MessageVersion
from threads_api.models.revocation import RevocationCounter
from threads_api.models.space import Space
from threads_api.models.thread import Thread
from threads_api.models.webhook import Webhook, WebhookCursor, WebhookDelivery, WebhookJob

__all__ = [
    "ApiKey",
    "AppSecret",
    "Base",
    "Event",
    "EventCounter",
    "IdempotencyRecord",
    "Message",
    "MessageVersion",
    "RevocationCounter",
    "Space",
    "StreamToken",
    "Thread",
    "Webhook",
    "WebhookCursor",
    "WebhookDelivery",
    "WebhookJob",
    "api_key_spaces",
]
