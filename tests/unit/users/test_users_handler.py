"""The users Lambda handlers end to end: API Gateway proxy events in, proxy results out, moto behind.

Argon2 costs ~0.1 s per hash or check, so most users are written straight into the table
(stack.seed_user) and only registration and login tests go through the real hashing path.
"""

from __future__ import annotations

import json
import uuid

import pytest
from pydantic import ValidationError

from careforall.api import MAX_BODY_BYTES

REGISTER = {"email": "ada@example.com", "password": "correct horse battery", "name": "Ada Lovelace"}
USER_FIELDS = {"id", "email", "name", "role", "created_at"}


def _register(stack, body=None, **tweaks):
    return stack.users_api(stack.event("users_register", body=REGISTER if body is None else body, **tweaks))


def _login(stack, email, password, **tweaks):
    return stack.users_api(stack.event("users_login", body={"email": email, "password": password}, **tweaks))


def _me(stack, caller, **tweaks):
    return stack.users_api(stack.event("users_me", caller=caller, **tweaks))


def _set_role(stack, user_id, body, caller, **tweaks):
    tweaks.setdefault("raw_body", json.dumps(body))
    return stack.users_api(stack.event("users_set_role", path=f"/users/{user_id}/role",
                                       path_params={"id": user_id}, caller=caller, **tweaks))


def _error_fields(problem_body) -> set[str]:
    return {str(error["loc"][-1]) for error in problem_body["errors"]}


# ============================================================================ POST /auth/register
def test_register_valid_body_returns_201_with_donor_and_token(stack):
    result = _register(stack)

    assert result.status == 201
    assert result.header("Content-Type") == "application/json"
    assert set(result.json) == {"user", "token"}
    user = result.json["user"]
    assert set(user) == USER_FIELDS
    assert (user["email"], user["name"], user["role"]) == ("ada@example.com", "Ada Lovelace", "DONOR")
    assert uuid.UUID(user["id"])
    assert user["created_at"].endswith("Z")


def test_register_token_verifies_for_the_new_user(stack):
    result = _register(stack)

    claims = stack.tokens().verify(result.json["token"])

    assert (claims.sub, claims.role) == (result.json["user"]["id"], "DONOR")


def test_register_stores_argon2_hash_not_password(stack):
    user_id = _register(stack).json["user"]["id"]

    item = stack.get_item("UsersTable", {"pk": f"USER#{user_id}"})

    assert item["password_hash"].startswith("$argon2id$")
    assert REGISTER["password"] not in json.dumps(item)


def test_register_response_has_no_password_or_hash(stack):
    result = _register(stack)

    assert "password" not in result.raw_body
    assert "argon2" not in result.raw_body


def test_register_sends_correlation_id_back(stack):
    result = _register(stack, headers={"X-Correlation-Id": "signup-form-42"})

    assert result.header("X-Correlation-Id") == "signup-form-42"


def test_register_unicode_name_round_trips(stack):
    result = _register(stack, body={**REGISTER, "name": "Zoë Ñúñez 李雷 🙂"})

    assert result.status == 201
    assert result.json["user"]["name"] == "Zoë Ñúñez 李雷 🙂"


def test_register_duplicate_email_other_case_returns_409(stack):
    # GIVEN an account for ada@example.com
    stack.seed_user(email="ada@example.com")

    # WHEN someone registers the same address spelled differently
    result = _register(stack, body={**REGISTER, "email": "ADA@Example.com"})

    # THEN the email is taken and no second account exists
    result.problem(409, "email-taken")
    assert stack.item_count("UsersTable") == 2  # the user and its email guard


def test_register_role_admin_in_body_returns_422_and_creates_nobody(stack):
    result = _register(stack, body={**REGISTER, "role": "ADMIN"})

    body = result.problem(422, "validation-error")
    assert _error_fields(body) == {"role"}
    assert stack.item_count("UsersTable") == 0


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("password", "short"),
        ("password", "x" * 10_000),
        ("password", 12345678),
        ("email", "not-an-email"),
        ("email", "a" * 300 + "@example.com"),
        ("email", ["ada@example.com"]),
        ("name", ""),
        ("name", "x" * 10_000),
        ("name", "Robert\x00'); DROP TABLE users;--"),
        ("name", "line\nbreak"),
        ("name", "\u001b[31mred"),
        ("name", {"first": "Ada"}),
        ("name", None),
    ],
)
def test_register_invalid_field_returns_422_naming_the_field(stack, field, value):
    result = _register(stack, body={**REGISTER, field: value})

    body = result.problem(422, "validation-error")
    assert _error_fields(body) == {field}
    assert all(set(error) == {"loc", "type", "msg"} for error in body["errors"])


