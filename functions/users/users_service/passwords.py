"""Password hashing with Argon2id (argon2-cffi), RFC 9106's low-memory profile."""

from __future__ import annotations

from argon2 import PasswordHasher as _Argon2
from argon2 import profiles
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError


class Argon2PasswordHasher:
    def __init__(self, hasher: _Argon2 | None = None) -> None:
        self._hasher = hasher or _Argon2.from_parameters(profiles.RFC_9106_LOW_MEMORY)
        # Verified against unknown emails so a login takes as long whether or not the account exists.
        self._dummy_hash = self._hasher.hash("careforall-timing-equaliser")

    def hash(self, password: str) -> str:
        return self._hasher.hash(password)

    def verify(self, password_hash: str | None, password: str) -> bool:
        try:
            return self._hasher.verify(password_hash or self._dummy_hash, password) and bool(password_hash)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False
