"""Small types shared by the resources."""

from typing import Final, Literal, TypeAlias

Metadata: TypeAlias = dict[str, str]
# In an update (a JSON merge patch), a key set to None is removed.
MetadataPatch: TypeAlias = dict[str, str | None]
Scope: TypeAlias = Literal["read", "write", "admin"]
ThreadStatus: TypeAlias = Literal["open", "locked", "archived"]
ThreadListStatus: TypeAlias = Literal["open", "locked", "archived", "all"]
Order: TypeAlias = Literal["asc", "desc"]
ThreadSort: TypeAlias = Literal["last_message_at", "created_at"]


class NotGiven:
    """The default of an update's fields: "leave it as it is", as opposed to None, which in a
    merge patch means "remove" (metadata) and is refused for fields that cannot be removed."""

    def __bool__(self) -> Literal[False]:
        return False

    def __repr__(self) -> str:
        return "NOT_GIVEN"


NOT_GIVEN: Final = NotGiven()
