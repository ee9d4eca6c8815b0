from typing import Any

from threads_api_client._base_client import AsyncAPIClient, SyncAPIClient
from threads_api_client._types import NotGiven


class SyncAPIResource:
    def __init__(self, client: SyncAPIClient) -> None:
        self._client = client


class AsyncAPIResource:
    def __init__(self, client: AsyncAPIClient) -> None:
        self._client = client


def body(**fields: Any) -> dict[str, Any]:
    """A JSON body of the fields that were given (NOT_GIVEN ones are left out)."""
    return {name: value for name, value in fields.items() if not isinstance(value, NotGiven)}
