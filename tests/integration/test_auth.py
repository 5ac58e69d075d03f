"""Users and auth over HTTP: registration, login, login throttling, tokens and roles (CONTRACT.md, "Users and auth")."""

from __future__ import annotations

import uuid

import pytest

from tests.integration.helpers import assert_json, assert_problem, assert_utc_timestamp, forge_token, unique_email

PASSWORD = "correct horse battery"
USER_FIELDS = {"id", "email", "name", "role", "created_at"}
MAX_FAILED_LOGINS_PER_EMAIL = 5
# Failed logins are also counted per client address (20 per 15-minute window), and every test here logs in from
# 127.0.0.1 against one session stack: the whole session stays well under that (about 13 failures) on purpose.


def register(api, email=None, password=PASSWORD, name="Dana Donor", headers=None, **extra):
    return api.post("/auth/register", headers=headers,
                    json={"email": email or unique_email("reg"), "password": password, "name": name, **extra})


def login(api, email, password=PASSWORD, **kwargs):
    return api.post("/auth/login", json={"email": email, "password": password}, **kwargs)


# ---------------------------------------------------------------- register

def test_register_with_valid_body_returns_201_donor_user_and_token(api):
    email = unique_email("new")

    body = assert_json(register(api, email=email, name="Dana Donor"), 201)

    assert set(body) == {"user", "token"}
    assert set(body["user"]) == USER_FIELDS
    assert body["user"]["email"] == email
    assert body["user"]["name"] == "Dana Donor"
    assert body["user"]["role"] == "DONOR"
    uuid.UUID(body["user"]["id"])
    assert_utc_timestamp(body["user"]["created_at"])
    assert body["token"].count(".") == 2


def test_register_with_valid_body_exposes_no_password_or_hash(api):
    response = register(api)

    assert_json(response, 201)
    text = response.text.lower()
    assert "password" not in text
    assert "hash" not in text
    assert "$argon2" not in text
    assert PASSWORD not in text


def test_register_with_duplicate_email_returns_409(api, donor):
    response = register(api, email=donor["email"])

    assert_problem(response, 409)


def test_register_with_duplicate_email_in_other_case_returns_409(api, donor):
    response = register(api, email=donor["email"].upper())

    assert_problem(response, 409)


def test_register_with_role_admin_in_body_returns_422(api):
    response = register(api, role="ADMIN")

    assert_problem(response, 422)


def test_register_with_role_admin_in_body_creates_no_account(api):
    email = unique_email("would-be-admin")
    assert register(api, email=email, role="ADMIN").status_code == 422

    assert_problem(login(api, email), 401)


def test_register_with_short_password_returns_422_with_errors(api):
    body = assert_problem(register(api, password="short7!"), 422)

    assert any(error["loc"][-1] == "password" for error in body["errors"])


def test_register_with_malformed_json_returns_400_problem(api):
    response = api.post("/auth/register", data='{"email": "a@example.com", "password": ',
                        headers={"Content-Type": "application/json"})

    assert_problem(response, 400)


@pytest.mark.parametrize("raw", ['["a@example.com", "correct horse battery", "Dana"]', '"a@example.com"', "42",
                                 "null", "true"], ids=["array", "string", "number", "null", "bool"])
def test_register_with_non_object_json_returns_422(api, raw):
    response = api.post("/auth/register", data=raw, headers={"Content-Type": "application/json"})

    assert_problem(response, 422)


def test_register_with_valid_object_wrapped_in_array_returns_422(api):
    body = [{"email": unique_email("wrapped"), "password": PASSWORD, "name": "Dana Donor"}]

    assert_problem(api.post("/auth/register", json=body), 422)


def test_register_with_valid_object_wrapped_in_array_creates_no_account(api):
    email = unique_email("wrapped")
    api.post("/auth/register", json=[{"email": email, "password": PASSWORD, "name": "Dana Donor"}])

    assert_json(register(api, email=email), 201)


