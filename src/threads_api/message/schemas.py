from typing import Any, Literal

from pydantic import ConfigDict, Field, field_validator
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
    metadata_of,
    refuse_null,
)
from threads_api.thread.schemas import Thread


class MessageCreate(Schema):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"content": "A new lid is on its way.", "author": "bob", "metadata": {}}]
        }
    )

    content: Content
    author: Author | None = None
    metadata: Metadata = {}


class MessageUpdate(Schema):
    """A JSON merge patch (RFC 7396) of `content` and `metadata`; `author` cannot change."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"content": "A new lid is on its way.", "metadata": {"tracking": "77"}}]
        }
    )

    # Null is refused (422): a message that is not erased always has content.
    content: Content | SkipJsonSchema[None] = None
    metadata: MetadataPatch | None = None

    _content_not_null = field_validator("content")(refuse_null)


class Message(ResponseSchema):
    id: str
    object: Literal["message"] = "message"
    space_id: str
    thread_id: str
    seq: int
    author: str | None
    # null once the message is erased (a tombstone).
    content: str | None
    metadata: MetadataOut
    version: int
    created_at: Timestamp
    edited_at: Timestamp | None
    deleted_at: Timestamp | None


def message_json(row: Any) -> dict[str, Any]:
    """A message as `Message` renders it, from a row of `repository._columns` (timestamps
    read as text already): what the plain reads send without building the model (issue 11)."""
    return {
        "id": row[0],
        "object": "message",
        "space_id": row[1],
        "thread_id": row[2],
        "seq": row[3],
        "author": row[4],
        "content": row[5],
        "metadata": metadata_of(row[6]),
        "version": row[7],
        "created_at": row[8],
        "edited_at": row[9],
        "deleted_at": row[10],
    }


class MessageVersion(ResponseSchema):
    """An earlier version of a message: what it was before an edit."""

    object: Literal["message_version"] = "message_version"
    message_id: str
    version: int
    content: str
    metadata: MetadataOut
    # When this version was written: the message's creation, or the edit that made it.
    created_at: Timestamp


class ThreadWithMessageCreate(Schema):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "content": "My order 1042 arrived with a broken lid.",
                    "author": "alice",
                    "thread_metadata": {"order": "1042"},
                }
            ]
        }
    )

    content: Content
    author: Author | None = None
    metadata: Metadata = Field(default={}, description="The first message's metadata.")
    title: Title | None = Field(
        default=None,
        description="Defaults to the first non-blank line of `content`, cut to 100 characters.",
    )
    thread_metadata: Metadata = {}


class ThreadWithMessage(ResponseSchema):
    object: Literal["thread_with_message"] = "thread_with_message"
    thread: Thread
    message: Message
