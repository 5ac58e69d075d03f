"""Who a bearer token belongs to. Used by the API's Lambda authorizer, and by functions whose
routes admit anonymous callers too (a guest may pledge; a signed-in donor is recognised).

The role comes from the users table, not the token, so a demotion takes effect at the next
lookup instead of at token expiry.
"""

from __future__ import annotations

from typing import Protocol

from careforall.identity import Caller
from careforall.tokens import InvalidTokenError, TokenService


class UserDirectory(Protocol):
    def find(self, user_id: str) -> Caller | None: ...


class Unauthenticated(Exception):
    """The credentials are missing, malformed, forged, expired, or name a user that no longer exists."""


class Authenticator:
    def __init__(self, tokens: TokenService, users: UserDirectory) -> None:
        self._tokens = tokens
        self._users = users

    def authenticate(self, authorization_header: str) -> Caller:
        scheme, _, token = (authorization_header or "").partition(" ")
        if scheme != "Bearer" or not token:
            raise Unauthenticated("missing bearer token")
        try:
            claims = self._tokens.verify(token)
        except InvalidTokenError as error:
            raise Unauthenticated(str(error)) from error
        caller = self._users.find(claims.sub)
        if caller is None:  # the account was removed after the token was issued
            raise Unauthenticated("unknown user")
        return caller