def test_register_with_10k_char_name_returns_422(api):
    body = assert_problem(register(api, name="x" * 10_000), 422)

    assert any(error["loc"][-1] == "name" for error in body["errors"])


@pytest.mark.parametrize("name", ["Dana\x00Donor", "Dana\nDonor", "Dana\x1b[31mDonor", "Dana\x7f"],
                         ids=["nul", "newline", "escape", "delete"])
def test_register_with_control_chars_in_name_returns_422(api, name):
    response = register(api, name=name)

    assert_problem(response, 422)


def test_register_with_unicode_name_returns_201_with_name_intact(api):
    name = "Zoë Łukasiewicz-李小龍 🌍"

    body = assert_json(register(api, name=name), 201)

    assert body["user"]["name"] == name


def test_register_with_body_over_64_kib_returns_413_problem(api):
    response = register(api, name="x" * (65 * 1024))

    assert_problem(response, 413)


def test_register_with_body_over_10_mib_returns_413_problem_from_gateway(api):
    response = api.post("/auth/register", data=b"x" * (10 * 1024 * 1024 + 1),
                        headers={"Content-Type": "application/json"})

    assert assert_problem(response, 413)["type"].endswith("content-too-large")


def test_register_with_body_over_64_kib_of_multibyte_characters_returns_413_problem(api):
    response = register(api, name="\U0001F600" * (17 * 1024))  # 17 Ki characters, 68 KiB of UTF-8

    assert_problem(response, 413)


def test_register_with_form_content_type_returns_415_problem(api):
    response = api.post("/auth/register", data={"email": unique_email(), "password": PASSWORD, "name": "Dana"})

    assert_problem(response, 415)


def test_register_with_correlation_id_echoes_it(api):
    response = register(api, headers={"X-Correlation-Id": "abc-123"})

    assert response.status_code == 201
    assert response.headers["X-Correlation-Id"] == "abc-123"


# ---------------------------------------------------------------- login

def test_login_with_valid_credentials_returns_bearer_token_and_user(api, donor):
    body = assert_json(login(api, donor["email"], donor["password"]), 200)

    assert body["token_type"] == "Bearer"
    assert body["token"].count(".") == 2
    assert isinstance(body["expires_in"], int) and body["expires_in"] > 0
    assert set(body["user"]) == USER_FIELDS
    assert body["user"]["id"] == donor["user"]["id"]


def test_login_with_email_in_other_case_returns_200(api, donor):
    response = login(api, donor["email"].upper(), donor["password"])

    assert_json(response, 200)


def test_login_with_wrong_password_returns_401(api, donor):
    response = login(api, donor["email"], "not the password")

    assert_problem(response, 401)


def test_login_with_unknown_email_returns_401(api):
    response = login(api, unique_email("nobody"))

    assert_problem(response, 401)


def test_login_after_five_failures_returns_429_with_retry_after(api, donor):
    for _ in range(MAX_FAILED_LOGINS_PER_EMAIL):
        assert login(api, donor["email"], "not the password").status_code == 401

    response = login(api, donor["email"], "not the password")

    assert_problem(response, 429)
    assert int(response.headers["Retry-After"]) > 0


def test_login_after_five_failures_with_right_password_returns_429(api, donor):
    for _ in range(MAX_FAILED_LOGINS_PER_EMAIL):
        assert login(api, donor["email"], "not the password").status_code == 401

    response = login(api, donor["email"], donor["password"])

    assert_problem(response, 429)
    assert int(response.headers["Retry-After"]) > 0


# ---------------------------------------------------------------- tokens

def test_get_me_with_token_returns_the_caller(api, donor):
    body = assert_json(api.get("/users/me", token=donor["token"]), 200)

    assert body == donor["user"]


