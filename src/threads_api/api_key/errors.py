from threads_api.errors import NotFound, Unprocessable


class ApiKeyNotFound(NotFound):
    code = "api_key_not_found"
    title = "API key not found"


class UnknownSpace(Unprocessable):
    """A new key names a space that does not exist."""

    code = "unknown_space"
    title = "A space in space_ids does not exist"
