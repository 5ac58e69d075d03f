"""A campaign's pledges over HTTP: GET /campaigns/{id}/pledges, the owner's and admins' monitoring view
(README, "API additions"): newest first with opaque cursors, an optional status filter kept current by
the payment pipeline, behind the authorizer."""

from __future__ import annotations

import uuid

import pytest

from tests.integration.helpers import assert_json, assert_problem, poll

PLEDGE_FIELDS = {"id", "campaign_id", "donor_id", "donor_email", "donor_name", "message", "amount", "currency",
                 "status", "payment", "created_at", "updated_at"}
# stacks/local.json: PaymentStepTimeoutSeconds=10; with autopilot a payment settles within seconds.
SETTLE_SECONDS = 45


def _list(api, campaign_id: str, token: str | None = None, **params):
    return api.get(f"/campaigns/{campaign_id}/pledges", token=token, params=params or None)


def _ids(api, campaign_id: str, token: str, **params) -> list[str]:
    return [p["id"] for p in assert_json(_list(api, campaign_id, token, **params), 200)["items"]]


def test_list_campaign_pledges_as_admin_returns_newest_first_across_pages(api, admin_token, campaign, create_campaign,
                                                                          create_pledge):
    ids = [assert_json(create_pledge(campaign["id"], amount=f"{i + 1}.00"), 201)["id"] for i in range(5)]
    assert_json(create_pledge(create_campaign()["id"]), 201)  # another campaign's pledge is not listed

    pages, cursor, seen = [], None, []
    while True:
        params = {"limit": 2} if cursor is None else {"limit": 2, "cursor": cursor}
        page = assert_json(_list(api, campaign["id"], admin_token, **params), 200)
        pages.append(page)
        seen += [p["id"] for p in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break

    assert seen == ids[::-1]
    assert [len(p["items"]) for p in pages] == [2, 2, 1]
    assert set(pages[0]["items"][0]) == PLEDGE_FIELDS
    assert [p["amount"] for p in pages[0]["items"]] == ["5.00", "4.00"]


def test_list_campaign_pledges_with_status_after_payments_settle_lists_each_under_its_status(session_client):
    api, token = session_client.api, session_client.admin_token
    campaign = session_client.create_campaign()
    completed = session_client.create_pledge(campaign["id"], amount="25.00")
    failed = session_client.create_pledge(campaign["id"], amount="7.50", payment_method="pm_card_chargeDeclined")

    def settled():
        listed = {status: _ids(api, campaign["id"], token, status=status) for status in ("COMPLETED", "FAILED")}
        return listed if listed == {"COMPLETED": [completed["id"]], "FAILED": [failed["id"]]} else None

    poll(settled, timeout=SETTLE_SECONDS, interval=0.25, what="both pledges listed under their final status")

    assert _ids(api, campaign["id"], token, status="PENDING") == []
    [item] = assert_json(_list(api, campaign["id"], token, status="COMPLETED"), 200)["items"]
    assert (item["status"], item["payment"]["state"]) == ("COMPLETED", "COMPLETED")


def test_list_campaign_pledges_as_donor_who_is_not_owner_returns_403(api, campaign, donor, create_pledge):
    assert_json(create_pledge(campaign["id"], token=donor["token"]), 201)  # a donor of it, not its owner

    assert_problem(_list(api, campaign["id"], donor["token"]), 403)


def test_list_campaign_pledges_without_token_returns_401(api, campaign):
    body = assert_problem(_list(api, campaign["id"]), 401)

    assert body["type"].endswith("/unauthorized")


def test_list_campaign_pledges_of_unknown_campaign_returns_404(api, admin_token):
    assert_problem(_list(api, str(uuid.uuid4()), admin_token), 404)


@pytest.mark.parametrize("status", ["SHIPPED", "completed"])
def test_list_campaign_pledges_with_unknown_status_returns_422(api, admin_token, campaign, status):
    assert_problem(_list(api, campaign["id"], admin_token, status=status), 422)


def test_get_openapi_lists_campaign_pledges_listing_behind_bearer_and_create_open(api):
    document = api.get("/openapi.json").json()

    operations = document["paths"]["/campaigns/{id}/pledges"]
    assert operations["get"]["security"] == [{"bearer": []}]
    assert {"status", "limit", "cursor"} <= {p["name"] for p in operations["get"].get("parameters", [])}
    assert "security" not in operations["post"]
