"""Ownership and roles: another donor's pledge, a wrong receipt token, another owner's campaign and the admin routes
answer 403 (401 without any credential), and change nothing."""

from __future__ import annotations

import uuid

import pytest

from tests.integration.helpers import assert_json, new_idempotency_key, poll
from tests.integration.security.support import ADMIN_ROUTES, assert_error_contract, valid_body

PLEDGE_FIELDS_SHOWN = {"id", "campaign_id", "donor_id", "donor_email", "donor_name", "message", "amount", "currency",
                       "status", "payment", "created_at", "updated_at"}


def route_ids(route) -> str:
    return route.name


def login(api, email: str, password: str) -> str:
    return assert_json(api.post("/auth/login", json={"email": email, "password": password}), 200)["token"]


# ---------------------------------------------------------------- pledges

@pytest.fixture(scope="module")
def donor_pledge(api, package_donor, target_campaign) -> dict:
    """A pledge the package's donor made signed in: the 201 body."""
    response = api.post(f"/campaigns/{target_campaign['id']}/pledges", token=package_donor["token"],
                        headers={"Idempotency-Key": new_idempotency_key()}, json={"amount": "12.00"})
    return assert_json(response, 201)


def test_get_pledge_of_another_donor_returns_403(api, donor, donor_pledge):
    response = api.get(f"/pledges/{donor_pledge['id']}", token=donor["token"])

    problem = assert_error_contract(response)
    assert response.status_code == 403, problem


def test_get_guest_pledge_as_unrelated_donor_returns_403(api, donor, guest_pledge):
    response = api.get(f"/pledges/{guest_pledge['id']}", token=donor["token"])

    problem = assert_error_contract(response)
    assert response.status_code == 403, problem


def test_get_pledge_as_its_donor_returns_200(api, package_donor, donor_pledge):
    assert assert_json(api.get(f"/pledges/{donor_pledge['id']}", token=package_donor["token"]), 200)["id"] == \
        donor_pledge["id"]


def test_get_pledge_without_token_or_receipt_token_returns_401(api, donor_pledge):
    response = api.get(f"/pledges/{donor_pledge['id']}")

    problem = assert_error_contract(response)
    assert response.status_code == 401, problem


@pytest.mark.parametrize("receipt_token", ["x" * 43, "", "A", "0" * 128], ids=["same-length", "empty", "one-char",
                                                                                "128-zeros"])
def test_get_pledge_with_wrong_receipt_token_returns_403(api, guest_pledge, receipt_token):
    response = api.get(f"/pledges/{guest_pledge['id']}", params={"receipt_token": receipt_token})

    problem = assert_error_contract(response)
    assert response.status_code == 403, problem


def test_get_pledge_with_receipt_token_of_another_pledge_returns_403(api, guest_pledge, donor_pledge):
    response = api.get(f"/pledges/{donor_pledge['id']}", params={"receipt_token": guest_pledge["receipt_token"]})

    problem = assert_error_contract(response)
    assert response.status_code == 403, problem


def test_get_pledge_with_wrong_receipt_token_and_owners_bearer_token_returns_403(api, package_donor, donor_pledge):
    # A receipt token, when given, is what is judged: a wrong one is refused even alongside valid credentials.
    response = api.get(f"/pledges/{donor_pledge['id']}", token=package_donor["token"],
                       params={"receipt_token": "x" * 43})

    problem = assert_error_contract(response)
    assert response.status_code == 403, problem


def test_get_pledge_with_its_receipt_token_never_shows_the_receipt_token(api, guest_pledge):
    shown = assert_json(api.get(f"/pledges/{guest_pledge['id']}",
                                params={"receipt_token": guest_pledge["receipt_token"]}), 200)

    assert set(shown) == PLEDGE_FIELDS_SHOWN


def test_list_my_pledges_never_shows_another_donors_pledge(api, donor, donor_pledge, guest_pledge):
    assert_json(api.post(f"/campaigns/{donor_pledge['campaign_id']}/pledges", token=donor["token"],
                         headers={"Idempotency-Key": new_idempotency_key()}, json={"amount": "3.00"}), 201)

    listed = assert_json(api.get("/users/me/pledges", token=donor["token"]), 200)["items"]

    assert listed and {pledge["donor_id"] for pledge in listed} == {donor["user"]["id"]}


def test_pledge_signed_in_with_another_donors_email_returns_422(api, donor, package_donor, target_campaign):
    response = api.post(f"/campaigns/{target_campaign['id']}/pledges", token=donor["token"],
                        headers={"Idempotency-Key": new_idempotency_key()},
                        json={"amount": "3.00", "donor_email": package_donor["email"]})

    problem = assert_error_contract(response)
    assert response.status_code == 422, problem


