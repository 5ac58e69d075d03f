"""In-memory fake of the authorizer's user directory."""

from __future__ import annotations

import pytest

from careforall.tokens import TokenService

from careforall.auth import Authenticator
from careforall.identity import Caller

SIGNING_KEY = "authorizer-unit-test-signing-key-0123456789"
ISSUER = "https://auth.careforall.org"


class FakeUserDirectory:
    def __init__(self) -> None:
        self.principals: dict[str, Caller] = {}

    def add(self, user_id: str, email: str, role: str) -> Caller:
        self.principals[user_id] = Caller(user_id=user_id, email=email, role=role)
        return self.principals[user_id]

    def find(self, user_id: str) -> Caller | None:
        return self.principals.get(user_id)


@pytest.fixture
def directory() -> FakeUserDirectory:
    return FakeUserDirectory()


@pytest.fixture
def tokens() -> TokenService:
    return TokenService(SIGNING_KEY, ISSUER, ttl_seconds=3600)


@pytest.fixture
def authorizer(tokens, directory) -> Authenticator:
    return Authenticator(tokens, directory)
