"""In-memory fakes of the campaigns service's ports: the campaigns store and the totals read model."""

from __future__ import annotations

import pytest

from careforall.errors import ValidationFailedError

from campaigns_service.logic import CampaignsService, Page
from campaigns_service.models import CampaignRecord, CampaignStatus


class FakeCampaignRepository:
    """Campaigns in a dict; lists newest first with an index cursor; updates are conditional on status."""

    def __init__(self) -> None:
        self.items: dict[str, CampaignRecord] = {}
        self.updates: list[dict] = []

    def create(self, campaign: CampaignRecord) -> None:
        assert campaign.id not in self.items
        self.items[campaign.id] = campaign

    def get(self, campaign_id: str) -> CampaignRecord | None:
        return self.items.get(campaign_id)

    def list(self, status: CampaignStatus | None, limit: int, cursor: str | None) -> Page:
        records = sorted((r for r in self.items.values() if status is None or r.status is status),
                         key=lambda r: (r.created_at, r.id), reverse=True)
        if cursor is not None and not cursor.isdigit():
            raise ValidationFailedError("The cursor is not valid.")
        start = int(cursor or 0)
        page = records[start:start + limit]
        more = start + limit < len(records)
        return Page(records=page, next_cursor=str(start + limit) if more else None)

    def update(self, campaign_id: str, changes: dict, expected_status: CampaignStatus) -> CampaignRecord | None:
        current = self.items.get(campaign_id)
        if current is None or current.status is not expected_status:
            return None
        self.updates.append(dict(changes))
        self.items[campaign_id] = current.model_copy(update={
            k: CampaignStatus(v) if k == "status" else v for k, v in changes.items()})
        return self.items[campaign_id]


class RacingCampaignRepository(FakeCampaignRepository):
    """Another request closes the campaign between our read and our conditional write."""

    def update(self, campaign_id, changes, expected_status):
        current = self.items[campaign_id]
        self.items[campaign_id] = current.model_copy(update={"status": CampaignStatus.CANCELLED})
        return super().update(campaign_id, changes, expected_status)


class FakeTotalsReader:
    def __init__(self) -> None:
        self.cents: dict[str, int] = {}
        self.requests: list[list[str]] = []

    def raised_cents(self, campaign_ids: list[str]) -> dict[str, int]:
        self.requests.append(list(campaign_ids))
        return {cid: self.cents[cid] for cid in campaign_ids if cid in self.cents}


@pytest.fixture
def campaigns_repo() -> FakeCampaignRepository:
    return FakeCampaignRepository()


@pytest.fixture
def totals() -> FakeTotalsReader:
    return FakeTotalsReader()


@pytest.fixture
def service(campaigns_repo, totals) -> CampaignsService:
    return CampaignsService(campaigns_repo, totals)


@pytest.fixture
def racing_service(totals) -> tuple[CampaignsService, RacingCampaignRepository]:
    repo = RacingCampaignRepository()
    return CampaignsService(repo, totals), repo
