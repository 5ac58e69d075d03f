"""Argon2PasswordHasher with the production profile (RFC 9106 low memory, Argon2id)."""

from __future__ import annotations

import pytest

from users_service.passwords import Argon2PasswordHasher


@pytest.fixture(scope="module")
def hasher() -> Argon2PasswordHasher:
    return Argon2PasswordHasher()


@pytest.fixture(scope="module")
def stored(hasher) -> str:
    return hasher.hash("correct horse battery")


def test_hash_uses_argon2id_with_rfc9106_low_memory_profile(stored):
    assert stored.startswith("$argon2id$v=19$m=65536,t=3,p=4$")


def test_hash_never_contains_the_password(stored):
    assert "correct horse battery" not in stored


def test_hash_same_password_twice_gives_different_salts(hasher, stored):
    assert hasher.hash("correct horse battery") != stored


def test_verify_right_password_accepted(hasher, stored):
    assert hasher.verify(stored, "correct horse battery") is True


def test_verify_wrong_password_rejected(hasher, stored):
    assert hasher.verify(stored, "correct horse batterY") is False


def test_verify_without_hash_rejected_even_for_the_dummy_password(hasher):
    # unknown emails are checked against an internal dummy hash; knowing its password must not help
    assert hasher.verify(None, "careforall-timing-equaliser") is False


@pytest.mark.parametrize("garbage", ["", "plaintext", "$argon2id$broken", "$2b$12$bcrypt-hash-of-something"])
def test_verify_malformed_hash_rejected(hasher, garbage):
    assert hasher.verify(garbage, "anything") is False


def test_verify_empty_hash_rejected_even_for_the_dummy_password(hasher):
    # a record with an empty hash must not fall through to the dummy hash, whose password is public
    assert hasher.verify("", "careforall-timing-equaliser") is False
