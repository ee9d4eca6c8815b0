from typing import Literal

from pydantic import ConfigDict, field_validator
from pydantic.json_schema import SkipJsonSchema

from threads_api.kit.schemas import (
    Metadata,
    MetadataOut,
    MetadataPatch,
    Name,
    ResponseSchema,
    Schema,
    Timestamp,
    refuse_null,
)


class SpaceCreate(Schema):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"name": "Support", "metadata": {"team": "billing"}}]}
    )

    name: Name
    metadata: Metadata = {}


class SpaceUpdate(Schema):
    """A JSON merge patch (RFC 7396): absent fields stay, `metadata: null` clears it."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"name": "Customer support", "metadata": {"tier": "2"}}]}
    )

    # Null is refused (422), so the document does not offer it; absent means unchanged.
    name: Name | SkipJsonSchema[None] = None
    metadata: MetadataPatch | None = None

    _name_not_null = field_validator("name")(refuse_null)


class Space(ResponseSchema):
    id: str
    object: Literal["space"] = "space"
    name: str
    metadata: MetadataOut
    created_at: Timestamp
    updated_at: Timestamp
