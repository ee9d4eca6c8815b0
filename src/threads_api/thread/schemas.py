from typing import Any, Literal, get_args

from pydantic import ConfigDict, Field, field_validator, model_validator
from pydantic.json_schema import SkipJsonSchema

from threads_api.kit.schemas import (
    MetadataOut,
    MetadataPatch,
    ResponseSchema,
    Schema,
    Timestamp,
    Title,
    refuse_null,
)

ThreadStatus = Literal["open", "locked", "archived"]
THREAD_STATUSES: tuple[ThreadStatus, ...] = get_args(ThreadStatus)
# What a list shows without a `status` filter: every status but archived.
DEFAULT_STATUSES: tuple[ThreadStatus, ...] = ("open", "locked")
StatusFilter = Literal[ThreadStatus, "all"]
ThreadSort = Literal["last_message_at", "created_at"]


class ThreadUpdate(Schema):
    """A JSON merge patch (RFC 7396). `title` cannot be null: a thread always has one."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"title": "Damaged parcel, order 1042", "metadata": {"priority": "high"}}]
        }
    )

    # Null is refused for these (422), so the document does not offer it; absent means unchanged.
    title: Title | SkipJsonSchema[None] = None
    status: ThreadStatus | SkipJsonSchema[None] = None
    metadata: MetadataPatch | None = None

    _title_and_status_not_null = field_validator("title", "status")(refuse_null)


PREVIEW_LENGTH = 200


def preview_of(content: str) -> str:
    return content[:PREVIEW_LENGTH]


class LastMessage(ResponseSchema):
    """The newest message of a thread that is not erased."""

    id: str
    seq: int
    author: str | None
    preview: str = Field(description="The first 200 characters of its content.")
    created_at: Timestamp


def _last_message(row: Any) -> dict[str, Any] | None:
    """The `last_message_*` columns of a thread row (or its mapping) as one object."""
    if row["last_message_id"] is None:
        return None
    return {
        "id": row["last_message_id"],
        "seq": row["last_message_seq"],
        "author": row["last_message_author"],
        "preview": row["last_message_preview"],
        "created_at": row["last_message_created_at"],
    }


class _ThreadRow:
    """An ORM thread, read through attributes, with `last_message` gathered."""

    def __init__(self, row: Any) -> None:
        self._row = row
        self.last_message = _last_message(_Attributes(row))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._row, name)


class _Attributes:
    def __init__(self, row: Any) -> None:
        self._row = row

    def __getitem__(self, name: str) -> Any:
        return getattr(self._row, name)


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
    last_message: LastMessage | None

    @model_validator(mode="before")
    @classmethod
    def _gather_last_message(cls, data: Any) -> Any:
        # Stored flat on the thread row, so that a page of threads stays one query (no join).
        if isinstance(data, dict) or not hasattr(data, "last_message_id"):
            return data
        mapping = getattr(data, "_mapping", None)
        if mapping is not None:
            # A Core row, as lists read them: a dict is also the quickest input to validate.
            values = dict(mapping)
            values["last_message"] = _last_message(mapping)
            return values
        return _ThreadRow(data)
