"""pydantic's validation errors as words for people: the HTTP API's and the CLI's."""

from collections.abc import Sequence

from pydantic_core import ErrorDetails

# pydantic puts this before the text of a ValueError raised by one of our validators.
_VALUE_ERROR_PREFIX = "Value error, "


def error_message(error: ErrorDetails) -> str:
    """The message of one error, without pydantic's "Value error, " in front of ours."""
    message = error["msg"]
    if error["type"] == "value_error" and message.startswith(_VALUE_ERROR_PREFIX):
        return message[len(_VALUE_ERROR_PREFIX) :]
    return message


def field_name(loc: Sequence[str | int]) -> str:
    """`space_ids.0`: the dotted location, without the `body` the HTTP layer adds."""
    parts = list(loc)
    if parts[:1] == ["body"]:
        parts = parts[1:]
    return ".".join(str(part) for part in parts)


def error_text(error: ErrorDetails, field: str | None = None) -> str:
    """`field: message`, or only the message for a rule on the whole input (`loc` empty).
    `field` replaces the dotted location, e.g. with the CLI option that gave the value."""
    name = field_name(error["loc"]) if field is None else field
    message = error_message(error)
    return f"{name}: {message}" if name else message
