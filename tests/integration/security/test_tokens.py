"""JWT attacks on every route that reads a bearer token: forged, expired, `alg: none`, algorithm confusion, wrong
issuer or audience, a subject that is no user, the lookup token in the bearer's place (and the reverse). Behind the
authorizer these are the gateway's 401; on the routes that admit guests the function's own 401. A role claim is never
believed: the role comes from the users table."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid

import pytest
from jose import jwt

from tests.integration.helpers import LOCAL_JWT_KEY, TOKEN_AUDIENCE, TOKEN_ISSUER, assert_json, forge_token
from tests.integration.security.support import ADMIN_ROUTES, TOKEN_ROUTES, assert_error_contract, valid_body

LOOKUP_AUDIENCE = "careforall-donation-lookup"
WRONG_KEY = "an-attackers-own-signing-key-of-plenty-of-length-0000"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def hand_made(header: dict, claims: dict, signature: bytes | None) -> str:
    """A JWT from its parts, signed however the test says (python-jose refuses to make the malicious ones)."""
    signing_input = f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(claims).encode())}"
    return f"{signing_input}.{b64url(signature) if signature is not None else ''}"


def hmac_signed(header: dict, claims: dict, key: str, digest=hashlib.sha256) -> str:
    unsigned = hand_made(header, claims, None)[:-1]
    return f"{unsigned}.{b64url(hmac.new(key.encode(), unsigned.encode(), digest).digest())}"


def claims_of(user: dict, **overrides) -> dict:
    now = int(time.time())
    return {"sub": user["id"], "email": user["email"], "role": "ADMIN", "iss": TOKEN_ISSUER, "aud": TOKEN_AUDIENCE,
            "iat": now, "exp": now + 600, "jti": uuid.uuid4().hex, **overrides}


def without(claims: dict, name: str) -> dict:
    return {key: value for key, value in claims.items() if key != name}


BAD_TOKENS = {  # kind -> Authorization header, built from the admin's identity (an impersonation attempt) or a token
    "forged-key": lambda admin, lookup: "Bearer " + forge_token(WRONG_KEY, sub=admin["id"], email=admin["email"],
                                                                role="ADMIN"),
    "expired": lambda admin, lookup: "Bearer " + forge_token(sub=admin["id"], email=admin["email"], role="ADMIN",
                                                             issued_at=int(time.time()) - 7200, lifetime=3600),
    "alg-none": lambda admin, lookup: "Bearer " + hand_made({"alg": "none", "typ": "JWT"}, claims_of(admin), None),
    "alg-none-with-signature": lambda admin, lookup: "Bearer " + hand_made({"alg": "none", "typ": "JWT"},
                                                                           claims_of(admin), b"x" * 32),
    "hs512-same-key": lambda admin, lookup: "Bearer " + jwt.encode(claims_of(admin), LOCAL_JWT_KEY, algorithm="HS512"),
    "rs256-header-hmac-signature": lambda admin, lookup: "Bearer " + hmac_signed({"alg": "RS256", "typ": "JWT"},
                                                                                 claims_of(admin), LOCAL_JWT_KEY),
    "hs256-header-with-jwk": lambda admin, lookup: "Bearer " + hmac_signed(
        {"alg": "HS256", "typ": "JWT", "jwk": {"kty": "oct", "k": b64url(WRONG_KEY.encode())}}, claims_of(admin),
        WRONG_KEY),
    "wrong-issuer": lambda admin, lookup: "Bearer " + forge_token(sub=admin["id"], email=admin["email"],
                                                                  role="ADMIN", issuer="https://evil.example"),
    "wrong-audience": lambda admin, lookup: "Bearer " + forge_token(sub=admin["id"], email=admin["email"],
                                                                    role="ADMIN", audience="someone-else"),
    "sub-of-no-user": lambda admin, lookup: "Bearer " + forge_token(sub=str(uuid.uuid4()), role="ADMIN"),
    "missing-sub": lambda admin, lookup: "Bearer " + jwt.encode(without(claims_of(admin), "sub"), LOCAL_JWT_KEY,
                                                                algorithm="HS256"),
    "missing-exp": lambda admin, lookup: "Bearer " + jwt.encode(without(claims_of(admin), "exp"), LOCAL_JWT_KEY,
                                                                algorithm="HS256"),
    "lookup-token": lambda admin, lookup: "Bearer " + lookup,
    "garbage": lambda admin, lookup: "Bearer not.a.token",
    "basic-scheme": lambda admin, lookup: "Basic " + base64.b64encode(b"admin:careforall-admin").decode(),
}


def route_ids(route) -> str:
    return route.name


@pytest.fixture
def authorization(admin_user, lookup_token):
    return lambda kind: BAD_TOKENS[kind](admin_user, lookup_token)


def reaching(route, guest_pledge) -> dict:
    """Request arguments with which only the token can be refused: a valid body, the guest's pledge id."""
    arguments = {"json": valid_body(route)} if route.fields else {}
    if route.path == "/pledges/{id}":
        arguments["path_id"] = guest_pledge["id"]
    return arguments


