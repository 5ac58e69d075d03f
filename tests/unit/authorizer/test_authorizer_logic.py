"""Authenticator with a fake user directory: who a bearer token belongs to."""

from __future__ import annotations

import time

import pytest

from careforall.identity import Role
from careforall.tokens import TokenService

from careforall.auth import Unauthenticated

ISSUER = "https://auth.careforall.org"


def _bearer(tokens: TokenService, user_id: str = "u-1", email: str = "ada@example.com", role: str = "DONOR") -> str:
    return "Bearer " + tokens.issue(user_id=user_id, email=email, role=role)


def test_authorize_valid_token_of_known_user_gives_principal(authorizer, tokens, directory):
    directory.add("u-1", "ada@example.com", "DONOR")

    principal = authorizer.authenticate(_bearer(tokens))

    assert (principal.user_id, principal.email, principal.role) == ("u-1", "ada@example.com", Role.DONOR)


def test_authorize_role_comes_from_directory_not_token(authorizer, tokens, directory):
    # GIVEN an ADMIN token of a user who has since been demoted
    directory.add("u-1", "ada@example.com", "DONOR")

    principal = authorizer.authenticate(_bearer(tokens, role="ADMIN"))

    assert principal.role is Role.DONOR


def test_authorize_unknown_user_rejected(authorizer, tokens):
    with pytest.raises(Unauthenticated, match="unknown user"):
        authorizer.authenticate(_bearer(tokens, user_id="deleted-user"))


@pytest.mark.parametrize("header", ["", None, "Bearer", "Bearer ", "Basic dXNlcjpwYXNz", "bearer {token}",
                                    "Token {token}", "{token}"])
def test_authorize_header_without_bearer_token_rejected(authorizer, tokens, directory, header):
    directory.add("u-1", "ada@example.com", "DONOR")
    token = tokens.issue(user_id="u-1", email="ada@example.com", role="DONOR")

    with pytest.raises(Unauthenticated):
        authorizer.authenticate(header.format(token=token) if header else header)


def test_authorize_expired_token_rejected(authorizer, directory):
    directory.add("u-1", "ada@example.com", "DONOR")
    issued_long_ago = TokenService("authorizer-unit-test-signing-key-0123456789", ISSUER, ttl_seconds=60,
                                   clock=lambda: time.time() - 3600)

    with pytest.raises(Unauthenticated):
        authorizer.authenticate(_bearer(issued_long_ago))


def test_authorize_token_of_another_signing_key_rejected(authorizer, directory):
    directory.add("u-1", "ada@example.com", "DONOR")
    forger = TokenService("another-key-that-is-long-enough-0123456789", ISSUER)

    with pytest.raises(Unauthenticated):
        authorizer.authenticate(_bearer(forger))


def test_authorize_token_of_another_issuer_rejected(authorizer, directory):
    directory.add("u-1", "ada@example.com", "DONOR")
    other_issuer = TokenService("authorizer-unit-test-signing-key-0123456789", "https://evil.example.com")

    with pytest.raises(Unauthenticated):
        authorizer.authenticate(_bearer(other_issuer))


def test_authorize_garbage_token_rejected(authorizer):
    with pytest.raises(Unauthenticated):
        authorizer.authenticate("Bearer not.a.jwt")