def test_replay_another_callers_idempotency_key_creates_a_pledge_of_ones_own(api, donor, package_donor,
                                                                             target_campaign):
    # Keys are scoped to the caller: reusing someone else's key never answers with their pledge.
    key, path = new_idempotency_key(), f"/campaigns/{target_campaign['id']}/pledges"
    theirs = assert_json(api.post(path, token=package_donor["token"], headers={"Idempotency-Key": key},
                                  json={"amount": "4.00"}), 201)

    mine = assert_json(api.post(path, token=donor["token"], headers={"Idempotency-Key": key},
                                json={"amount": "4.00"}), 201)

    assert mine["id"] != theirs["id"] and mine["donor_id"] == donor["user"]["id"]


# ---------------------------------------------------------------- campaigns of another owner

@pytest.fixture(scope="module")
def campaign_owner(api, admin_token) -> dict:
    """A DONOR who owns a campaign: promoted to create it, demoted again, then signed in anew (a token's role is
    cached by the authorizer for its TTL, so a new token shows the demotion at once).
    {"user", "token", "campaign"}."""
    email, password = f"owner-{uuid.uuid4().hex[:12]}@example.com", "correct horse battery"
    user = assert_json(api.post("/auth/register", json={"email": email, "password": password, "name": "Olive Owner"}),
                       201)["user"]
    assert_json(api.put(f"/users/{user['id']}/role", token=admin_token, json={"role": "ADMIN"}), 200)
    campaign = assert_json(api.post("/campaigns", token=login(api, email, password), json={
        "title": "Owned by a donor", "description": "Demoted after creating it.", "goal_amount": "300.00"}), 201)
    assert_json(api.put(f"/users/{user['id']}/role", token=admin_token, json={"role": "DONOR"}), 200)
    token = login(api, email, password)
    assert assert_json(api.get("/users/me", token=token), 200)["role"] == "DONOR"
    return {"user": user, "token": token, "campaign": campaign}


def test_patch_own_campaign_as_demoted_owner_returns_200(api, campaign_owner):
    response = api.patch(f"/campaigns/{campaign_owner['campaign']['id']}", token=campaign_owner["token"],
                         json={"description": "Still mine to edit."})

    assert assert_json(response, 200)["description"] == "Still mine to edit."


def test_patch_campaign_of_another_owner_returns_403(api, campaign_owner, target_campaign):
    response = api.patch(f"/campaigns/{target_campaign['id']}", token=campaign_owner["token"],
                         json={"title": "Taken over"})

    problem = assert_error_contract(response)
    assert response.status_code == 403, problem


@pytest.mark.parametrize("status", ["CANCELLED", "COMPLETED"])
def test_close_campaign_of_another_owner_returns_403(api, donor, campaign_owner, status):
    response = api.patch(f"/campaigns/{campaign_owner['campaign']['id']}", token=donor["token"],
                         json={"status": status})

    problem = assert_error_contract(response)
    assert response.status_code == 403, problem


def test_patch_campaign_of_another_owner_leaves_it_unchanged(api, donor, campaign_owner):
    before = assert_json(api.get(f"/campaigns/{campaign_owner['campaign']['id']}"), 200)

    api.patch(f"/campaigns/{before['id']}", token=donor["token"],
              json={"title": "Taken over", "goal_amount": "1.00", "status": "CANCELLED"})

    assert assert_json(api.get(f"/campaigns/{before['id']}"), 200) == before


def test_list_pledges_of_another_owners_campaign_returns_403(api, campaign_owner, target_campaign):
    response = api.get(f"/campaigns/{target_campaign['id']}/pledges", token=campaign_owner["token"])

    problem = assert_error_contract(response)
    assert response.status_code == 403, problem


# ---------------------------------------------------------------- admin routes

@pytest.mark.parametrize("route", ADMIN_ROUTES, ids=route_ids)
def test_call_admin_route_as_donor_returns_403(call, donor, route):
    response = call(route, token=donor["token"], **({"json": valid_body(route)} if route.fields else {}))

    problem = assert_error_contract(response)
    assert response.status_code == 403, problem


def test_promote_self_to_admin_as_donor_returns_403(api, donor):
    response = api.put(f"/users/{donor['user']['id']}/role", token=donor["token"], json={"role": "ADMIN"})

    problem = assert_error_contract(response)
    assert response.status_code == 403, problem


def test_promote_self_to_admin_as_donor_leaves_role_donor(api, donor):
    api.put(f"/users/{donor['user']['id']}/role", token=donor["token"], json={"role": "ADMIN"})

    assert assert_json(api.get("/users/me", token=donor["token"]), 200)["role"] == "DONOR"


def test_get_payment_of_own_pledge_as_donor_returns_403(api, package_donor, donor_pledge, admin_token):
    payment = poll(lambda: assert_json(api.get(f"/pledges/{donor_pledge['id']}", token=admin_token), 200)["payment"],
                   timeout=30, interval=0.2, what="the payment of the donor's pledge")

    response = api.get(f"/payments/{payment['id']}", token=package_donor["token"])

    problem = assert_error_contract(response)
    assert response.status_code == 403, problem
