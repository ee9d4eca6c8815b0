from threads_api.errors import NotFound


class ThreadNotFound(NotFound):
    code = "thread_not_found"
    title = "Thread not found"

    def __init__(self) -> None:
        super().__init__("No thread with this id exists in this space.")