@pytest.mark.parametrize("kind", BAD_TOKENS)
@pytest.mark.parametrize("route", TOKEN_ROUTES, ids=route_ids)
def test_call_route_with_bad_token_returns_401(call, authorization, guest_pledge, route, kind):
    response = call(route, token=None, headers={"Authorization": authorization(kind)}, **reaching(route, guest_pledge))

    problem = assert_error_contract(response)
    assert response.status_code == 401, problem


def test_call_route_with_admins_real_token_is_not_refused(call, admin_token, guest_pledge):
    # The 401s above come from the token alone: with the admin's own token no route answers 401 or 403.
    statuses = {route.name: call(route, token=admin_token, **reaching(route, guest_pledge)).status_code
                for route in TOKEN_ROUTES}

    assert not {name: status for name, status in statuses.items() if status in (401, 403) or status >= 500}, statuses


# ---------------------------------------------------------------- the role claim is never believed

@pytest.fixture
def self_promoted(package_donor) -> str:
    """A correctly signed token for the donor that claims role ADMIN (what a donor who learned the key, or a bug that
    signed the wrong claims, would send)."""
    user = package_donor["user"]
    return forge_token(LOCAL_JWT_KEY, sub=user["id"], email=user["email"], role="ADMIN")


@pytest.mark.parametrize("route", ADMIN_ROUTES, ids=route_ids)
def test_call_admin_route_with_token_claiming_admin_role_returns_403(call, self_promoted, route):
    response = call(route, token=self_promoted, **({"json": valid_body(route)} if route.fields else {}))

    problem = assert_error_contract(response)
    assert response.status_code == 403, problem


def test_get_me_with_token_claiming_admin_role_shows_role_from_table(api, self_promoted):
    assert assert_json(api.get("/users/me", token=self_promoted), 200)["role"] == "DONOR"


# ---------------------------------------------------------------- lookup tokens and bearer tokens stay apart

BAD_LOOKUP_TOKENS = {
    "donor-bearer-token": lambda donor, admin: donor["token"],
    "admin-bearer-token": lambda donor, admin: admin,
    "forged-key": lambda donor, admin: forge_token(WRONG_KEY, role="GUEST", audience=LOOKUP_AUDIENCE),
    "alg-none": lambda donor, admin: hand_made({"alg": "none", "typ": "JWT"},
                                               claims_of(donor["user"], role="GUEST", aud=LOOKUP_AUDIENCE), None),
    "hs512-same-key": lambda donor, admin: jwt.encode(claims_of(donor["user"], role="GUEST", aud=LOOKUP_AUDIENCE),
                                                      LOCAL_JWT_KEY, algorithm="HS512"),
    "expired": lambda donor, admin: forge_token(role="GUEST", audience=LOOKUP_AUDIENCE,
                                                issued_at=int(time.time()) - 3600, lifetime=900),
    "wrong-issuer": lambda donor, admin: forge_token(role="GUEST", audience=LOOKUP_AUDIENCE,
                                                     issuer="https://evil.example"),
}


@pytest.mark.parametrize("kind", BAD_LOOKUP_TOKENS)
def test_list_donations_with_bad_lookup_token_returns_401(api, package_donor, admin_token, kind):
    response = api.get("/donations", params={"token": BAD_LOOKUP_TOKENS[kind](package_donor, admin_token)})

    problem = assert_error_contract(response)
    assert response.status_code == 401, problem


def test_list_donations_with_real_lookup_token_returns_200(api, lookup_token):
    assert_json(api.get("/donations", params={"token": lookup_token}), 200)