def test_get_me_without_token_returns_401_problem_with_www_authenticate(api):
    response = api.get("/users/me")

    assert_problem(response, 401)
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_get_me_without_token_with_correlation_id_echoes_it(api):
    response = api.get("/users/me", headers={"X-Correlation-Id": "abc-123"})

    assert response.status_code == 401
    assert response.headers["X-Correlation-Id"] == "abc-123"


@pytest.mark.parametrize("authorization", ["Bearer garbage", "Bearer not.a.jwt", "Basic dXNlcjpwYXNz", "garbage"],
                         ids=["opaque", "jwt-shaped", "basic-scheme", "no-scheme"])
def test_get_me_with_garbage_token_returns_401(api, authorization):
    response = api.get("/users/me", headers={"Authorization": authorization})

    assert_problem(response, 401)


def test_get_me_with_token_signed_by_another_key_returns_401(api, donor):
    token = forge_token("a-different-signing-key-of-enough-length-0123456789", sub=donor["user"]["id"],
                        email=donor["email"])

    response = api.get("/users/me", token=token)

    assert_problem(response, 401)


def test_get_me_with_token_forged_with_local_key_returns_200(api, donor):
    """Control for the forged-token tests: with the documented local key and live claims it is accepted."""
    token = forge_token(sub=donor["user"]["id"], email=donor["email"])

    body = assert_json(api.get("/users/me", token=token), 200)

    assert body["id"] == donor["user"]["id"]


def test_get_me_with_expired_token_returns_401(api, donor):
    token = forge_token(sub=donor["user"]["id"], email=donor["email"], issued_at=1_700_000_000, lifetime=3600)

    response = api.get("/users/me", token=token)

    assert_problem(response, 401)


def test_get_me_with_token_of_another_issuer_returns_401(api, donor):
    token = forge_token(sub=donor["user"]["id"], email=donor["email"], issuer="https://evil.example.com")

    response = api.get("/users/me", token=token)

    assert_problem(response, 401)


# ---------------------------------------------------------------- roles

def test_set_role_as_donor_returns_403(api, donor):
    response = api.put(f"/users/{donor['user']['id']}/role", token=donor["token"], json={"role": "ADMIN"})

    assert_problem(response, 403)


def test_set_role_as_admin_promotes_donor_to_admin(api, admin_token, donor):
    response = api.put(f"/users/{donor['user']['id']}/role", token=admin_token, json={"role": "ADMIN"})

    body = assert_json(response, 200)
    assert body["id"] == donor["user"]["id"]
    assert body["role"] == "ADMIN"
    assert set(body) == USER_FIELDS


def test_set_role_promoted_donor_after_new_login_can_create_campaign(api, admin_token, donor):
    promoted = api.put(f"/users/{donor['user']['id']}/role", token=admin_token, json={"role": "ADMIN"})
    assert promoted.status_code == 200, promoted.text
    session = assert_json(login(api, donor["email"], donor["password"]), 200)

    response = api.post("/campaigns", token=session["token"],
                        json={"title": "Promoted", "description": "By a new admin", "goal_amount": "10.00"})

    body = assert_json(response, 201)
    assert body["owner_id"] == donor["user"]["id"]


def test_set_role_for_unknown_user_returns_404(api, admin_token):
    response = api.put(f"/users/{uuid.uuid4()}/role", token=admin_token, json={"role": "ADMIN"})

    assert_problem(response, 404)


@pytest.mark.parametrize("role", ["SUPERUSER", "admin", "", None, 1], ids=["unknown", "lower-case", "empty", "null",
                                                                         "number"])
def test_set_role_with_bad_role_value_returns_422(api, admin_token, donor, role):
    response = api.put(f"/users/{donor['user']['id']}/role", token=admin_token, json={"role": role})

    assert_problem(response, 422)


def test_set_role_without_token_returns_401(api, donor):
    response = api.put(f"/users/{donor['user']['id']}/role", json={"role": "ADMIN"})

    assert_problem(response, 401)
