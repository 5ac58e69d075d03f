"""Campaigns over HTTP: create, list with cursors, read, update and status moves (CONTRACT.md, "Campaigns")."""

from __future__ import annotations

import uuid

import pytest

from tests.integration.helpers import MONEY, assert_json, assert_problem, assert_utc_timestamp

CAMPAIGN_FIELDS = {"id", "title", "description", "goal_amount", "current_amount", "currency", "status", "owner_id",
                   "created_at", "updated_at"}


def new_campaign_body(**overrides) -> dict:
    return {"title": f"Campaign {uuid.uuid4().hex[:8]}", "description": "Books for the library.",
            "goal_amount": "500.00", **overrides}


def close(api, admin_token, campaign_id: str, status: str) -> dict:
    return assert_json(api.patch(f"/campaigns/{campaign_id}", token=admin_token, json={"status": status}), 200)


# ---------------------------------------------------------------- create

def test_create_campaign_as_admin_returns_201_with_every_field(api, admin_token, admin_user):
    request = {"title": "Clean water", "description": "A well for the school.", "goal_amount": "2500.00",
               "currency": "EUR"}

    body = assert_json(api.post("/campaigns", token=admin_token, json=request), 201)

    assert set(body) == CAMPAIGN_FIELDS
    uuid.UUID(body["id"])
    assert body["title"] == "Clean water"
    assert body["description"] == "A well for the school."
    assert body["goal_amount"] == "2500.00"
    assert body["current_amount"] == "0.00"
    assert body["currency"] == "EUR"
    assert body["status"] == "ACTIVE"
    assert body["owner_id"] == admin_user["id"]
    assert assert_utc_timestamp(body["updated_at"]) >= assert_utc_timestamp(body["created_at"])


def test_create_campaign_without_currency_defaults_to_usd(api, admin_token):
    body = assert_json(api.post("/campaigns", token=admin_token, json=new_campaign_body()), 201)

    assert body["currency"] == "USD"


@pytest.mark.parametrize(("goal", "expected"), [(1000, "1000.00"), ("1000.5", "1000.50"), (1000.5, "1000.50"),
                                                ("0.01", "0.01"), ("25", "25.00")])
def test_create_campaign_with_goal_as_number_or_string_returns_two_decimal_string(api, admin_token, goal, expected):
    body = assert_json(api.post("/campaigns", token=admin_token, json=new_campaign_body(goal_amount=goal)), 201)

    assert body["goal_amount"] == expected
    assert MONEY.match(body["current_amount"])


def test_create_campaign_as_donor_returns_403(api, donor):
    response = api.post("/campaigns", token=donor["token"], json=new_campaign_body())

    assert_problem(response, 403)


def test_create_campaign_without_token_returns_401(api):
    response = api.post("/campaigns", json=new_campaign_body())

    assert_problem(response, 401)


def test_create_campaign_without_token_with_correlation_id_echoes_it(api):
    response = api.post("/campaigns", json=new_campaign_body(), headers={"X-Correlation-Id": "abc-123"})

    assert response.status_code == 401
    assert response.headers["X-Correlation-Id"] == "abc-123"


@pytest.mark.parametrize("goal", [0, "0.00", -5, "-5.00", "10.001", 10.001, "abc", "", None, True, "NaN", "1e40"],
                         ids=["zero", "zero-string", "negative", "negative-string", "three-decimals",
                              "three-decimals-number", "text", "empty", "null", "bool", "nan", "huge"])
def test_create_campaign_with_invalid_goal_returns_422(api, admin_token, goal):
    body = assert_problem(api.post("/campaigns", token=admin_token, json=new_campaign_body(goal_amount=goal)), 422)

    assert any("goal_amount" in error["loc"] for error in body["errors"])


def test_create_campaign_with_missing_title_returns_422(api, admin_token):
    body = new_campaign_body()
    del body["title"]

    assert_problem(api.post("/campaigns", token=admin_token, json=body), 422)


def test_create_campaign_with_body_wrapped_in_array_returns_422(api, admin_token):
    assert_problem(api.post("/campaigns", token=admin_token, json=[new_campaign_body()]), 422)


