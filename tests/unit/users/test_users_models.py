"""Request models of the users service: what a body may and may not contain."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from careforall.identity import Role

from users_service.models import (LoginRequest, RegisterRequest, RoleUpdateRequest, SeedAdminRequest, UserOut,
                                  UserRecord, email_key)

VALID = {"email": "ada@example.com", "password": "correct horse", "name": "Ada Lovelace"}


def _error_fields(raised) -> set[str]:
    return {str(error["loc"][0]) for error in raised.value.errors()}


def test_register_request_valid_body_parses():
    request = RegisterRequest.model_validate(VALID)

    assert (str(request.email), request.name) == ("ada@example.com", "Ada Lovelace")


def test_register_request_role_field_rejected():
    with pytest.raises(ValidationError) as raised:
        RegisterRequest.model_validate({**VALID, "role": "ADMIN"})

    assert _error_fields(raised) == {"role"}


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("password", "seven77"),
        ("password", "x" * 257),
        ("password", 12345678),
        ("email", "not-an-email"),
        ("email", "a@b"),
        ("email", "x" * 250 + "@example.com"),
        ("email", None),
        ("name", ""),
        ("name", "   "),
        ("name", "x" * 101),
        ("name", "Ada\nLovelace"),
        ("name", "Ada\x00"),
        ("name", "\x1b[31mred"),
        ("name", ["Ada"]),
    ],
)
def test_register_request_invalid_field_rejected(field, value):
    with pytest.raises(ValidationError) as raised:
        RegisterRequest.model_validate({**VALID, field: value})

    assert _error_fields(raised) == {field}


@pytest.mark.parametrize("missing", ["email", "password", "name"])
def test_register_request_missing_field_rejected(missing):
    body = {k: v for k, v in VALID.items() if k != missing}

    with pytest.raises(ValidationError) as raised:
        RegisterRequest.model_validate(body)

    assert _error_fields(raised) == {missing}


def test_register_request_name_is_trimmed_and_keeps_unicode():
    request = RegisterRequest.model_validate({**VALID, "name": "  Zoë 李雷 🙂  "})

    assert request.name == "Zoë 李雷 🙂"


def test_register_request_password_of_eight_chars_accepted():
    assert RegisterRequest.model_validate({**VALID, "password": "8chars!!"}).password == "8chars!!"


def test_login_request_one_char_password_accepted():
    # a short password cannot match, but must be a 401 like any wrong one, not a 422 hinting at the rules
    assert LoginRequest.model_validate({"email": "ada@example.com", "password": "x"}).password == "x"


def test_login_request_extra_field_rejected():
    with pytest.raises(ValidationError):
        LoginRequest.model_validate({"email": "ada@example.com", "password": "x", "remember": True})


@pytest.mark.parametrize("role", ["ROOT", "admin", "", None, 1])
def test_role_update_request_unknown_role_rejected(role):
    with pytest.raises(ValidationError):
        RoleUpdateRequest.model_validate({"role": role})


def test_seed_admin_request_name_defaults_to_administrator():
    request = SeedAdminRequest.model_validate({"email": "admin@careforall.local", "password": "admin-password"})

    assert request.name == "Administrator"


def test_user_out_has_no_password_hash():
    record = UserRecord(id="u-1", email="a@example.com", name="A", role=Role.DONOR, password_hash="$argon2id$x",
                        created_at="2025-01-01T00:00:00.000Z")

    out = UserOut.of(record).model_dump(mode="json")

    assert out == {"id": "u-1", "email": "a@example.com", "name": "A", "role": "DONOR",
                   "created_at": "2025-01-01T00:00:00.000Z"}


@pytest.mark.parametrize("email", ["Ada@Example.COM", " ada@example.com ", "ADA@EXAMPLE.COM"])
def test_email_key_any_spelling_gives_one_key(email):
    assert email_key(email) == "ada@example.com"
