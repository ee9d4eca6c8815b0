from typing import Literal

from threads_api.kit.schemas import (
    Author,
    Content,
    Metadata,
    MetadataOut,
    ResponseSchema,
    Schema,
    Timestamp,
)


class MessageCreate(Schema):
    content: Content
    author: Author | None = None
    metadata: Metadata = {}


class Message(ResponseSchema):
    id: str
    object: Literal["message"] = "message"
    space_id: str
    thread_id: str
    seq: int
    author: str | None
    content: str
    metadata: MetadataOut
    created_at: Timestamp
