from typing import Literal

from pydantic import Field

from threads_api.kit.schemas import (
    Author,
    Content,
    Metadata,
    MetadataOut,
    MetadataPatch,
    ResponseSchema,
    Schema,
    Timestamp,
    Title,
)
from threads_api.message.schemas import Message

ThreadStatus = Literal["open", "locked", "archived"]
StatusFilter = Literal["open", "locked", "archived", "all"]
ThreadSort = Literal["last_message_at", "created_at"]


class ThreadUpdate(Schema):
    """A JSON merge patch (RFC 7396). `title` cannot be null: a thread always has one."""

    title: Title | None = None
    status: ThreadStatus | None = None
    metadata: MetadataPatch | None = None


class ThreadWithMessageCreate(Schema):
    content: Content
    author: Author | None = None
    metadata: Metadata = Field(default={}, description="The first message's metadata.")
    title: Title | None = Field(
        default=None,
        description="Defaults to the first non-blank line of `content`, cut to 100 characters.",
    )
    thread_metadata: Metadata = {}


class Thread(ResponseSchema):
    id: str
    object: Literal["thread"] = "thread"
    space_id: str
    title: str
    status: ThreadStatus
    metadata: MetadataOut
    message_count: int
    last_message_at: Timestamp
    created_at: Timestamp
    updated_at: Timestamp
    archived_at: Timestamp | None


class ThreadWithMessage(ResponseSchema):
    object: Literal["thread_with_message"] = "thread_with_message"
    thread: Thread
    message: Message
