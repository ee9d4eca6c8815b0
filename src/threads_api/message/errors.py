from threads_api.errors import Conflict, NotFound


class MessageNotFound(NotFound):
    code = "message_not_found"
    title = "Message not found"

    def __init__(self) -> None:
        super().__init__("No message with this id exists in this thread.")


class MessageDeleted(Conflict):
    """An erased message (a tombstone) cannot be edited."""

    code = "message_deleted"
    title = "The message was deleted"

    def __init__(self) -> None:
        super().__init__("The message was erased; a tombstone cannot be edited.")