def test_register_missing_fields_returns_422_listing_each(stack):
    result = _register(stack, body={})

    assert _error_fields(result.problem(422)) == {"email", "password", "name"}


@pytest.mark.parametrize("raw", ['{"email": "ada@example.com",', "not json", "{'email': 'single quotes'}", "\x00\x01"])
def test_register_malformed_json_returns_400(stack, raw):
    result = _register(stack, raw_body=raw)

    result.problem(400, "malformed-json")


@pytest.mark.parametrize("raw", ["[]", json.dumps([REGISTER]), '"ada@example.com"', "42", "null"])
def test_register_json_that_is_not_an_object_returns_422(stack, raw):
    result = _register(stack, raw_body=raw)

    result.problem(422, "validation-error")
    assert stack.item_count("UsersTable") == 0


def test_register_without_body_returns_422(stack):
    result = _register(stack, raw_body=None)

    result.problem(422, "validation-error")


def test_register_oversized_body_returns_413(stack):
    result = _register(stack, body={**REGISTER, "name": "x" * MAX_BODY_BYTES})

    result.problem(413, "content-too-large")
    assert stack.item_count("UsersTable") == 0


# ============================================================================ POST /auth/login
def test_login_valid_credentials_returns_bearer_token(stack):
    user = stack.seed_user(email="ada@example.com")

    result = _login(stack, "ada@example.com", stack.known_password)

    assert result.status == 200
    body = result.json
    assert (body["token_type"], body["expires_in"]) == ("Bearer", 3600)
    assert set(body["user"]) == USER_FIELDS
    assert body["user"]["id"] == user["user_id"]
    assert stack.tokens().verify(body["token"]).sub == user["user_id"]


def test_login_email_other_case_succeeds(stack):
    user = stack.seed_user(email="ada@example.com")

    result = _login(stack, "Ada@EXAMPLE.com", stack.known_password)

    assert result.json["user"]["id"] == user["user_id"]


def test_login_wrong_password_returns_401(stack):
    stack.seed_user(email="ada@example.com")

    result = _login(stack, "ada@example.com", "not the password")

    result.problem(401, "unauthorized")
    assert "token" not in result.json


def test_login_unknown_email_returns_401(stack):
    result = _login(stack, "nobody@example.com", "whatever-password")

    result.problem(401, "unauthorized")


def test_login_after_five_failures_returns_429_with_retry_after(stack):
    # GIVEN five wrong passwords for one account within the window
    stack.seed_user(email="ada@example.com")
    for _ in range(5):
        _login(stack, "ada@example.com", "guess").problem(401)

    # WHEN even the right password is tried
    result = _login(stack, "ada@example.com", stack.known_password)

    # THEN the login is throttled until the window ends
    result.problem(429, "too-many-requests")
    assert 1 <= int(result.header("Retry-After")) <= 900


def test_login_malformed_json_returns_400(stack):
    result = stack.users_api(stack.event("users_login", raw_body='{"email": '))

    result.problem(400, "malformed-json")


def test_login_missing_password_returns_422(stack):
    result = stack.users_api(stack.event("users_login", body={"email": "ada@example.com"}))

    assert _error_fields(result.problem(422)) == {"password"}


def test_login_extra_field_returns_422(stack):
    body = {"email": "ada@example.com", "password": "x", "role": "ADMIN"}

    result = stack.users_api(stack.event("users_login", body=body))

    assert _error_fields(result.problem(422)) == {"role"}


# ============================================================================ GET /users/me
def test_get_me_returns_the_caller_without_hash(stack):
    user = stack.seed_user(email="ada@example.com", name="Ada")

    result = _me(stack, user)

    assert result.status == 200
    assert set(result.json) == USER_FIELDS
    assert (result.json["id"], result.json["email"], result.json["role"]) == (user["user_id"], "ada@example.com",
                                                                              "DONOR")


def test_get_me_sends_correlation_id_back(stack):
    user = stack.seed_user()

    result = _me(stack, user, headers={"X-Correlation-Id": "me-123"})

    assert result.header("X-Correlation-Id") == "me-123"


def test_get_me_without_authorizer_context_returns_401(stack):
    result = _me(stack, None)

    result.problem(401, "unauthorized")


