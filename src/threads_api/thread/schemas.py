from typing import Literal

from pydantic import Field, field_validator
from pydantic.json_schema import SkipJsonSchema

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
    refuse_null,
)
from threads_api.message.schemas import Message

ThreadStatus = Literal["open", "locked", "archived"]
StatusFilter = Literal["open", "locked", "archived", "all"]
ThreadSort = Literal["last_message_at", "created_at"]


class ThreadUpdate(Schema):
    """A JSON merge patch (RFC 7396). `title` cannot be null: a thread always has one."""

    # Null is refused for these (422), so the document does not offer it; absent means unchanged.
    title: Title | SkipJsonSchema[None] = None
    status: ThreadStatus | SkipJsonSchema[None] = None
    metadata: MetadataPatch | None = None

    _title_and_status_not_null = field_validator("title", "status")(refuse_null)


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
