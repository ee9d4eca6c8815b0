"""What an `Idempotency-Key` may be: 1–255 printable ASCII characters, case-sensitive."""

import httpx
import pytest

from tests.helpers import problem
from tests.idempotency.support import REPLAYED, assert_replay_of, count, post


class TestKeyFormat:
    @pytest.mark.parametrize(
        "key",
        [
            pytest.param(b"", id="empty"),
            pytest.param(b"a" * 256, id="256-chars"),
            pytest.param(b"abc\x01def", id="control-char"),
            pytest.param(b"abc\tdef", id="tab"),
            pytest.param(b"abc\x7f", id="del"),
            pytest.param("clé".encode(), id="non-ascii-utf8"),
            pytest.param(b"caf\xe9", id="non-ascii-latin1"),
        ],
    )
    async def test_a_bad_key_is_400_and_creates_nothing(
        self, client: httpx.AsyncClient, path: str, key: bytes
    ) -> None:
        response = await post(client, path, {"content": "x"}, key)
        problem(response, 400, "invalid_idempotency_key")
        assert await count(client, path) == 1

    @pytest.mark.parametrize(
        "key",
        [
            pytest.param("a", id="one-char"),
            pytest.param("a" * 255, id="255-chars"),
            pytest.param("a b~!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}", id="printable-punctuation"),
        ],
    )
    async def test_a_good_key_is_accepted(
        self, client: httpx.AsyncClient, path: str, key: str
    ) -> None:
        original = await post(client, path, {"content": "x"}, key)
        assert original.status_code == 201, original.text
        assert_replay_of(await post(client, path, {"content": "x"}, key), original)

    async def test_keys_are_case_sensitive(self, client: httpx.AsyncClient, path: str) -> None:
        first = await post(client, path, {"content": "x"}, "Key-A")
        second = await post(client, path, {"content": "x"}, "key-a")
        assert first.status_code == second.status_code == 201
        assert REPLAYED not in second.headers
        assert first.json()["id"] != second.json()["id"]
