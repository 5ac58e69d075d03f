"""PledgesService.campaign_pledges with in-memory fakes: a campaign's pledges for its owner or an ADMIN."""

from __future__ import annotations

import json

import pytest

from careforall.errors import ForbiddenError, NotFoundError
from careforall.identity import Caller, Role

from pledges_service.models import CreatePledgeRequest, PledgeStatus
from tests.unit.pledges.conftest import OWNER_ID

CAMPAIGN = "0b6f2f3e-8d1c-4c55-9a0e-6f2b8a7c9d10"
OTHER_CAMPAIGN = "7c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f"
OWNER = Caller(user_id=OWNER_ID, email="owner@example.com", role=Role.DONOR)
DONOR = Caller(user_id="donor-1", email="donor@example.com", role=Role.DONOR)
ADMIN = Caller(user_id="admin-1", email="admin@careforall.local", role=Role.ADMIN)
PUBLIC_FIELDS = {"id", "campaign_id", "donor_id", "donor_email", "donor_name", "message", "amount", "currency",
                 "status", "payment", "created_at", "updated_at"}


@pytest.fixture(autouse=True)
def active_campaigns(campaigns):
    campaigns.add(CAMPAIGN)
    campaigns.add(OTHER_CAMPAIGN)


def _created(service, key: str, caller: Caller | None = None, campaign_id: str = CAMPAIGN) -> str:
    body = {"amount": "25.00"} if caller else {"amount": "25.00", "donor_email": "guest@example.com"}
    reply = service.create(caller, campaign_id, key, CreatePledgeRequest.model_validate(body))
    assert reply.status == 201 and not reply.replayed
    return json.loads(reply.body)["id"]


def _set_status(pledges_repo, pledge_id: str, status: PledgeStatus) -> None:
    """What the payment projector does to a stored pledge."""
    pledges_repo.items[pledge_id] = pledges_repo.items[pledge_id].model_copy(update={"status": status})


def test_campaign_pledges_by_admin_lists_campaign_newest_first(service):
    ids = [_created(service, f"key-{i}") for i in range(3)]
    _created(service, "other-campaign", campaign_id=OTHER_CAMPAIGN)

    page = service.campaign_pledges(ADMIN, CAMPAIGN, None, limit=20, cursor=None)

    assert [p.id for p in page.items] == ids[::-1]
    assert page.next_cursor is None


def test_campaign_pledges_by_owner_lists_campaign(service):
    pledge_id = _created(service, "key-1")

    page = service.campaign_pledges(OWNER, CAMPAIGN, None, limit=20, cursor=None)

    assert [p.id for p in page.items] == [pledge_id]


def test_campaign_pledges_by_owner_of_another_campaign_raises_forbidden(service, campaigns):
    campaigns.add("someone-elses", owner_id="owner-2")

    with pytest.raises(ForbiddenError):
        service.campaign_pledges(OWNER, "someone-elses", None, limit=20, cursor=None)


def test_campaign_pledges_by_donor_who_is_not_owner_raises_forbidden(service):
    _created(service, "key-1", caller=DONOR)  # pledging to a campaign does not make it yours to monitor

    with pytest.raises(ForbiddenError) as raised:
        service.campaign_pledges(DONOR, CAMPAIGN, None, limit=20, cursor=None)

    assert raised.value.status == 403


def test_campaign_pledges_by_non_owner_queries_no_pledges(make_service):
    class NoReads:
        def by_campaign(self, *args):
            raise AssertionError("a caller who may not list must not cause a query")

    with pytest.raises(ForbiddenError):
        make_service(pledges=NoReads()).campaign_pledges(DONOR, CAMPAIGN, None, limit=20, cursor=None)


@pytest.mark.parametrize("caller", [ADMIN, DONOR], ids=["admin", "donor"])
def test_campaign_pledges_unknown_campaign_raises_not_found(service, caller):
    with pytest.raises(NotFoundError):
        service.campaign_pledges(caller, "no-such-campaign", None, limit=20, cursor=None)


@pytest.mark.parametrize("status", list(PledgeStatus))
def test_campaign_pledges_with_status_lists_only_that_status(service, pledges_repo, status):
    ids = {s: _created(service, f"key-{s.value}") for s in PledgeStatus}
    for s, pledge_id in ids.items():
        _set_status(pledges_repo, pledge_id, s)

    page = service.campaign_pledges(ADMIN, CAMPAIGN, status, limit=20, cursor=None)

    assert [(p.id, p.status) for p in page.items] == [(ids[status], status)]


def test_campaign_pledges_pages_with_cursor(service):
    ids = [_created(service, f"key-{i}") for i in range(5)]

    first = service.campaign_pledges(ADMIN, CAMPAIGN, None, limit=2, cursor=None)
    second = service.campaign_pledges(ADMIN, CAMPAIGN, None, limit=2, cursor=first.next_cursor)
    third = service.campaign_pledges(ADMIN, CAMPAIGN, None, limit=2, cursor=second.next_cursor)

    assert [p.id for page in (first, second, third) for p in page.items] == ids[::-1]
    assert third.next_cursor is None


def test_campaign_pledges_items_show_public_fields_only(service):
    _created(service, "key-1")

    [item] = service.campaign_pledges(ADMIN, CAMPAIGN, None, limit=20, cursor=None).items

    assert set(item.model_dump()) == PUBLIC_FIELDS


def test_campaign_pledges_without_pledges_returns_empty_page(service):
    page = service.campaign_pledges(ADMIN, CAMPAIGN, None, limit=20, cursor=None)

    assert (page.items, page.next_cursor) == ([], None)
