"""GET /campaigns/{id}/totals (TotalsFunction) and the WebSocket routes (SocketsFunction) over moto."""

from __future__ import annotations

import hashlib
import secrets
import time
import uuid

import pytest

from totals_support import payment_image


def get_totals(totals_stack, campaign_id: str):
    event = totals_stack.stack.event("campaigns_get", path=f"/campaigns/{campaign_id}/totals",
                                     path_params={"id": campaign_id}, caller=None)
    event["resource"] = "/campaigns/{id}/totals"
    return totals_stack.stack.call(totals_stack.handler, event)


# ---------------------------------------------------------------------------------------- GET totals
def test_get_totals_of_new_campaign_returns_200_with_zero_and_goal(totals_stack):
    campaign_id = totals_stack.put_campaign(goal_cents=1_000_000, currency="EUR")

    result = get_totals(totals_stack, campaign_id)

    assert result.status == 200, result.raw_body
    body = result.json
    assert set(body) == {"campaign_id", "total_amount", "pledge_count", "goal_amount", "currency", "updated_at"}
    assert body["campaign_id"] == campaign_id
    assert (body["total_amount"], body["pledge_count"], body["goal_amount"], body["currency"]) == (
        "0.00", 0, "10000.00", "EUR")
    assert body["updated_at"].endswith("Z") or body["updated_at"].endswith("+00:00")
    assert result.header("X-Correlation-Id")


def test_get_totals_after_aggregation_returns_decimal_total_and_count(totals_stack):
    campaign_id = totals_stack.put_campaign()
    totals_stack.aggregate(*totals_stack.payment_records(
        payment_image(str(uuid.uuid4()), "CAPTURED", 3, campaign_id, 1999),
        payment_image(str(uuid.uuid4()), "COMPLETED", 4, campaign_id, 1),
        payment_image(str(uuid.uuid4()), "FAILED", 2, campaign_id, 5000)))

    body = get_totals(totals_stack, campaign_id).json

    assert (body["total_amount"], body["pledge_count"]) == ("20.00", 2)


def test_get_totals_of_unknown_campaign_returns_404(totals_stack):
    result = get_totals(totals_stack, str(uuid.uuid4()))

    result.problem(404)


# ---------------------------------------------------------------------------------------- sockets
@pytest.fixture
def donor(totals_stack) -> dict[str, str]:
    return totals_stack.stack.seed_user(email=f"donor-{uuid.uuid4().hex[:8]}@example.com")


def token_of(totals_stack, caller: dict[str, str], **overrides) -> str:
    return totals_stack.stack.bearer(caller, **overrides).removeprefix("Bearer ")


def test_connect_with_campaign_id_stores_subscription_with_expiry(totals_stack):
    result = totals_stack.socket("$connect", "conn-1", {"campaign_id": "c-1"})

    assert result["statusCode"] == 200
    item = totals_stack.connection("conn-1")
    assert (item["campaign_id"], item.get("user_id")) == ("c-1", None)
    assert time.time() < item["expires_at"] <= time.time() + 2 * 3600 + 5


def test_connect_with_valid_token_stores_campaign_and_user(totals_stack, donor):
    result = totals_stack.socket("$connect", "conn-2", {"campaign_id": "c-1", "token": token_of(totals_stack, donor)})

    assert result["statusCode"] == 200
    item = totals_stack.connection("conn-2")
    assert (item["campaign_id"], item["user_id"]) == ("c-1", donor["user_id"])


def test_connect_with_token_only_stores_user(totals_stack, donor):
    result = totals_stack.socket("$connect", "conn-3", {"token": token_of(totals_stack, donor)})

    assert result["statusCode"] == 200
    item = totals_stack.connection("conn-3")
    assert (item.get("campaign_id"), item["user_id"]) == (None, donor["user_id"])


@pytest.mark.parametrize("token", ["not-a-jwt", "eyJhbGciOiJIUzI1NiJ9.e30.c2lnbmF0dXJl"])
def test_connect_with_invalid_token_returns_401_and_stores_nothing(totals_stack, token):
    result = totals_stack.socket("$connect", "conn-4", {"campaign_id": "c-1", "token": token})

    assert result["statusCode"] == 401
    assert totals_stack.connection("conn-4") is None


def test_connect_with_expired_token_returns_401(totals_stack, donor):
    token = token_of(totals_stack, donor, clock=lambda: time.time() - 7200, ttl_seconds=60)

    result = totals_stack.socket("$connect", "conn-5", {"campaign_id": "c-1", "token": token})

    assert result["statusCode"] == 401
    assert totals_stack.connection("conn-5") is None


def test_connect_with_token_of_removed_user_returns_401(totals_stack):
    ghost = {"user_id": str(uuid.uuid4()), "email": "ghost@example.com", "role": "DONOR"}

    result = totals_stack.socket("$connect", "conn-6", {"token": token_of(totals_stack, ghost)})

    assert result["statusCode"] == 401


