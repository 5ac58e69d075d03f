"""In-memory fakes of the users service's ports (storage, throttle counters, hashing) and a clock."""

from __future__ import annotations

import pytest

from careforall.identity import Role
from careforall.tokens import TokenService

from users_service.logic import EmailTakenError, LoginThrottle, UsersService
from users_service.models import UserRecord, email_key
from tests.unit.fakes import FakeClock, FakeWindowCounters

SIGNING_KEY = "users-unit-test-signing-key-0123456789abcdef"
ISSUER = "https://auth.careforall.org"


class FakeUserRepository:
    """Keeps users in dicts, with the same case-insensitive email uniqueness as the DynamoDB guard item."""

    def __init__(self) -> None:
        self.by_id: dict[str, UserRecord] = {}
        self.id_by_email: dict[str, str] = {}

    def create(self, user: UserRecord) -> None:
        if user.id in self.by_id or email_key(user.email) in self.id_by_email:
            raise EmailTakenError("An account with this email already exists.")
        self.by_id[user.id] = user
        self.id_by_email[email_key(user.email)] = user.id

    def get_by_id(self, user_id: str) -> UserRecord | None:
        return self.by_id.get(user_id)

    def get_by_email(self, email: str) -> UserRecord | None:
        user_id = self.id_by_email.get(email_key(email))
        return self.by_id.get(user_id) if user_id else None

    def set_role(self, user_id: str, role: Role) -> UserRecord | None:
        user = self.by_id.get(user_id)
        if user is None:
            return None
        self.by_id[user_id] = user.model_copy(update={"role": role})
        return self.by_id[user_id]


class FakePasswordHasher:
    """Reversible "hashing" that records what was verified (e.g. the dummy check for unknown emails)."""

    PREFIX = "fakehash$"

    def __init__(self) -> None:
        self.verified: list[str | None] = []

    def hash(self, password: str) -> str:
        return self.PREFIX + password[::-1]

    def verify(self, password_hash: str | None, password: str) -> bool:
        self.verified.append(password_hash)
        return password_hash is not None and password_hash == self.hash(password)


@pytest.fixture
def users_repo() -> FakeUserRepository:
    return FakeUserRepository()


@pytest.fixture
def attempts() -> FakeWindowCounters:
    return FakeWindowCounters()


@pytest.fixture
def hasher() -> FakePasswordHasher:
    return FakePasswordHasher()


@pytest.fixture
def clock() -> FakeClock:
    # the start of a 900-second throttle window, so window arithmetic in tests is easy to follow
    return FakeClock(float(2_000_000 * 900))


@pytest.fixture
def tokens() -> TokenService:
    return TokenService(SIGNING_KEY, ISSUER, ttl_seconds=3600)


@pytest.fixture
def throttle() -> LoginThrottle:
    return LoginThrottle()


@pytest.fixture
def service(users_repo, attempts, hasher, tokens, throttle, clock) -> UsersService:
    return UsersService(users=users_repo, attempts=attempts, hasher=hasher, tokens=tokens, throttle=throttle,
                        clock=clock)


@pytest.fixture
def fake_types():
    """The fake classes, for tests that need a variant."""
    return {"users": FakeUserRepository, "attempts": FakeWindowCounters, "hasher": FakePasswordHasher}
