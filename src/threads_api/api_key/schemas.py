from typing import Annotated, Literal

from pydantic import AfterValidator, ConfigDict, Field, field_validator, model_validator

from threads_api.auth.principal import SCOPES, Scope, ranked
from threads_api.kit.ids import SPACE_ID_PATTERN, is_valid_id
from threads_api.kit.schemas import Name, ResponseSchema, Schema, Timestamp


def _space_id(value: str) -> str:
    # Checked like a path id, before any query: on PostgreSQL a NUL would otherwise be a 500.
    if not is_valid_id("spc", value):
        raise ValueError("is not a space id")
    return value


SpaceIdRef = Annotated[
    str,
    Field(max_length=30, json_schema_extra={"pattern": SPACE_ID_PATTERN}),
    AfterValidator(_space_id),
]


class ApiKeyCreate(Schema):
    # The rule `spaces_match_scopes` enforces, told to clients in the document too.
    model_config = ConfigDict(
        json_schema_extra={
            "if": {"properties": {"scopes": {"contains": {"const": "admin"}}}},
            "then": {"properties": {"space_ids": {"maxItems": 0}}},
            "else": {"required": ["space_ids"], "properties": {"space_ids": {"minItems": 1}}},
            "examples": [
                {
                    "name": "support bot",
                    "scopes": ["write"],
                    "space_ids": ["spc_01JDQ5Z3Y8M6V4N2K7P9R1T0WX"],
                }
            ],
        }
    )

    name: Name
    scopes: Annotated[list[Scope], Field(min_length=1, max_length=len(SCOPES))]
    space_ids: Annotated[list[SpaceIdRef], Field(max_length=100)] = []

    @field_validator("scopes")
    @classmethod
    def unique_scopes(cls, scopes: list[Scope]) -> list[Scope]:
        return ranked(scopes)

    @field_validator("space_ids")
    @classmethod
    def unique_spaces(cls, space_ids: list[str]) -> list[str]:
        return sorted(set(space_ids))

    @model_validator(mode="after")
    def spaces_match_scopes(self) -> "ApiKeyCreate":
        if "admin" in self.scopes and self.space_ids:
            raise ValueError("an admin key sees every space: leave space_ids empty")
        if "admin" not in self.scopes and not self.space_ids:
            raise ValueError("space_ids is required unless the key has the admin scope")
        return self


class ApiKey(ResponseSchema):
    id: str
    object: Literal["api_key"] = "api_key"
    name: str
    scopes: list[Scope]
    space_ids: list[str]
    prefix: str
    created_at: Timestamp
    last_used_at: Timestamp | None
    revoked_at: Timestamp | None


class ApiKeyWithSecret(ApiKey):
    secret: str | None = Field(
        description="The key itself, shown only in the response that created it: store it "
        "now. `null` in an idempotent replay, because the secret is never stored."
    )
