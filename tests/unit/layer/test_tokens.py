"""Access tokens: HS256 only, with expiry, issuer and audience checked."""

from __future__ import annotations

import base64
import json
import time

import pytest
from jose import jwt

from careforall.tokens import ALGORITHM, AUDIENCE, InvalidTokenError, TokenService

KEY = "k" * 40 + "-unit-test-signing-key"
ISSUER = "https://auth.careforall.org"
# Expiry is checked against the injected clock; it starts from the wall clock for realism only.
NOW = int(time.time())


class FrozenClock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(NOW)


@pytest.fixture
def tokens(clock) -> TokenService:
    return TokenService(KEY, ISSUER, ttl_seconds=3600, clock=clock)


def _claims(**overrides):
    claims = {"sub": "user-1", "email": "ada@example.com", "role": "DONOR", "iss": ISSUER, "aud": AUDIENCE,
              "iat": NOW, "exp": NOW + 3600, "jti": "abc123"}
    claims.update(overrides)
    return claims


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


def test_issue_then_verify_round_trip_gives_claims(tokens):
    token = tokens.issue(user_id="user-1", email="ada@example.com", role="ADMIN")

    claims = tokens.verify(token)

    assert (claims.sub, claims.email, claims.role) == ("user-1", "ada@example.com", "ADMIN")
    assert claims.iat == NOW
    assert claims.exp == NOW + 3600
    assert claims.jti


def test_issue_twice_gives_distinct_token_ids(tokens):
    first = tokens.verify(tokens.issue(user_id="u", email="a@example.com", role="DONOR"))
    second = tokens.verify(tokens.issue(user_id="u", email="a@example.com", role="DONOR"))

    assert first.jti != second.jti


def test_issue_header_names_hs256(tokens):
    token = tokens.issue(user_id="u", email="a@example.com", role="DONOR")

    assert jwt.get_unverified_header(token)["alg"] == "HS256"


def test_verify_expired_token_rejected(tokens, clock):
    # GIVEN a token with a one-hour lifetime
    expiring = tokens.issue(user_id="u", email="a@example.com", role="DONOR")

    # WHEN an hour and a second have passed THEN it is refused
    clock.now = NOW + 3601
    with pytest.raises(InvalidTokenError, match="expired"):
        tokens.verify(expiring)


def test_verify_token_at_its_expiry_second_rejected(tokens, clock):
    token = tokens.issue(user_id="u", email="a@example.com", role="DONOR")

    clock.now = NOW + 3600

    with pytest.raises(InvalidTokenError, match="expired"):
        tokens.verify(token)


def test_verify_token_seconds_before_expiry_accepted(tokens, clock):
    token = tokens.issue(user_id="u", email="a@example.com", role="DONOR")

    clock.now = NOW + 3600 - 5

    assert tokens.verify(token).sub == "u"


def test_verify_token_without_exp_rejected(tokens):
    claims = _claims()
    del claims["exp"]

    with pytest.raises(InvalidTokenError):
        tokens.verify(jwt.encode(claims, KEY, algorithm=ALGORITHM))


def test_verify_wrong_issuer_rejected(tokens):
    token = jwt.encode(_claims(iss="https://evil.example.com"), KEY, algorithm=ALGORITHM)

    with pytest.raises(InvalidTokenError):
        tokens.verify(token)


def test_verify_wrong_audience_rejected(tokens):
    token = jwt.encode(_claims(aud="another-api"), KEY, algorithm=ALGORITHM)

    with pytest.raises(InvalidTokenError):
        tokens.verify(token)


def test_verify_token_signed_with_other_key_rejected(tokens):
    token = jwt.encode(_claims(), "x" * 64, algorithm=ALGORITHM)

    with pytest.raises(InvalidTokenError):
        tokens.verify(token)


def test_verify_tampered_payload_rejected(tokens):
    # GIVEN a donor's genuine token whose payload is rewritten to claim ADMIN, signature kept
    header, _, signature = tokens.issue(user_id="u", email="a@example.com", role="DONOR").split(".")
    forged_payload = _b64(_claims(sub="u", email="a@example.com", role="ADMIN"))

    with pytest.raises(InvalidTokenError):
        tokens.verify(f"{header}.{forged_payload}.{signature}")


def test_verify_tampered_signature_rejected(tokens):
    header, payload, signature = tokens.issue(user_id="u", email="a@example.com", role="DONOR").split(".")
    # flip a character in the middle (the last one may only carry padding bits)
    middle = len(signature) // 2
    flipped = signature[:middle] + ("A" if signature[middle] != "A" else "B") + signature[middle + 1:]

    with pytest.raises(InvalidTokenError):
        tokens.verify(f"{header}.{payload}.{flipped}")


def test_verify_alg_none_token_rejected(tokens):
    unsigned = f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(_claims())}."

    with pytest.raises(InvalidTokenError):
        tokens.verify(unsigned)


def test_verify_hs512_token_with_same_key_rejected(tokens):
    token = jwt.encode(_claims(), KEY, algorithm="HS512")

    with pytest.raises(InvalidTokenError, match="algorithm"):
        tokens.verify(token)


def test_verify_token_missing_claims_rejected(tokens):
    claims = _claims()
    del claims["email"]

    with pytest.raises(InvalidTokenError):
        tokens.verify(jwt.encode(claims, KEY, algorithm=ALGORITHM))


@pytest.mark.parametrize("garbage", ["", "not-a-jwt", "a.b.c", "....", "eyJhbGciOiJIUzI1NiJ9.e30", "🙂.🙂.🙂"])
def test_verify_malformed_token_rejected(tokens, garbage):
    with pytest.raises(InvalidTokenError):
        tokens.verify(garbage)


def test_constructor_short_key_rejected():
    with pytest.raises(ValueError, match="at least 32"):
        TokenService("k" * 31, ISSUER)


def test_constructor_32_char_key_accepted():
    service = TokenService("k" * 32, ISSUER)

    assert service.verify(service.issue(user_id="u", email="a@example.com", role="DONOR")).sub == "u"