# ---------------------------------------------------------------- list

def test_list_campaigns_without_token_returns_items_and_next_cursor(api, campaign):
    body = assert_json(api.get("/campaigns"), 200)

    assert set(body) == {"items", "next_cursor"}
    assert body["items"], "a campaign exists, so the first page is not empty"
    assert all(set(item) == CAMPAIGN_FIELDS for item in body["items"])
    assert body["next_cursor"] is None or isinstance(body["next_cursor"], str)


def test_list_campaigns_with_limit_follows_next_cursor_newest_first_without_duplicates(api, create_campaign):
    created = [create_campaign()["id"] for _ in range(3)]  # oldest first
    seen: list[str] = []
    cursor, pages = None, 0

    while not set(created) <= set(seen):
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = assert_json(api.get("/campaigns", params=params), 200)
        pages += 1
        assert len(page["items"]) <= 2
        seen.extend(item["id"] for item in page["items"])
        cursor = page["next_cursor"]
        assert cursor or set(created) <= set(seen), f"listing ended without {set(created) - set(seen)}"
        assert pages <= 50

    assert len(seen) == len(set(seen)), "a campaign was listed twice"
    assert pages >= 2
    assert [cid for cid in seen if cid in created] == list(reversed(created))


def test_list_campaigns_newest_first_orders_by_created_at_descending(api, create_campaign):
    create_campaign()
    create_campaign()

    items = assert_json(api.get("/campaigns", params={"limit": 100}), 200)["items"]

    created = [item["created_at"] for item in items]
    assert created == sorted(created, reverse=True)


def test_list_campaigns_with_status_completed_returns_only_completed(api, admin_token, create_campaign):
    completed, active = create_campaign(), create_campaign()
    close(api, admin_token, completed["id"], "COMPLETED")

    items = assert_json(api.get("/campaigns", params={"status": "COMPLETED", "limit": 100}), 200)["items"]

    ids = {item["id"] for item in items}
    assert completed["id"] in ids
    assert active["id"] not in ids
    assert all(item["status"] == "COMPLETED" for item in items)


def test_list_campaigns_with_unknown_status_returns_422(api):
    assert_problem(api.get("/campaigns", params={"status": "PAUSED"}), 422)


@pytest.mark.parametrize("cursor", ["not-a-cursor", "eyJmb28iOiJiYXIifQ", "!!!"], ids=["garbage", "foreign-json",
                                                                                      "bad-base64"])
def test_list_campaigns_with_invalid_cursor_returns_422(api, cursor):
    body = assert_problem(api.get("/campaigns", params={"cursor": cursor}), 422)

    assert any(error["loc"][-1] == "cursor" for error in body["errors"])


def test_list_campaigns_with_cursor_of_other_filter_returns_422(api, create_campaign):
    create_campaign()
    create_campaign()
    cursor = assert_json(api.get("/campaigns", params={"limit": 1}), 200)["next_cursor"]
    assert cursor

    assert_problem(api.get("/campaigns", params={"status": "ACTIVE", "cursor": cursor}), 422)


@pytest.mark.parametrize("limit", ["0", "101", "-1", "ten"])
def test_list_campaigns_with_out_of_range_limit_returns_422(api, limit):
    body = assert_problem(api.get("/campaigns", params={"limit": limit}), 422)

    assert any(error["loc"][-1] == "limit" for error in body["errors"])


# ---------------------------------------------------------------- read

def test_get_campaign_by_id_without_token_returns_campaign(api, campaign):
    body = assert_json(api.get(f"/campaigns/{campaign['id']}"), 200)

    assert body == campaign


def test_get_campaign_with_unknown_id_returns_404_problem(api):
    assert_problem(api.get(f"/campaigns/{uuid.uuid4()}"), 404)


def test_get_campaign_with_correlation_id_echoes_it(api, campaign):
    response = api.get(f"/campaigns/{campaign['id']}", headers={"X-Correlation-Id": "abc-123"})

    assert response.status_code == 200
    assert response.headers["X-Correlation-Id"] == "abc-123"


# ---------------------------------------------------------------- update

