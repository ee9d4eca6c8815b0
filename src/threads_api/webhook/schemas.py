from typing import Annotated, Literal

from pydantic import AfterValidator, ConfigDict, Field, field_validator
from pydantic.config import JsonDict
from pydantic.json_schema import SkipJsonSchema

from threads_api.api_key.schemas import SpaceIdRef
from threads_api.event.schemas import EventType
from threads_api.kit.schemas import ResponseSchema, Schema, Timestamp, refuse_null
from threads_api.webhook.address import check_url

MAX_URL_LENGTH = 2048
MAX_SPACES = 100

WebhookUrl = Annotated[
    str,
    Field(
        min_length=1,
        max_length=MAX_URL_LENGTH,
        description="http:// or https://, no credentials or fragment. Hosts that resolve to a "
        "loopback, private or other non-public address are refused when delivering.",
        json_schema_extra={"pattern": "^https?://"},
    ),
    AfterValidator(check_url),
]
Description = Annotated[str, Field(max_length=500, json_schema_extra={"pattern": r"^[^\u0000]*$"})]
SpaceIds = Annotated[list[SpaceIdRef], Field(min_length=1, max_length=MAX_SPACES)]
Types = Annotated[list[EventType], Field(min_length=1, max_length=len(EventType.__args__))]

_EXAMPLE: JsonDict = {
    "url": "https://example.com/hooks/threads",
    "types": ["message.created"],
    "description": "support bot",
}


def _unique_sorted(values: list[str] | None) -> list[str] | None:
    return None if values is None else sorted(set(values))


def _no_nul(value: str | None) -> str | None:
    if value is not None and "\x00" in value:
        raise ValueError("must not contain the NUL character")
    return value


class WebhookCreate(Schema):
    model_config = ConfigDict(json_schema_extra={"examples": [_EXAMPLE]})

    url: WebhookUrl
    space_ids: SpaceIds | None = Field(
        default=None, description="The spaces whose events are sent; absent or null: all."
    )
    types: Types | None = Field(
        default=None, description="The event types sent; absent or null: all."
    )
    description: Description | None = None

    _unique = field_validator("space_ids", "types")(_unique_sorted)
    _clean = field_validator("description")(_no_nul)


class WebhookUpdate(Schema):
    """A JSON merge patch: absent fields stay; `space_ids` or `types` null means all."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"enabled": True}]})

    url: WebhookUrl | SkipJsonSchema[None] = None
    space_ids: SpaceIds | None = None
    types: Types | None = None
    description: Description | None = None
    enabled: bool | SkipJsonSchema[None] = None

    _not_null = field_validator("url", "enabled")(refuse_null)
    _unique = field_validator("space_ids", "types")(_unique_sorted)
    _clean = field_validator("description")(_no_nul)


class SecretRotation(Schema):
    model_config = ConfigDict(json_schema_extra={"examples": [{"expire_old_in_seconds": 3600}]})

    expire_old_in_seconds: int = Field(
        default=86_400,
        ge=0,
        le=7 * 86_400,
        description="How long the old secret keeps signing next to the new one; 0: at once.",
    )

    @field_validator("expire_old_in_seconds", mode="before")
    @classmethod
    def refuse_booleans(cls, value: object) -> object:
        # JSON Schema's integer takes 60.0, and so does pydantic; `true` is no number of
        # seconds, though pydantic would read it as 1.
        if isinstance(value, bool):
            raise ValueError("must be a number of seconds, not a boolean")
        return value


class Webhook(ResponseSchema):
    id: str
    object: Literal["webhook"] = "webhook"
    url: str
    space_ids: list[str] | None = Field(description="null: every space.")
    types: list[EventType] | None = Field(description="null: every type.")
    description: str | None
    enabled: bool
    disabled_reason: str | None = Field(
        description="Why the service disabled it (a 410, or 3 days of failures); null when "
        "enabled or disabled through the API."
    )
    created_at: Timestamp
    updated_at: Timestamp


class WebhookWithSecret(Webhook):
    secret: str | None = Field(
        description="The signing secret (`whsec_…`), shown only here: store it now. `null` in "
        "an idempotent replay, because it is never stored in the clear."
    )


class WebhookDelivery(ResponseSchema):
    id: str
    object: Literal["webhook_delivery"] = "webhook_delivery"
    webhook_id: str
    event_id: str
    attempt: int = Field(description="1 for the first attempt at this event, then 2, 3, …")
    status_code: int | None = Field(description="The receiver's status; null if none came.")
    duration_ms: int
    error: str | None = Field(description="Why the attempt failed; null on success.")
    next_retry_at: Timestamp | None = Field(
        description="When the next attempt is due; null when none will follow."
    )
    created_at: Timestamp
