from typing import Any, Literal, get_args

from pydantic import Field

from threads_api.kit.pagination import Page
from threads_api.kit.schemas import ResponseSchema, Timestamp

EventType = Literal[
    "thread.created", "thread.updated", "message.created", "message.updated", "message.deleted"
]
EVENT_TYPES: frozenset[str] = frozenset(get_args(EventType))


class Event(ResponseSchema):
    """One change in a space, at its place in the space's feed."""

    id: str
    object: Literal["event"] = "event"
    type: EventType
    space_id: str
    thread_id: str
    position: int = Field(
        description="Orders the space's events: strictly increasing, not necessarily dense."
    )
    created_at: Timestamp
    data: dict[str, Any] = Field(
        description="The thread (`thread.*`) or message (`message.*`) after the change; the "
        "tombstone once the message is erased."
    )


class EventPage(Page[Event]):
    last_position: int = Field(
        description="The newest position in the space when the page was read: poll again "
        "with `after` set to it once `has_more` is false."
    )


class StreamToken(ResponseSchema):
    token: str = Field(description="Opens one event stream of this space: `?token=`.")
    expires_at: Timestamp
