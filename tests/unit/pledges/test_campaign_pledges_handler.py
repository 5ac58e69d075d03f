"""GET /campaigns/{id}/pledges through the pledges Lambda handler, moto behind.

The route is behind the JWT authorizer, so its events carry the authorizer's context; the function
decides who may list (the campaign's owner or an ADMIN).
"""

from __future__ import annotations

import pytest

from payments_service.dal import DynamoPledgeProjection

PLEDGE_FIELDS = {"id", "campaign_id", "donor_id", "donor_email", "donor_name", "message", "amount", "currency",
                 "status", "payment", "created_at", "updated_at"}
SAMPLE_CAMPAIGN = "0b6f2f3e-8d1c-4c55-9a0e-6f2b8a7c9d10"  # events/pledges_campaign_list.json


@pytest.fixture
def ps(pledges_stack):
    return pledges_stack


@pytest.fixture
def owner(ps) -> dict:
    return ps.stack.seed_user(email="owner@example.com")


@pytest.fixture
def campaign(ps, owner) -> str:
    return ps.put_campaign(owner_id=owner["user_id"])


def _pledge(ps, campaign_id: str, key: str, amount: str = "25.00") -> str:
    result = ps.api(ps.stack.event("pledges_create", path=f"/campaigns/{campaign_id}/pledges",
                                   path_params={"id": campaign_id}, headers={"Idempotency-Key": key},
                                   body={"amount": amount, "donor_email": "guest.donor@example.com"}))
    assert result.status == 201, result.raw_body
    return result.json["id"]


def _list(ps, campaign_id: str, caller, **query):
    return ps.api(ps.stack.event("pledges_campaign_list", path=f"/campaigns/{campaign_id}/pledges",
                                 path_params={"id": campaign_id}, caller=caller, query=query or None))


def _complete(ps, pledge_id: str, campaign_id: str) -> None:
    """The payment projector's write (its own DAL) for a COMPLETED payment."""
    projection = DynamoPledgeProjection(ps.stack.tables["PledgesTable"], client=ps.stack.dynamodb)
    view = {"id": "f65e148b-c678-52c8-8ce8-c4c27206a298", "state": "COMPLETED", "provider_ref": "pi_1",
            "updated_at": "2025-03-01T13:00:00.000Z"}
    assert projection.project(pledge_id, campaign_id, "COMPLETED", view, 4)


def test_campaign_pledges_by_admin_returns_200_newest_first(ps, campaign, admin):
    ids = [_pledge(ps, campaign, f"k{i}", amount=f"{i + 1}.00") for i in range(3)]
    _pledge(ps, ps.put_campaign(), "elsewhere")

    result = _list(ps, campaign, admin)

    assert result.status == 200, result.raw_body
    assert [p["id"] for p in result.json["items"]] == ids[::-1]
    assert [p["amount"] for p in result.json["items"]] == ["3.00", "2.00", "1.00"]
    assert set(result.json["items"][0]) == PLEDGE_FIELDS
    assert result.json["next_cursor"] is None


def test_campaign_pledges_by_owner_returns_200(ps, campaign, owner):
    pledge_id = _pledge(ps, campaign, "k1")

    result = _list(ps, campaign, owner)

    assert result.status == 200, result.raw_body
    assert [p["id"] for p in result.json["items"]] == [pledge_id]


def test_campaign_pledges_by_donor_who_is_not_owner_returns_403(ps, campaign, donor):
    _pledge(ps, campaign, "k1")

    _list(ps, campaign, donor).problem(403, "forbidden")


def test_campaign_pledges_without_authorizer_context_returns_401(ps, campaign):
    _list(ps, campaign, None).problem(401, "unauthorized")


def test_campaign_pledges_unknown_campaign_returns_404(ps, admin):
    _list(ps, "5e6f7a8b-9c0d-4e1f-8a2b-3c4d5e6f7a8b", admin).problem(404, "not-found")


@pytest.mark.parametrize("status", ["SHIPPED", "completed", "AUTHORIZED", ""])
def test_campaign_pledges_with_unknown_status_returns_422(ps, campaign, admin, status):
    _list(ps, campaign, admin, status=status).problem(422, "validation-error")


@pytest.mark.parametrize("limit", ["0", "101", "many"])
def test_campaign_pledges_with_limit_out_of_range_returns_422(ps, campaign, admin, limit):
    _list(ps, campaign, admin, limit=limit).problem(422, "validation-error")


def test_campaign_pledges_with_status_completed_lists_completed_pledge_only(ps, campaign, admin):
    completed, pending = _pledge(ps, campaign, "k1"), _pledge(ps, campaign, "k2")
    _complete(ps, completed, campaign)

    by_status = {status: _list(ps, campaign, admin, status=status).json["items"]
                 for status in ("COMPLETED", "PENDING", "FAILED")}

    assert [(p["id"], p["status"], p["payment"]["state"]) for p in by_status["COMPLETED"]] == [
        (completed, "COMPLETED", "COMPLETED")]
    assert [p["id"] for p in by_status["PENDING"]] == [pending]
    assert by_status["FAILED"] == []


def test_campaign_pledges_pages_with_cursor(ps, campaign, admin):
    ids = [_pledge(ps, campaign, f"k{i}") for i in range(5)]

    seen, cursor, pages = [], None, 0
    while True:
        query = {"limit": "2"} if cursor is None else {"limit": "2", "cursor": cursor}
        page = _list(ps, campaign, admin, **query).json
        seen += [p["id"] for p in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break

    assert seen == ids[::-1]
    assert pages == 3


def test_campaign_pledges_with_malformed_cursor_returns_422(ps, campaign, admin):
    _list(ps, campaign, admin, cursor="not-a-cursor").problem(422, "validation-error")


def test_campaign_pledges_with_cursor_of_other_campaign_returns_422(ps, campaign, admin):
    other = ps.put_campaign()
    for key in ("k1", "k2"):
        _pledge(ps, other, key)
    other_cursor = _list(ps, other, admin, limit="1").json["next_cursor"]

    _list(ps, campaign, admin, cursor=other_cursor).problem(422, "validation-error")


def test_campaign_pledges_with_cursor_of_unfiltered_listing_and_status_returns_422(ps, campaign, admin):
    for key in ("k1", "k2"):
        _pledge(ps, campaign, key)
    unfiltered_cursor = _list(ps, campaign, admin, limit="1").json["next_cursor"]

    _list(ps, campaign, admin, status="PENDING", cursor=unfiltered_cursor).problem(422, "validation-error")


def test_campaign_pledges_sample_event_returns_200(ps):
    ps.put_campaign(campaign_id=SAMPLE_CAMPAIGN)

    result = ps.api(ps.stack.event("pledges_campaign_list"))  # an ADMIN's authorizer context, ?status=COMPLETED

    assert result.status == 200, result.raw_body
    assert result.json == {"items": [], "next_cursor": None}


def test_create_pledge_on_same_path_still_admits_guests(ps, campaign):
    # POST and GET share /campaigns/{id}/pledges: the listing's caller check must not reach the create
    assert _pledge(ps, campaign, "guest-key")