def test_get_me_of_deleted_user_returns_404(stack):
    ghost = {"user_id": str(uuid.uuid4()), "email": "ghost@example.com", "role": "DONOR"}

    result = _me(stack, ghost)

    result.problem(404, "not-found")


# ============================================================================ PUT /users/{id}/role
def test_set_role_by_admin_promotes_user(stack):
    admin, donor = stack.seed_user("admin@example.com", role="ADMIN"), stack.seed_user("donor@example.com")

    result = _set_role(stack, donor["user_id"], {"role": "ADMIN"}, caller=admin)

    assert result.status == 200
    assert (result.json["id"], result.json["role"]) == (donor["user_id"], "ADMIN")
    assert set(result.json) == USER_FIELDS
    assert stack.get_item("UsersTable", {"pk": f"USER#{donor['user_id']}"})["role"] == "ADMIN"


def test_set_role_by_admin_demotes_admin(stack):
    admin, other = stack.seed_user("admin@example.com", role="ADMIN"), stack.seed_user("x@example.com", role="ADMIN")

    result = _set_role(stack, other["user_id"], {"role": "DONOR"}, caller=admin)

    assert result.json["role"] == "DONOR"


def test_set_role_by_donor_returns_403(stack):
    donor = stack.seed_user("donor@example.com")

    result = _set_role(stack, donor["user_id"], {"role": "ADMIN"}, caller=donor)

    result.problem(403, "forbidden")
    assert stack.get_item("UsersTable", {"pk": f"USER#{donor['user_id']}"})["role"] == "DONOR"


def test_set_role_of_unknown_user_returns_404(stack):
    admin = stack.seed_user("admin@example.com", role="ADMIN")

    result = _set_role(stack, str(uuid.uuid4()), {"role": "ADMIN"}, caller=admin)

    result.problem(404, "not-found")
    assert stack.item_count("UsersTable") == 2  # no user item was created by the update


def test_set_role_without_authorizer_context_returns_401(stack):
    donor = stack.seed_user()

    result = _set_role(stack, donor["user_id"], {"role": "ADMIN"}, caller=None)

    result.problem(401, "unauthorized")


@pytest.mark.parametrize("body", [{"role": "ROOT"}, {"role": "admin"}, {"role": None}, {}, {"role": "ADMIN", "x": 1}])
def test_set_role_invalid_body_returns_422(stack, body):
    admin, donor = stack.seed_user("admin@example.com", role="ADMIN"), stack.seed_user("donor@example.com")

    result = _set_role(stack, donor["user_id"], body, caller=admin)

    result.problem(422, "validation-error")


def test_set_role_malformed_json_returns_400(stack):
    admin = stack.seed_user("admin@example.com", role="ADMIN")

    result = _set_role(stack, admin["user_id"], None, caller=admin, raw_body="{role: ADMIN}")

    result.problem(400, "malformed-json")


def test_set_role_overlong_id_returns_422(stack):
    admin = stack.seed_user("admin@example.com", role="ADMIN")

    result = _set_role(stack, "u" * 65, {"role": "ADMIN"}, caller=admin)

    result.problem(422, "validation-error")


# ============================================================================ seed admin (operator entry point)
def test_seed_admin_creates_admin_and_returns_it_without_hash(stack):
    output = stack.seed_admin(stack.event("seed_admin"))

    assert set(output) == USER_FIELDS
    assert (output["email"], output["role"], output["name"]) == ("admin@careforall.local", "ADMIN", "Administrator")
    assert stack.get_item("UsersTable", {"pk": f"USER#{output['id']}"})["role"] == "ADMIN"


def test_seed_admin_run_twice_returns_the_same_admin(stack):
    first = stack.seed_admin(stack.event("seed_admin"))

    second = stack.seed_admin(stack.event("seed_admin"))

    assert second == first
    assert stack.item_count("UsersTable") == 2


def test_seed_admin_promotes_existing_donor(stack):
    donor = stack.seed_user(email="Admin@CareForAll.local")

    output = stack.seed_admin(stack.event("seed_admin"))

    assert (output["id"], output["role"]) == (donor["user_id"], "ADMIN")


def test_seed_admin_created_admin_can_log_in(stack):
    event = stack.event("seed_admin")
    stack.seed_admin(event)

    result = _login(stack, event["email"], event["password"])

    assert result.status == 200
    assert result.json["user"]["role"] == "ADMIN"


def test_seed_admin_without_password_raises(stack):
    event = stack.event("seed_admin")
    del event["password"]

    with pytest.raises(ValidationError):
        stack.seed_admin(event)