@pytest.mark.parametrize("query", [None, {}, {"campaign_id": ""}, {"other": "x"}])
def test_connect_without_campaign_or_token_returns_400(totals_stack, query):
    result = totals_stack.socket("$connect", "conn-7", query)

    assert result["statusCode"] == 400
    assert totals_stack.connection("conn-7") is None


def test_disconnect_deletes_connection(totals_stack):
    totals_stack.socket("$connect", "conn-8", {"campaign_id": "c-1"})

    result = totals_stack.socket("$disconnect", "conn-8")

    assert result["statusCode"] == 200
    assert totals_stack.connection("conn-8") is None


def test_disconnect_of_unknown_connection_returns_200(totals_stack):
    assert totals_stack.socket("$disconnect", "never-connected")["statusCode"] == 200


def test_default_route_answers_pong(totals_stack):
    assert totals_stack.socket("$default", "conn-9") == {"statusCode": 200, "body": "pong"}


def test_connect_then_query_by_campaign_index_finds_connection(totals_stack, donor):
    totals_stack.socket("$connect", "conn-10", {"campaign_id": "c-2", "token": token_of(totals_stack, donor)})

    assert totals_stack.realtime.connections("by_campaign", "campaign_id", "c-2") == ["conn-10"]
    assert totals_stack.realtime.connections("by_user", "user_id", donor["user_id"]) == ["conn-10"]


# ---------------------------------------------------------------------------------------- sockets: a pledge's followers
@pytest.fixture
def guest_pledge(totals_stack) -> dict[str, str]:
    """A guest's pledge as the pledges service stores it: only the SHA-256 of its receipt token."""
    from careforall import dynamo

    pledge_id, token = str(uuid.uuid4()), secrets.token_urlsafe(32)
    item = {"pk": f"PLEDGE#{pledge_id}", "entity": "PLEDGE", "id": pledge_id, "campaign_id": "c-1",
            "donor_email": "guest@example.com", "amount_cents": 2500, "currency": "USD", "status": "PENDING",
            "receipt_token_hash": hashlib.sha256(token.encode()).hexdigest()}
    totals_stack.dynamodb.put_item(TableName=totals_stack.table("PledgesTable"), Item=dynamo.to_item(item))
    return {"pledge_id": pledge_id, "receipt_token": token}


def test_connect_with_pledge_id_and_its_receipt_token_stores_pledge_id(totals_stack, guest_pledge):
    result = totals_stack.socket("$connect", "conn-11", guest_pledge)

    assert result["statusCode"] == 200
    item = totals_stack.connection("conn-11")
    assert (item["pledge_id"], item.get("campaign_id"), item.get("user_id")) == (guest_pledge["pledge_id"], None, None)
    assert time.time() - 5 <= item["connected_at"] <= time.time()


def test_connect_with_campaign_and_pledge_receipt_token_stores_both(totals_stack, guest_pledge):
    result = totals_stack.socket("$connect", "conn-12", {"campaign_id": "c-1", **guest_pledge})

    assert result["statusCode"] == 200
    item = totals_stack.connection("conn-12")
    assert (item["campaign_id"], item["pledge_id"]) == ("c-1", guest_pledge["pledge_id"])


def test_connect_with_wrong_receipt_token_returns_401_and_stores_nothing(totals_stack, guest_pledge):
    query = {**guest_pledge, "receipt_token": secrets.token_urlsafe(32)}

    result = totals_stack.socket("$connect", "conn-13", {"campaign_id": "c-1", **query})

    assert result["statusCode"] == 401
    assert totals_stack.connection("conn-13") is None


def test_connect_with_receipt_token_of_unknown_pledge_returns_401_and_stores_nothing(totals_stack, guest_pledge):
    query = {**guest_pledge, "pledge_id": str(uuid.uuid4())}

    result = totals_stack.socket("$connect", "conn-14", query)

    assert result["statusCode"] == 401
    assert totals_stack.connection("conn-14") is None


@pytest.mark.parametrize("drop", ["pledge_id", "receipt_token"])
def test_connect_with_only_one_of_pledge_id_and_receipt_token_returns_400(totals_stack, guest_pledge, drop):
    query = {k: v for k, v in guest_pledge.items() if k != drop}

    result = totals_stack.socket("$connect", "conn-15", {"campaign_id": "c-1", **query})

    assert result["statusCode"] == 400
    assert totals_stack.connection("conn-15") is None


def test_connect_with_overlong_pledge_id_returns_401(totals_stack, guest_pledge):
    result = totals_stack.socket("$connect", "conn-16", {**guest_pledge, "pledge_id": "p" * 65})

    assert result["statusCode"] == 401


def test_connect_then_query_by_pledge_index_finds_connection(totals_stack, guest_pledge):
    totals_stack.socket("$connect", "conn-17", guest_pledge)

    assert totals_stack.realtime.connections("by_pledge", "pledge_id", guest_pledge["pledge_id"]) == ["conn-17"]
