from threads_api.errors import NotFound


class SpaceNotFound(NotFound):
    """Also the answer for a space the key may not see: existence is not leaked."""

    code = "space_not_found"
    title = "Space not found"

    def __init__(self) -> None:
        super().__init__("No space with this id exists.")
