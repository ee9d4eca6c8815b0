from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal, get_args

Scope = Literal["read", "write", "admin"]
# Every scope, lowest first: each includes the ones before it.
SCOPES: tuple[Scope, ...] = get_args(Scope)
_RANK: dict[str, int] = {scope: rank for rank, scope in enumerate(SCOPES, start=1)}


def ranked(scopes: Iterable[str]) -> list[Scope]:
    """`scopes` without repeats, lowest first; a name that is not a scope is an error."""
    given = set(scopes)
    if not given <= _RANK.keys():
        raise ValueError(f"not scopes: {sorted(given - _RANK.keys())}")
    return [scope for scope in SCOPES if scope in given]


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
