from dataclasses import dataclass
from typing import Literal

Scope = Literal["read", "write", "admin"]

# Each scope includes the ones below it.
_RANK: dict[str, int] = {"read": 1, "write": 2, "admin": 3}


@dataclass(frozen=True, slots=True)
class Principal:
    """The authenticated API key of a request."""

    key_id: str
    scopes: frozenset[str]
    space_ids: frozenset[str]

    @property
    def is_admin(self) -> bool:
        return "admin" in self.scopes

    def has_scope(self, scope: Scope) -> bool:
        return max((_RANK[s] for s in self.scopes), default=0) >= _RANK[scope]

    def sees_space(self, space_id: str) -> bool:
        return self.is_admin or space_id in self.space_ids
