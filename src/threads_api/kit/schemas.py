"""The schema bases and the field types every domain shares (contract §10)."""

import json
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    WithJsonSchema,
)
from pydantic_core import to_json


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


# What the validators above accept, as JSON Schema patterns, so that the OpenAPI document
# tells clients (and contract fuzzers) the truth. Documentation only: the validators decide.
# Whitespace is spelled out as what `str.isspace` (and so `str.strip`) means, because `\s`
# differs between Python, ECMAScript and Rust. Lone surrogates cannot be written in a pattern
# that every validator compiles: they are left to the contract's prose (api.md §1).
_SPACE = r"\u0009-\u000D\u001C-\u0020\u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000"
CLEAN_TEXT_PATTERN = r"^[^\u0000]*$"
BLANK_TEXT_PATTERN = rf"^[{_SPACE}]*$"
_clean_text_schema = Field(json_schema_extra={"pattern": CLEAN_TEXT_PATTERN})

_ShortText = Annotated[
    str, Field(min_length=1, max_length=200), _clean_text_schema, AfterValidator(_clean_text)
]
# One type, two names: the contract (§10) limits a name (of a space or an API key) and a
# title (of a thread) each on its own, alike today; either may change without the other.
Name = _ShortText
Title = _ShortText
Author = Annotated[
    str, Field(min_length=1, max_length=128), _clean_text_schema, AfterValidator(_clean_text)
]
Content = Annotated[
    str,
    Field(
        min_length=1,
        max_length=32_768,
        # `not` rather than one "some non-space" pattern: that one is slow to generate from.
        json_schema_extra={"pattern": CLEAN_TEXT_PATTERN, "not": {"pattern": BLANK_TEXT_PATTERN}},
    ),
    AfterValidator(_clean_text),
    AfterValidator(_not_blank),
]

MAX_METADATA_KEYS = 16
MetadataKey = Annotated[
    str, Field(min_length=1, max_length=64), _clean_text_schema, AfterValidator(_clean_text)
]
MetadataValue = Annotated[
    str, Field(max_length=512), _clean_text_schema, AfterValidator(_clean_text)
]
Metadata = Annotated[dict[MetadataKey, MetadataValue], Field(max_length=MAX_METADATA_KEYS)]
# In a merge patch a key set to null is removed; the limits apply to the merged result.
MetadataPatch = dict[MetadataKey, MetadataValue | None]


def refuse_null(cls: type, value: object) -> object:
    """For merge-patch fields that may be absent but never null (a thread keeps a title).

    Field validators run only on fields the body sent, so absence stays allowed."""
    if value is None:
        raise ValueError("must not be null")
    return value


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


# The serializer returns a plain `str`, whose schema would lose `format`: say it again.
Timestamp = Annotated[
    datetime,
    PlainSerializer(format_timestamp, return_type=str),
    WithJsonSchema({"type": "string", "format": "date-time"}, mode="serialization"),
]


def metadata_of(stored: str) -> dict[str, str]:
    """A metadata column as the plain drivers return it (sqlite3, asyncpg): JSON text."""
    if stored == "{}":
        return {}
    decoded: dict[str, str] = json.loads(stored)
    return decoded


def json_bytes(value: Any) -> bytes:
    """`value` as compact JSON, byte for byte what a response model's `model_dump_json` makes
    of the same data (one serializer: pydantic-core's)."""
    return to_json(value)


def utcnow() -> datetime:
    return datetime.now(UTC)
