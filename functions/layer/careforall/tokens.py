"""Access tokens: HS256 JWTs signed with python-jose.

Verification pins the algorithm (no `alg: none`, no RS/HS confusion), and checks expiry, issuer
and audience; the authorizer is the only place requests are admitted with one.
"""

from __future__ import annotations

import time
import uuid

from pydantic import BaseModel, ConfigDict

ALGORITHM = "HS256"
AUDIENCE = "careforall-api"


class TokenClaims(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    sub: str
    email: str
    role: str
    iat: int
    exp: int
    jti: str


class InvalidTokenError(Exception):
    """The token is malformed, forged, expired, or from another issuer."""


class TokenService:
    def __init__(self, signing_key: str, issuer: str, ttl_seconds: int = 3600, clock=time.time,
                 audience: str = AUDIENCE) -> None:
        if len(signing_key) < 32:
            raise ValueError("the JWT signing key must be at least 32 characters")
        self._key = signing_key
        self._issuer = issuer
        self._audience = audience  # a token minted for one purpose is refused for any other
        self.ttl_seconds = ttl_seconds
        self._clock = clock

    def issue(self, *, user_id: str, email: str, role: str) -> str:
        now = int(self._clock())
        claims = {
            "sub": user_id,
            "email": email,
            "role": role,
            "iss": self._issuer,
            "aud": self._audience,
            "iat": now,
            "exp": now + self.ttl_seconds,
            "jti": uuid.uuid4().hex,
        }
        from jose import jwt  # python-jose loads its crypto backends: only requests that carry a token pay for them

        return jwt.encode(claims, self._key, algorithm=ALGORITHM)

    def verify(self, token: str) -> TokenClaims:
        from jose import JWTError, jwt

        try:
            header = jwt.get_unverified_header(token)
            if header.get("alg") != ALGORITHM:
                raise InvalidTokenError("unexpected signing algorithm")
            claims = jwt.decode(
                token,
                self._key,
                algorithms=[ALGORITHM],
                audience=self._audience,
                issuer=self._issuer,
                # Expiry is checked below against our clock, so tests can move time instead of sleeping.
                options={"require_exp": True, "require_iat": True, "require_sub": True, "verify_exp": False},
            )
            verified = TokenClaims.model_validate(claims)
            if verified.exp <= int(self._clock()):
                raise InvalidTokenError("the token has expired")
            return verified
        except InvalidTokenError:
            raise
        except (JWTError, ValueError) as error:  # pydantic's ValidationError is a ValueError
            raise InvalidTokenError(str(error)) from error
