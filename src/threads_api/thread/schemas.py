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
    metadata_of,
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


def thread_json(row: Any) -> dict[str, Any]:
    """A thread as `Thread` renders it, from a row of `repository._columns` (timestamps read
    as text already): what the plain reads send without building the model (issue 11)."""
    last_message = None
    if row[10] is not None:
        last_message = {
            "id": row[10],
            "seq": row[11],
            "author": row[12],
            "preview": row[13],
            "created_at": row[14],
        }
    return {
        "id": row[0],
        "object": "thread",
        "space_id": row[1],
        "title": row[2],
        "status": row[3],
        "metadata": metadata_of(row[4]),
        "message_count": row[5],
        "last_message_at": row[6],
        "created_at": row[7],
        "updated_at": row[8],
        "archived_at": row[9],
        "last_message": last_message,
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
