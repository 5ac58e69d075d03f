"""Pledges over HTTP: idempotent creation, reading one, donor histories (CONTRACT.md, "Pledges")."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from tests.integration.helpers import (MONEY, assert_json, assert_problem, assert_utc_timestamp, forge_token,
                                       new_idempotency_key, unique_email)

PLEDGE_FIELDS = {"id", "campaign_id", "donor_id", "donor_email", "amount", "currency", "status", "payment",
                 "created_at", "updated_at"}
PLEDGES_TABLE = "careforall-PledgesTable"


def close_campaign(api, admin_token, campaign_id: str) -> None:
    response = api.patch(f"/campaigns/{campaign_id}", token=admin_token, json={"status": "COMPLETED"})
    assert_json(response, 200)


def register(api, email: str | None = None) -> dict:
    email = email or unique_email("donor")
    response = api.post("/auth/register", json={"email": email, "password": "correct horse battery", "name": "D"})
    return {**assert_json(response, 201), "email": email}


# ---------------------------------------------------------------- create

def test_create_pledge_as_guest_returns_201_with_receipt_token_and_location(api, campaign, create_pledge):
    email = unique_email("guest")

    response = create_pledge(campaign["id"], amount=25, donor_email=email, donor_name="Gia Guest", message="Go!")

    body = assert_json(response, 201)
    assert PLEDGE_FIELDS | {"receipt_token"} <= set(body)
    uuid.UUID(body["id"])
    assert response.headers["Location"].endswith(f"/pledges/{body['id']}")
    assert "Idempotent-Replayed" not in response.headers
    assert isinstance(body["receipt_token"], str) and len(body["receipt_token"]) >= 32
    assert body["campaign_id"] == campaign["id"]
    assert body["donor_id"] is None
    assert body["donor_email"] == email
    assert body["amount"] == "25.00" and MONEY.match(body["amount"])
    assert body["currency"] == campaign["currency"]
    assert body["status"] == "PENDING"
    assert body["payment"] is None
    assert assert_utc_timestamp(body["updated_at"]) >= assert_utc_timestamp(body["created_at"])


def test_create_pledge_as_registered_donor_returns_201_with_donor_id_and_account_email(campaign, donor,
                                                                                       create_pledge):
    body = assert_json(create_pledge(campaign["id"], token=donor["token"], amount="10.50"), 201)

    assert body["donor_id"] == donor["user"]["id"]
    assert body["donor_email"] == donor["email"]
    assert body["amount"] == "10.50"
    assert body["receipt_token"]


def test_create_pledge_as_donor_with_other_donor_email_returns_422(campaign, donor, create_pledge):
    response = create_pledge(campaign["id"], token=donor["token"], donor_email=unique_email("someone-else"))

    assert_problem(response, 422)


def test_create_pledge_replayed_with_same_key_and_body_returns_identical_response_marked_replayed(
        campaign, create_pledge):
    key, email = new_idempotency_key(), unique_email("guest")
    first = create_pledge(campaign["id"], key=key, amount="40.00", donor_email=email)
    assert_json(first, 201)

    replay = create_pledge(campaign["id"], key=key, amount="40.00", donor_email=email)

    assert replay.status_code == first.status_code == 201
    assert replay.text == first.text
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert replay.headers["Location"] == first.headers["Location"]


def test_create_pledge_replayed_by_donor_returns_same_pledge_marked_replayed(campaign, donor, create_pledge):
    key = new_idempotency_key()
    first = assert_json(create_pledge(campaign["id"], token=donor["token"], key=key), 201)

    replay = create_pledge(campaign["id"], token=donor["token"], key=key)

    assert assert_json(replay, 201) == first
    assert replay.headers["Idempotent-Replayed"] == "true"


def test_create_pledge_with_same_key_by_guest_and_donor_creates_two_pledges(campaign, donor, create_pledge):
    key = new_idempotency_key()

    as_guest = create_pledge(campaign["id"], key=key)
    as_donor = create_pledge(campaign["id"], key=key, token=donor["token"])

    assert_json(as_guest, 201)
    assert_json(as_donor, 201)
    assert "Idempotent-Replayed" not in as_donor.headers
    assert as_guest.json()["id"] != as_donor.json()["id"]


@pytest.mark.parametrize("change", [{"amount": "41.00"}, {"message": "different"}, {"campaign": "other"}],
                         ids=["amount", "message", "campaign"])
def test_create_pledge_with_reused_key_and_different_body_returns_422_idempotency_key_reuse(
        campaign, create_campaign, create_pledge, change):
    key, email = new_idempotency_key(), unique_email("guest")
    assert_json(create_pledge(campaign["id"], key=key, amount="40.00", donor_email=email), 201)
    target = create_campaign()["id"] if change.get("campaign") else campaign["id"]
    body = {"amount": "40.00", "donor_email": email, **{k: v for k, v in change.items() if k != "campaign"}}

    problem = assert_problem(create_pledge(target, key=key, **body), 422)

    assert problem["type"].endswith("idempotency-key-reuse")


def test_create_pledge_without_idempotency_key_returns_400(campaign, create_pledge):
    assert_problem(create_pledge(campaign["id"], key=None), 400)


@pytest.mark.parametrize("key", ["", "k" * 256, "schlüssel-1".encode(), "tab\there"],
                         ids=["empty", "256-chars", "non-ascii", "control-char"])
def test_create_pledge_with_invalid_idempotency_key_returns_400(campaign, create_pledge, key):
    assert_problem(create_pledge(campaign["id"], key=key), 400)


def test_create_pledge_with_255_char_idempotency_key_returns_201(campaign, create_pledge):
    assert_json(create_pledge(campaign["id"], key=f"{uuid.uuid4()}".ljust(255, "x")), 201)


def test_create_pledge_on_completed_campaign_returns_409(api, admin_token, campaign, create_pledge):
    close_campaign(api, admin_token, campaign["id"])

    assert_problem(create_pledge(campaign["id"]), 409)


def test_create_pledge_on_cancelled_campaign_returns_409(api, admin_token, campaign, create_pledge):
    assert_json(api.patch(f"/campaigns/{campaign['id']}", token=admin_token, json={"status": "CANCELLED"}), 200)

    assert_problem(create_pledge(campaign["id"]), 409)


def test_create_pledge_replayed_after_campaign_completed_returns_first_response(api, admin_token, campaign,
                                                                               create_pledge):
    key, email = new_idempotency_key(), unique_email("guest")
    first = create_pledge(campaign["id"], key=key, donor_email=email)
    assert_json(first, 201)
    close_campaign(api, admin_token, campaign["id"])

    replay = create_pledge(campaign["id"], key=key, donor_email=email)

    assert replay.status_code == 201
    assert replay.text == first.text
    assert replay.headers["Idempotent-Replayed"] == "true"


def test_create_pledge_on_unknown_campaign_returns_404(create_pledge):
    assert_problem(create_pledge(str(uuid.uuid4())), 404)


@pytest.mark.parametrize("amount", [0, "0.00", -1, "-1.00", "1000000.01", 1000000.01, "1.234", 1.234, "abc", "",
                                    None, True],
                         ids=["zero", "zero-string", "negative", "negative-string", "above-max", "above-max-number",
                              "three-decimals", "three-decimals-number", "text", "empty", "null", "bool"])
def test_create_pledge_with_invalid_amount_returns_422(campaign, create_pledge, amount):
    problem = assert_problem(create_pledge(campaign["id"], amount=amount), 422)

    assert any("amount" in error["loc"] for error in problem["errors"])


def test_create_pledge_without_amount_returns_422(campaign, create_pledge):
    assert_problem(create_pledge(campaign["id"], amount=...), 422)


@pytest.mark.parametrize(("amount", "expected"), [(1000000, "1000000.00"), ("1000000.00", "1000000.00"),
                                                  ("0.01", "0.01"), (12.5, "12.50")])
def test_create_pledge_with_boundary_amount_returns_201_with_two_decimal_amount(campaign, create_pledge, amount,
                                                                                 expected):
    assert assert_json(create_pledge(campaign["id"], amount=amount), 201)["amount"] == expected


def test_create_pledge_as_guest_without_donor_email_returns_422(campaign, create_pledge):
    problem = assert_problem(create_pledge(campaign["id"], donor_email=...), 422)

    assert any("donor_email" in error["loc"] for error in problem["errors"])


@pytest.mark.parametrize("donor_email", ["not-an-email", "a@", 42], ids=["text", "no-domain", "number"])
def test_create_pledge_with_invalid_donor_email_returns_422(campaign, create_pledge, donor_email):
    assert_problem(create_pledge(campaign["id"], donor_email=donor_email), 422)


def test_create_pledge_with_unknown_field_returns_422(campaign, create_pledge):
    assert_problem(create_pledge(campaign["id"], surprise=1), 422)


@pytest.mark.parametrize("token", ["garbage", forge_token(key="not-the-stack-key-" + "0" * 40)],
                         ids=["garbage", "wrong-signature"])
def test_create_pledge_with_invalid_bearer_token_returns_401(campaign, create_pledge, token):
    assert_problem(create_pledge(campaign["id"], token=token), 401)


def test_create_pledge_with_malformed_json_returns_400(api, campaign):
    response = api.post(f"/campaigns/{campaign['id']}/pledges", data=b'{"amount": "25.00",',
                        headers={"Idempotency-Key": new_idempotency_key(), "Content-Type": "application/json"})

    assert_problem(response, 400)


def test_create_pledge_concurrently_with_one_key_creates_exactly_one_pledge(api, aws, campaign):
    key, email = new_idempotency_key(), unique_email("race")
    url = f"{api.base_url}/campaigns/{campaign['id']}/pledges"

    def send(_):
        return requests.post(url, json={"amount": "30.00", "donor_email": email},
                             headers={"Idempotency-Key": key}, timeout=60)

    with ThreadPoolExecutor(max_workers=20) as pool:
        responses = list(pool.map(send, range(20)))

    # The contract allows 409 for a request that meets the first one still in flight (DynamoDB's
    # TransactionConflict); every other answer is the first response, byte for byte.
    answered = [r for r in responses if r.status_code != 409]
    assert all(r.status_code == 201 for r in answered), [r.text[:200] for r in responses]
    assert all(r.json()["type"].endswith("idempotency-key-in-flight") for r in responses if r.status_code == 409)
    assert len({r.json()["id"] for r in answered}) == 1
    assert len({r.text for r in answered}) == 1, "every replay is the first response, byte for byte"
    assert sum("Idempotent-Replayed" not in r.headers for r in answered) == 1
    assert all(r.headers["Idempotent-Replayed"] == "true" for r in answered if "Idempotent-Replayed" in r.headers)
    pledge_id = answered[0].json()["id"]
    dynamodb = aws("dynamodb")
    assert "Item" in dynamodb.get_item(TableName=PLEDGES_TABLE, Key={"pk": {"S": f"PLEDGE#{pledge_id}"}},
                                       ConsistentRead=True)
    by_email = dynamodb.query(TableName=PLEDGES_TABLE, IndexName="by_email", Select="COUNT",
                              KeyConditionExpression="donor_email_key = :e",
                              ExpressionAttributeValues={":e": {"S": email}})
    assert by_email["Count"] == 1


# ---------------------------------------------------------------- read one

@pytest.fixture
def donor_pledge(campaign, donor, create_pledge) -> dict:
    return assert_json(create_pledge(campaign["id"], token=donor["token"], amount="15.00"), 201)


def test_get_pledge_with_receipt_token_returns_200_without_receipt_token(api, campaign, create_pledge):
    created = assert_json(create_pledge(campaign["id"], amount="12.34"), 201)

    body = assert_json(api.get(f"/pledges/{created['id']}", params={"receipt_token": created["receipt_token"]}), 200)

    assert PLEDGE_FIELDS <= set(body)
    assert "receipt_token" not in body
    assert body == {k: v for k, v in created.items() if k != "receipt_token"}


def test_get_pledge_with_wrong_receipt_token_returns_403(api, campaign, create_pledge):
    created = assert_json(create_pledge(campaign["id"]), 201)
    other = assert_json(create_pledge(campaign["id"]), 201)

    assert_problem(api.get(f"/pledges/{created['id']}", params={"receipt_token": other["receipt_token"]}), 403)
    assert_problem(api.get(f"/pledges/{created['id']}", params={"receipt_token": "x"}), 403)


def test_get_pledge_as_its_donor_returns_200(api, donor, donor_pledge):
    body = assert_json(api.get(f"/pledges/{donor_pledge['id']}", token=donor["token"]), 200)

    assert body["id"] == donor_pledge["id"]
    assert body["donor_id"] == donor["user"]["id"]


def test_get_pledge_as_another_donor_returns_403(api, donor_pledge):
    stranger = register(api)

    assert_problem(api.get(f"/pledges/{donor_pledge['id']}", token=stranger["token"]), 403)


def test_get_guest_pledge_as_donor_returns_403(api, campaign, donor, create_pledge):
    created = assert_json(create_pledge(campaign["id"]), 201)

    assert_problem(api.get(f"/pledges/{created['id']}", token=donor["token"]), 403)


def test_get_pledge_as_admin_returns_200(api, admin_token, donor_pledge):
    body = assert_json(api.get(f"/pledges/{donor_pledge['id']}", token=admin_token), 200)

    assert body["id"] == donor_pledge["id"]


def test_get_pledge_anonymously_returns_401(api, donor_pledge):
    assert_problem(api.get(f"/pledges/{donor_pledge['id']}"), 401)


def test_get_pledge_with_invalid_bearer_token_returns_401(api, donor_pledge):
    assert_problem(api.get(f"/pledges/{donor_pledge['id']}", token="garbage"), 401)


def test_get_pledge_unknown_id_returns_404(api, admin_token):
    assert_problem(api.get(f"/pledges/{uuid.uuid4()}", token=admin_token), 404)


# ---------------------------------------------------------------- history

def test_list_my_pledges_with_limit_pages_newest_first(api, create_campaign, donor, create_pledge):
    first, second = create_campaign()["id"], create_campaign()["id"]
    created = [assert_json(create_pledge(c, token=donor["token"], amount=a), 201)["id"]
               for c, a in ((first, "1.00"), (second, "2.00"), (first, "3.00"))]
    seen, pages, cursor = [], 0, None

    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = assert_json(api.get("/users/me/pledges", token=donor["token"], params=params), 200)
        assert set(page) == {"items", "next_cursor"}
        assert len(page["items"]) <= 2
        assert all(PLEDGE_FIELDS <= set(item) and "receipt_token" not in item for item in page["items"])
        seen.extend(item["id"] for item in page["items"])
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
        assert pages < 5, "pagination does not end"

    assert seen == list(reversed(created))
    assert pages >= 2


def test_list_my_pledges_lists_only_the_callers_pledges(api, campaign, donor, create_pledge):
    mine = assert_json(create_pledge(campaign["id"], token=donor["token"]), 201)["id"]
    assert_json(create_pledge(campaign["id"], donor_email=donor["email"]), 201)  # a guest pledge with the same email
    stranger = register(api)
    assert_json(create_pledge(campaign["id"], token=stranger["token"]), 201)

    body = assert_json(api.get("/users/me/pledges", token=donor["token"]), 200)

    assert [item["id"] for item in body["items"]] == [mine]
    assert body["next_cursor"] is None


def test_list_my_pledges_without_token_returns_401(api):
    assert_problem(api.get("/users/me/pledges"), 401)


@pytest.mark.parametrize("limit", [0, 101, "x"])
def test_list_my_pledges_with_invalid_limit_returns_422(api, donor, limit):
    body = assert_problem(api.get("/users/me/pledges", token=donor["token"], params={"limit": limit}), 422)

    assert any(error["loc"][-1] == "limit" for error in body["errors"])


def test_list_my_pledges_with_garbage_cursor_returns_422(api, donor):
    body = assert_problem(api.get("/users/me/pledges", token=donor["token"], params={"cursor": "garbage"}), 422)

    assert any(error["loc"][-1] == "cursor" for error in body["errors"])
