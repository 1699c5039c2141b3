"""Who may do what in the loop: a signed-in person and the roles their groups give them.

Roles are groups of the console's user pool: `operator` (takes and moves handed-off cases),
`approver` (decides approvals), `admin` (every role, and may move a case another person
holds). A role may be narrowed to one process by a group `<role>:<process>`
(`operator:refund-request`).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from aios.errors import Forbidden

Role = Literal["operator", "approver", "admin"]
ROLES: tuple[Role, ...] = ("operator", "approver", "admin")


class Operator(BaseModel):
    """A signed-in person, as the console's authorizer vouches for them."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    username: str = Field(min_length=1, max_length=128)
    email: str | None = Field(default=None, max_length=254)
    groups: frozenset[str] = frozenset()


def can(operator: Operator, role: Role, process: str | None = None) -> bool:
    """Whether the person has `role`, for every process or for `process`; admin has all."""
    groups = operator.groups
    if "admin" in groups or role in groups:
        return True
    return process is not None and f"{role}:{process}" in groups


def is_admin(operator: Operator) -> bool:
    return "admin" in operator.groups


def require(operator: Operator, role: Role, process: str | None = None) -> None:
    """Forbidden unless the person has `role` for `process`."""
    if not can(operator, role, process):
        where = f" on {process}" if process else ""
        raise Forbidden(
            f"{operator.username} may not act as {role}{where}", role=role, process=process
        )
