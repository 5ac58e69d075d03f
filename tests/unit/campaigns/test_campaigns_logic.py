"""CampaignsService with in-memory fakes: who may create and change a campaign, and status moves."""

from __future__ import annotations

from decimal import Decimal

import pytest

from careforall.errors import ForbiddenError, NotFoundError
from careforall.identity import Caller, Role

from campaigns_service.logic import CampaignStatusConflict
from campaigns_service.models import CampaignStatus, CreateCampaignRequest, UpdateCampaignRequest

ADMIN = Caller(user_id="admin-1", email="admin@careforall.local", role=Role.ADMIN)
OTHER_ADMIN = Caller(user_id="admin-2", email="second@careforall.local", role=Role.ADMIN)
DONOR = Caller(user_id="donor-1", email="donor@example.com", role=Role.DONOR)
# the campaign's owner after being demoted: still allowed to edit their own campaign
DEMOTED_OWNER = Caller(user_id="admin-1", email="admin@careforall.local", role=Role.DONOR)


def _create(service, actor=ADMIN, **fields):
    body = {"title": "Clean water", "description": "Wells for 40 families.", "goal_amount": "2500.00", **fields}
    return service.create(actor, CreateCampaignRequest.model_validate(body))


def _patch(**fields) -> UpdateCampaignRequest:
    return UpdateCampaignRequest.model_validate(fields)


# ------------------------------------------------------------------------------------------ create
def test_create_by_admin_gives_active_campaign_owned_by_admin(service, campaigns_repo):
    campaign = _create(service)

    assert campaign.status is CampaignStatus.ACTIVE
    assert campaign.owner_id == ADMIN.user_id
    assert campaign.id in campaigns_repo.items


def test_create_by_admin_starts_with_zero_raised(service):
    campaign = _create(service)

    assert campaign.model_dump(mode="json")["current_amount"] == "0.00"


def test_create_stores_goal_in_cents(service, campaigns_repo):
    campaign = _create(service, goal_amount=25.5)

    assert campaigns_repo.items[campaign.id].goal_cents == 2550
    assert campaign.model_dump(mode="json")["goal_amount"] == "25.50"


def test_create_currency_defaults_to_usd(service):
    assert _create(service).currency == "USD"


def test_create_sets_created_and_updated_at_equal(service):
    campaign = _create(service)

    assert campaign.created_at == campaign.updated_at
    assert campaign.created_at.endswith("Z")


def test_create_by_donor_raises_forbidden_and_stores_nothing(service, campaigns_repo):
    with pytest.raises(ForbiddenError):
        _create(service, actor=DONOR)

    assert campaigns_repo.items == {}


# ------------------------------------------------------------------------------------------ get / list
def test_get_unknown_campaign_raises_not_found(service):
    with pytest.raises(NotFoundError):
        service.get("no-such-campaign")


def test_get_without_totals_item_reports_zero(service):
    created = _create(service)

    assert service.get(created.id).current_amount == Decimal("0.00")


def test_get_current_amount_comes_from_totals(service, totals):
    created = _create(service)
    totals.cents[created.id] = 123_45

    assert service.get(created.id).model_dump(mode="json")["current_amount"] == "123.45"


def test_list_reads_totals_once_for_the_whole_page(service, totals):
    ids = [_create(service, title=f"c{i}").id for i in range(3)]
    totals.requests.clear()

    service.list(None, 10, None)

    assert len(totals.requests) == 1
    assert sorted(totals.requests[0]) == sorted(ids)


def test_list_items_carry_their_own_current_amount(service, totals):
    first, second = _create(service, title="first"), _create(service, title="second")
    totals.cents[first.id] = 500

    page = service.list(None, 10, None)

    amounts = {item.id: item.model_dump(mode="json")["current_amount"] for item in page.items}
    assert amounts == {first.id: "5.00", second.id: "0.00"}


def test_list_empty_page_skips_totals(service, totals):
    page = service.list(CampaignStatus.CANCELLED, 10, None)

    assert page.items == [] and page.next_cursor is None
    assert totals.requests == []


def test_list_with_next_cursor_returns_following_page(service):
    for i in range(3):
        _create(service, title=f"c{i}")

    first = service.list(None, 2, None)
    second = service.list(None, 2, first.next_cursor)

    assert len(first.items) == 2 and len(second.items) == 1
    assert second.next_cursor is None
    assert {i.id for i in first.items}.isdisjoint({i.id for i in second.items})


