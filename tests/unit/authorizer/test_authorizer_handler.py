"""The TOKEN authorizer Lambda end to end, against the users table and JWT secret in moto."""

from __future__ import annotations

import time
import uuid

import pytest

METHOD_ARN = "arn:aws:execute-api:us-east-1:123456789012:1234567890/v1/GET/users/me"


def _assert_unauthorized(stack, header):
    # API Gateway answers 401 only for this exact exception message
    with pytest.raises(Exception) as raised:
        stack.authorize(header)

    assert type(raised.value) is Exception
    assert str(raised.value) == "Unauthorized"


def test_authorize_valid_token_returns_allow_policy_with_caller_context(stack):
    user = stack.seed_user(email="ada@example.com")

    policy = stack.authorize(stack.bearer(user), METHOD_ARN)

    assert policy["principalId"] == user["user_id"]
    assert policy["context"] == {"user_id": user["user_id"], "email": "ada@example.com", "role": "DONOR"}
    statement, = policy["policyDocument"]["Statement"]
    assert (statement["Effect"], statement["Action"]) == ("Allow", "execute-api:Invoke")


def test_authorize_policy_covers_every_route_of_the_stage(stack):
    # API Gateway caches the policy per token, so it must not be limited to the first route called
    user = stack.seed_user()

    policy = stack.authorize(stack.bearer(user), METHOD_ARN)

    statement, = policy["policyDocument"]["Statement"]
    assert statement["Resource"] == ["arn:aws:execute-api:us-east-1:123456789012:1234567890/v1/*/*"]


def test_authorize_role_comes_from_users_table_not_token(stack):
    # GIVEN a token issued while the user was ADMIN, and the user since demoted
    user = stack.seed_user(role="DONOR")
    token = stack.bearer({**user, "role": "ADMIN"})

    policy = stack.authorize(token)

    assert policy["context"]["role"] == "DONOR"


def test_authorize_token_of_registered_user_admits_them_to_their_profile(stack):
    # GIVEN a user who registered through the API
    register = stack.users_api(stack.event("users_register"))
    assert register.status == 201

    # WHEN the authorizer admits their token and API Gateway passes its context on
    context = stack.authorize("Bearer " + register.json["token"])["context"]
    me = stack.users_api(stack.event("users_me", caller=context))

    # THEN they read their own profile
    assert me.status == 200
    assert me.json["id"] == register.json["user"]["id"]


def test_authorize_after_promotion_reports_admin(stack):
    admin, donor = stack.seed_user("admin@example.com", role="ADMIN"), stack.seed_user("donor@example.com")
    token = stack.bearer(donor)
    event = stack.event("users_set_role", path=f"/users/{donor['user_id']}/role",
                        path_params={"id": donor["user_id"]}, body={"role": "ADMIN"}, caller=admin)
    assert stack.users_api(event).status == 200

    assert stack.authorize(token)["context"]["role"] == "ADMIN"


def test_authorize_expired_token_raises_unauthorized(stack):
    user = stack.seed_user()

    _assert_unauthorized(stack, stack.bearer(user, ttl_seconds=60, clock=lambda: time.time() - 3600))


def test_authorize_unknown_user_raises_unauthorized(stack):
    ghost = {"user_id": str(uuid.uuid4()), "email": "ghost@example.com", "role": "ADMIN"}

    _assert_unauthorized(stack, stack.bearer(ghost))


def test_authorize_token_signed_with_another_key_raises_unauthorized(stack):
    from careforall.tokens import TokenService

    user = stack.seed_user()
    forged = TokenService("x" * 64, stack.environment["TOKEN_ISSUER"]).issue(
        user_id=user["user_id"], email=user["email"], role="ADMIN")

    _assert_unauthorized(stack, "Bearer " + forged)


@pytest.mark.parametrize("header", ["", "Bearer", "Bearer ", "Basic YWRtaW46YWRtaW4=", "Bearer not.a.jwt",
                                    "Bearer " + "A" * 5000])
def test_authorize_malformed_header_raises_unauthorized(stack, header):
    _assert_unauthorized(stack, header)
