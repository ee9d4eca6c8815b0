from threads_api.errors import Conflict, NotFound


class ThreadNotFound(NotFound):
    code = "thread_not_found"
    title = "Thread not found"

    def __init__(self) -> None:
        super().__init__("No thread with this id exists in this space.")


class ThreadClosed(Conflict):
    """A locked or archived thread takes no new messages, and its messages no edits."""

    code = "thread_closed"
    title = "The thread does not accept new messages"
