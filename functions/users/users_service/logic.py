"""Users logic: typed, knows no AWS SDK; storage and hashing come in through the constructor."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Callable, Protocol

from careforall.clock import now_iso
from careforall.errors import ConflictError, ForbiddenError, NotFoundError, TooManyRequestsError, UnauthorizedError
from careforall.identity import Caller, Role
from careforall.tokens import TokenService

from users_service.models import LoginRequest, RegisterRequest, SeedAdminRequest, UserRecord, email_key


class EmailTakenError(ConflictError):
    problem = "email-taken"


class UserRepository(Protocol):
    def create(self, user: UserRecord) -> None:
        """Store a new user; raises EmailTakenError when the email (case-insensitively) is in use."""

    def get_by_id(self, user_id: str) -> UserRecord | None: ...

    def get_by_email(self, email: str) -> UserRecord | None: ...

    def set_role(self, user_id: str, role: Role) -> UserRecord | None:
        """Change the role of an existing user; None when there is no such user."""


class WindowCounters(Protocol):
    """Counters per key and fixed time window (careforall.ratelimit in AWS)."""

    def counts(self, keys: list[str], window: int) -> dict[str, int]: ...

    def increment(self, keys: list[str], window: int, expires_at: int) -> None: ...


class PasswordHasher(Protocol):
    def hash(self, password: str) -> str: ...

    def verify(self, password_hash: str | None, password: str) -> bool: ...


@dataclass(frozen=True)
class LoginThrottle:
    """Failed logins allowed per fixed window, per email and per client address."""

    window_seconds: int = 900
    max_failures_per_email: int = 5
    max_failures_per_client: int = 20


@dataclass(frozen=True)
class Session:
    user: UserRecord
    token: str
    expires_in: int


class UsersService:
    def __init__(
        self,
        users: UserRepository,
        attempts: WindowCounters,
        hasher: PasswordHasher,
        tokens: TokenService,
        throttle: LoginThrottle = LoginThrottle(),
        clock: Callable[[], float] | None = None,
    ) -> None:
        self._users = users
        self._attempts = attempts
        self._hasher = hasher
        self._tokens = tokens
        self._throttle = throttle
        self._clock = clock or time.time

    def register(self, request: RegisterRequest) -> Session:
        user = UserRecord(
            id=str(uuid.uuid4()),
            email=str(request.email),
            name=request.name,
            role=Role.DONOR,  # nobody registers as ADMIN: only an ADMIN or the seed promotes
            password_hash=self._hasher.hash(request.password),
            created_at=now_iso(),
        )
        self._users.create(user)
        return self._session(user)

    def login(self, request: LoginRequest, client_id: str) -> Session:
        now = int(self._clock())
        window = now // self._throttle.window_seconds
        retry_after = (window + 1) * self._throttle.window_seconds - now
        email_counter, client_counter = f"email#{email_key(str(request.email))}", f"client#{client_id}"
        failures = self._attempts.counts([email_counter, client_counter], window)
        if (failures.get(email_counter, 0) >= self._throttle.max_failures_per_email
                or failures.get(client_counter, 0) >= self._throttle.max_failures_per_client):
            raise TooManyRequestsError("Too many failed logins; try again later.", retry_after_seconds=retry_after)

        user = self._users.get_by_email(str(request.email))
        if not self._hasher.verify(user.password_hash if user else None, request.password) or user is None:
            self._attempts.increment([email_counter, client_counter], window,
                                          expires_at=(window + 2) * self._throttle.window_seconds)
            raise UnauthorizedError("The email or password is wrong.")
        return self._session(user)

    def get(self, user_id: str) -> UserRecord:
        user = self._users.get_by_id(user_id)
        if user is None:
            raise NotFoundError(f"User {user_id} does not exist.")
        return user

    def set_role(self, actor: Caller, user_id: str, role: Role) -> UserRecord:
        if not actor.is_admin:
            raise ForbiddenError("Only an ADMIN can change roles.")
        updated = self._users.set_role(user_id, role)
        if updated is None:
            raise NotFoundError(f"User {user_id} does not exist.")
        return updated

    def seed_admin(self, request: SeedAdminRequest) -> UserRecord:
        """Create the ADMIN, or promote the existing account with that email. Safe to run at every start."""
        existing = self._users.get_by_email(str(request.email))
        if existing is not None:
            return existing if existing.role is Role.ADMIN else self._users.set_role(existing.id, Role.ADMIN) or existing
        user = UserRecord(id=str(uuid.uuid4()), email=str(request.email), name=request.name, role=Role.ADMIN,
                          password_hash=self._hasher.hash(request.password), created_at=now_iso())
        try:
            self._users.create(user)
        except EmailTakenError:  # a concurrent seed won the race; promote whatever it created
            return self.seed_admin(request)
        return user

    def _session(self, user: UserRecord) -> Session:
        token = self._tokens.issue(user_id=user.id, email=user.email, role=user.role.value)
        return Session(user=user, token=token, expires_in=self._tokens.ttl_seconds)