def test_patch_campaign_as_admin_updates_title_and_bumps_updated_at(api, admin_token, campaign):
    response = api.patch(f"/campaigns/{campaign['id']}", token=admin_token, json={"title": "A new title"})

    body = assert_json(response, 200)
    assert body["title"] == "A new title"
    assert body["description"] == campaign["description"]
    assert body["created_at"] == campaign["created_at"]
    assert assert_utc_timestamp(body["updated_at"]) > assert_utc_timestamp(campaign["updated_at"])
    assert assert_json(api.get(f"/campaigns/{campaign['id']}"), 200)["title"] == "A new title"


def test_patch_campaign_goal_as_number_returns_two_decimal_string(api, admin_token, campaign):
    response = api.patch(f"/campaigns/{campaign['id']}", token=admin_token, json={"goal_amount": 750.5})

    assert assert_json(response, 200)["goal_amount"] == "750.50"


def test_patch_campaign_as_donor_not_owner_returns_403(api, donor, campaign):
    response = api.patch(f"/campaigns/{campaign['id']}", token=donor["token"], json={"title": "Mine now"})

    assert_problem(response, 403)
    assert assert_json(api.get(f"/campaigns/{campaign['id']}"), 200)["title"] == campaign["title"]


def test_patch_campaign_without_token_returns_401(api, campaign):
    assert_problem(api.patch(f"/campaigns/{campaign['id']}", json={"title": "Anonymous"}), 401)


def test_patch_campaign_with_unknown_id_returns_404(api, admin_token):
    assert_problem(api.patch(f"/campaigns/{uuid.uuid4()}", token=admin_token, json={"title": "Ghost"}), 404)


def test_patch_campaign_status_active_to_completed_returns_200(api, admin_token, campaign):
    response = api.patch(f"/campaigns/{campaign['id']}", token=admin_token, json={"status": "COMPLETED"})

    assert assert_json(response, 200)["status"] == "COMPLETED"


def test_patch_campaign_status_completed_to_active_returns_409(api, admin_token, campaign):
    close(api, admin_token, campaign["id"], "COMPLETED")

    response = api.patch(f"/campaigns/{campaign['id']}", token=admin_token, json={"status": "ACTIVE"})

    assert_problem(response, 409)
    assert assert_json(api.get(f"/campaigns/{campaign['id']}"), 200)["status"] == "COMPLETED"


def test_patch_campaign_status_active_to_cancelled_returns_200(api, admin_token, campaign):
    response = api.patch(f"/campaigns/{campaign['id']}", token=admin_token, json={"status": "CANCELLED"})

    assert assert_json(response, 200)["status"] == "CANCELLED"


@pytest.mark.parametrize("closed", ["COMPLETED", "CANCELLED"])
@pytest.mark.parametrize("change", [{"title": "Too late"}, {"goal_amount": "1.00"}, {"status": "CANCELLED"},
                                    {"status": "COMPLETED"}], ids=["title", "goal", "to-cancelled", "to-completed"])
def test_patch_campaign_when_closed_returns_409(api, admin_token, campaign, closed, change):
    close(api, admin_token, campaign["id"], closed)

    response = api.patch(f"/campaigns/{campaign['id']}", token=admin_token, json=change)

    assert_problem(response, 409)


@pytest.mark.parametrize("body", [{}, {"title": None}], ids=["empty", "only-null"])
def test_patch_campaign_with_no_change_returns_422(api, admin_token, campaign, body):
    assert_problem(api.patch(f"/campaigns/{campaign['id']}", token=admin_token, json=body), 422)


def test_patch_campaign_with_unknown_field_returns_422(api, admin_token, campaign):
    response = api.patch(f"/campaigns/{campaign['id']}", token=admin_token, json={"owner_id": str(uuid.uuid4())})

    assert_problem(response, 422)


# ---------------------------------------------------------------- routes

@pytest.mark.parametrize(("method", "path"), [("GET", "/no-such-route"), ("DELETE", "/campaigns"),
                                              ("GET", "/campaigns/a/b/c")])
def test_request_unknown_route_returns_404_problem(api, method, path):
    assert_problem(api.request(method, path), 404)
