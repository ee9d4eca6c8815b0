from threads_api_client.resources.api_keys import ApiKeys, AsyncApiKeys
from threads_api_client.resources.events import AsyncEvents, Events
from threads_api_client.resources.messages import AsyncMessages, Messages
from threads_api_client.resources.spaces import AsyncSpaces, Spaces
from threads_api_client.resources.threads import AsyncThreads, Threads
from threads_api_client.resources.webhooks import AsyncWebhooks, Webhooks

__all__ = [
    "ApiKeys",
    "AsyncApiKeys",
    "AsyncEvents",
    "AsyncMessages",
    "AsyncSpaces",
    "AsyncThreads",
    "AsyncWebhooks",
    "Events",
    "Messages",
    "Spaces",
    "Threads",
    "Webhooks",
]
