"""Decides who a bearer token belongs to. The role comes from the users table, not the token, so a
demotion takes effect within the authorizer cache TTL instead of at token expiry."""

from __future__ import annotations

from typing import Protocol

from careforall.tokens import InvalidTokenError, TokenService

from authorizer_service.models import Principal


class UserDirectory(Protocol):
    def find(self, user_id: str) -> Principal | None: ...


class Unauthorized(Exception):
    """The request must be answered 401."""


class TokenAuthorizer:
    def __init__(self, tokens: TokenService, users: UserDirectory) -> None:
        self._tokens = tokens
        self._users = users

    def authorize(self, authorization_header: str) -> Principal:
        scheme, _, token = (authorization_header or "").partition(" ")
        if scheme != "Bearer" or not token:
            raise Unauthorized("missing bearer token")
        try:
            claims = self._tokens.verify(token)
        except InvalidTokenError as error:
            raise Unauthorized(str(error)) from error
        principal = self._users.find(claims.sub)
        if principal is None:  # the account was removed after the token was issued
            raise Unauthorized("unknown user")
        return principal
