from typing import Literal

from threads_api.kit.schemas import (
    Metadata,
    MetadataOut,
    MetadataPatch,
    Name,
    ResponseSchema,
    Schema,
    Timestamp,
)


class SpaceCreate(Schema):
    name: Name
    metadata: Metadata = {}


class SpaceUpdate(Schema):
    """A JSON merge patch (RFC 7396): absent fields stay, `metadata: null` clears it."""

    name: Name | None = None
    metadata: MetadataPatch | None = None


class Space(ResponseSchema):
    id: str
    object: Literal["space"] = "space"
    name: str
    metadata: MetadataOut
    created_at: Timestamp
    updated_at: Timestamp
