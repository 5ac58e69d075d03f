"""Who is calling: read from the context our Lambda authorizer attached to the request."""

from __future__ import annotations

from enum import Enum

from pydantic import BaseModel, ConfigDict


class Role(str, Enum):
    ADMIN = "ADMIN"
    DONOR = "DONOR"


class Caller(BaseModel):
    model_config = ConfigDict(frozen=True)

    user_id: str
    email: str
    role: Role

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN


def caller_from_authorizer(context: dict | None) -> Caller | None:
    """The authorizer puts user_id, email and role into requestContext.authorizer; None on public routes."""
    if not context or not context.get("user_id"):
        return None
    return Caller(user_id=context["user_id"], email=context.get("email", ""), role=Role(context.get("role", "DONOR")))
