"""Pydantic models of the users service: settings, requests, responses and stored items."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, StringConstraints

from careforall.emails import Email
from careforall.text import single_line
from careforall.identity import Role
from users_service.settings import Settings  # noqa: F401 - re-exported

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100),
                 AfterValidator(single_line)]
Password = Annotated[str, StringConstraints(min_length=8, max_length=256)]


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)


class RegisterRequest(_Request):
    email: Email
    password: Password
    name: Name


class LoginRequest(_Request):
    email: Email
    password: Annotated[str, StringConstraints(min_length=1, max_length=256)]


class RoleUpdateRequest(_Request):
    role: Role


class SeedAdminRequest(_Request):
    email: Email
    password: Password
    name: Name = "Administrator"


class UserRecord(BaseModel):
    """A user as stored; the password hash never leaves the service."""

    id: str
    email: str
    name: str
    role: Role
    password_hash: str
    created_at: str


class UserOut(BaseModel):
    id: str
    email: str
    name: str
    role: Role
    created_at: str

    @classmethod
    def of(cls, user: UserRecord) -> "UserOut":
        return cls(id=user.id, email=user.email, name=user.name, role=user.role, created_at=user.created_at)


def email_key(email: str) -> str:
    """Emails are unique case-insensitively: one key for every spelling."""
    return email.strip().lower()
