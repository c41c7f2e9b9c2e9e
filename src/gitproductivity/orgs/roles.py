"""Members' and API keys' roles, and the one rule that says what each may do.

`owner`: everything, members and API keys included; `admin`: repositories, developers, teams and webhooks;
`viewer`: reads everything but secrets. A refusal is `core.errors.Forbidden` (403 in the one error shape) with
words that name the role and what it could not do.
"""

from __future__ import annotations

from enum import StrEnum

from gitproductivity.core.errors import Forbidden


class Role(StrEnum):
    OWNER = "owner"
    ADMIN = "admin"
    VIEWER = "viewer"


_RANK = {Role.VIEWER: 0, Role.ADMIN: 1, Role.OWNER: 2}
#: HTTP methods that only read: a group's `read` role applies to them, its `write` role to every other method.
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def at_least(role: str, needed: Role) -> bool:
    """Whether `role` may do what `needed` may (an unknown role may do nothing)."""
    try:
        return _RANK[Role(role)] >= _RANK[needed]
    except ValueError:
        return False


def lesser(a: str, b: str) -> Role:
    """The weaker of two roles (an API key never does more than the member who made it)."""
    ranked = sorted((Role(a), Role(b)), key=_RANK.__getitem__)
    return ranked[0]


def require(role: str, needed: Role, action: str) -> None:
    """Refuse with 403 unless `role` is `needed` or above; `action` completes "your role viewer cannot …"."""
    if at_least(role, needed):
        return
    allowed = "the owner role" if needed == Role.OWNER else f"the role {needed.value} or owner"
    raise Forbidden(
        f"your role {role} cannot {action}: that needs {allowed}",
        details=[{"field": "role", "message": f"Your role is {role}; {action} needs {allowed}."}],
    )