# ------------------------------------------------------------------------------------------ update: who
def test_update_by_admin_owner_changes_title(service):
    created = _create(service)

    updated = service.update(ADMIN, created.id, _patch(title="Clean water, phase 2"))

    assert updated.title == "Clean water, phase 2"
    assert service.get(created.id).title == "Clean water, phase 2"


def test_update_by_other_admin_allowed(service):
    created = _create(service)

    assert service.update(OTHER_ADMIN, created.id, _patch(description="More wells.")).description == "More wells."


def test_update_by_non_admin_owner_allowed(service):
    created = _create(service)

    assert service.update(DEMOTED_OWNER, created.id, _patch(title="Mine still")).title == "Mine still"


def test_update_by_other_donor_raises_forbidden(service, campaigns_repo):
    created = _create(service)

    with pytest.raises(ForbiddenError):
        service.update(DONOR, created.id, _patch(title="Hijacked"))

    assert campaigns_repo.items[created.id].title == "Clean water"


def test_update_unknown_campaign_raises_not_found(service):
    with pytest.raises(NotFoundError):
        service.update(ADMIN, "no-such-campaign", _patch(title="x"))


# ------------------------------------------------------------------------------------------ update: what
def test_update_goal_amount_stored_in_cents(service, campaigns_repo):
    created = _create(service)

    updated = service.update(ADMIN, created.id, _patch(goal_amount="3000.5"))

    assert campaigns_repo.items[created.id].goal_cents == 300050
    assert updated.model_dump(mode="json")["goal_amount"] == "3000.50"


def test_update_title_writes_title_and_updated_at_only(service, campaigns_repo):
    created = _create(service)

    service.update(ADMIN, created.id, _patch(title="New"))

    assert set(campaigns_repo.updates[-1]) == {"title", "updated_at"}
    assert campaigns_repo.items[created.id].created_at == created.created_at


def test_update_current_amount_comes_from_totals(service, totals):
    created = _create(service)
    totals.cents[created.id] = 1000

    assert service.update(ADMIN, created.id, _patch(title="New")).current_amount == Decimal("10.00")


@pytest.mark.parametrize("target", [CampaignStatus.COMPLETED, CampaignStatus.CANCELLED])
def test_update_status_from_active_to_closed_allowed(service, target):
    created = _create(service)

    updated = service.update(ADMIN, created.id, _patch(status=target.value))

    assert updated.status is target
    assert service.get(created.id).status is target


@pytest.mark.parametrize("closed", [CampaignStatus.COMPLETED, CampaignStatus.CANCELLED])
@pytest.mark.parametrize("target", list(CampaignStatus))
def test_update_status_of_closed_campaign_raises_conflict(service, closed, target):
    created = _create(service)
    service.update(ADMIN, created.id, _patch(status=closed.value))

    with pytest.raises(CampaignStatusConflict) as raised:
        service.update(ADMIN, created.id, _patch(status=target.value))

    assert raised.value.status == 409
    assert raised.value.problem == "campaign-status-conflict"


@pytest.mark.parametrize("closed", [CampaignStatus.COMPLETED, CampaignStatus.CANCELLED])
def test_update_fields_of_closed_campaign_raises_conflict(service, campaigns_repo, closed):
    created = _create(service)
    service.update(ADMIN, created.id, _patch(status=closed.value))

    with pytest.raises(CampaignStatusConflict):
        service.update(ADMIN, created.id, _patch(title="Reopened by stealth"))

    assert campaigns_repo.items[created.id].title == "Clean water"


def test_update_concurrent_status_change_raises_conflict(racing_service):
    service, repo = racing_service
    created = _create(service)

    with pytest.raises(CampaignStatusConflict, match="concurrently"):
        service.update(ADMIN, created.id, _patch(title="Too late"))

    assert repo.items[created.id].title == "Clean water"


def test_update_closed_campaign_by_stranger_raises_forbidden(service):
    # a stranger learns nothing about the campaign's state
    created = _create(service)
    service.update(ADMIN, created.id, _patch(status="CANCELLED"))

    with pytest.raises(ForbiddenError):
        service.update(DONOR, created.id, _patch(title="x"))
