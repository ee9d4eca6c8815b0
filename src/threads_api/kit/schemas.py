"""The schema bases and the field types every domain shares (contract §10)."""

from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, PlainSerializer


class Schema(BaseModel):
    """Input: unknown fields are refused, so a body cannot set server-owned fields."""

    model_config = ConfigDict(extra="forbid")


class ResponseSchema(BaseModel):
    """Output: read from table rows, whose `metadata` column is the attribute `metadata_`."""

    model_config = ConfigDict(from_attributes=True, validate_by_name=True, validate_by_alias=True)


# `metadata` is reserved on SQLAlchemy models, so rows carry it as `metadata_`.
MetadataOut = Annotated[dict[str, str], Field(validation_alias="metadata_")]


def _clean_text(value: str) -> str:
    # PostgreSQL refuses NUL in text and a lone surrogate cannot be encoded as UTF-8: both
    # would otherwise surface as a 500 when stored or rendered.
    if "\x00" in value:
        raise ValueError("must not contain the NUL character")
    if any("\ud800" <= ch <= "\udfff" for ch in value):
        raise ValueError("must not contain lone surrogates")
    return value


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be only whitespace")
    return value


Name = Annotated[str, Field(min_length=1, max_length=200), AfterValidator(_clean_text)]
Title = Annotated[str, Field(min_length=1, max_length=200), AfterValidator(_clean_text)]
Author = Annotated[str, Field(min_length=1, max_length=128), AfterValidator(_clean_text)]
Content = Annotated[
    str,
    Field(min_length=1, max_length=32_768),
    AfterValidator(_clean_text),
    AfterValidator(_not_blank),
]

MAX_METADATA_KEYS = 16
MetadataKey = Annotated[str, Field(min_length=1, max_length=64), AfterValidator(_clean_text)]
MetadataValue = Annotated[str, Field(max_length=512), AfterValidator(_clean_text)]
Metadata = Annotated[dict[MetadataKey, MetadataValue], Field(max_length=MAX_METADATA_KEYS)]
# In a merge patch a key set to null is removed; the limits apply to the merged result.
MetadataPatch = dict[MetadataKey, MetadataValue | None]


def merge_metadata(current: dict[str, str], patch: dict[str, str | None] | None) -> dict[str, str]:
    """RFC 7396 on a flat object: `None` as the whole patch clears, a `None` value removes."""
    if patch is None:
        return {}
    merged = dict(current)
    for key, value in patch.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = value
    return merged


def format_timestamp(value: datetime) -> str:
    """RFC 3339, UTC, always with microseconds: `2026-11-27T10:15:30.123456Z`."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


Timestamp = Annotated[datetime, PlainSerializer(format_timestamp, return_type=str)]


def utcnow() -> datetime:
    return datetime.now(UTC)
