"""In-memory fake of the authorizer's user directory."""

from __future__ import annotations

import pytest

from careforall.tokens import TokenService

from authorizer_service.logic import TokenAuthorizer
from authorizer_service.models import Principal

SIGNING_KEY = "authorizer-unit-test-signing-key-0123456789"
ISSUER = "https://auth.careforall.org"


class FakeUserDirectory:
    def __init__(self) -> None:
        self.principals: dict[str, Principal] = {}

    def add(self, user_id: str, email: str, role: str) -> Principal:
        self.principals[user_id] = Principal(user_id=user_id, email=email, role=role)
        return self.principals[user_id]

    def find(self, user_id: str) -> Principal | None:
        return self.principals.get(user_id)


@pytest.fixture
def directory() -> FakeUserDirectory:
    return FakeUserDirectory()


@pytest.fixture
def tokens() -> TokenService:
    return TokenService(SIGNING_KEY, ISSUER, ttl_seconds=3600)


@pytest.fixture
def authorizer(tokens, directory) -> TokenAuthorizer:
    return TokenAuthorizer(tokens, directory)
