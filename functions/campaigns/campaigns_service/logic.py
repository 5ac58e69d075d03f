"""Campaigns logic: who may create and change a campaign, and how its status may move."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Protocol

from careforall.clock import now_iso
from careforall.errors import ConflictError, ForbiddenError, NotFoundError
from careforall.identity import Caller
from careforall.money import from_cents, to_cents

from campaigns_service.models import (CampaignOut, CampaignPage, CampaignRecord, CampaignStatus,
                                      CreateCampaignRequest, UpdateCampaignRequest)

# The only status moves there are; COMPLETED and CANCELLED are final.
ALLOWED_MOVES = {(CampaignStatus.ACTIVE, CampaignStatus.COMPLETED), (CampaignStatus.ACTIVE, CampaignStatus.CANCELLED)}


@dataclass(frozen=True)
class Page:
    records: list[CampaignRecord]
    next_cursor: str | None


class CampaignRepository(Protocol):
    def create(self, campaign: CampaignRecord) -> None: ...

    def get(self, campaign_id: str) -> CampaignRecord | None: ...

    def list(self, status: CampaignStatus | None, limit: int, cursor: str | None) -> Page:
        """Newest first; `cursor` is what a previous page returned (invalid ones raise ValidationFailedError)."""

    def update(self, campaign_id: str, changes: dict, expected_status: CampaignStatus) -> CampaignRecord | None:
        """Apply `changes` only while the status is still `expected_status`; None when it is not."""


class TotalsReader(Protocol):
    def raised_cents(self, campaign_ids: list[str]) -> dict[str, int]: ...


class CampaignStatusConflict(ConflictError):
    problem = "campaign-status-conflict"


class CampaignsService:
    def __init__(self, campaigns: CampaignRepository, totals: TotalsReader) -> None:
        self._campaigns = campaigns
        self._totals = totals

    def create(self, actor: Caller, request: CreateCampaignRequest) -> CampaignOut:
        if not actor.is_admin:
            raise ForbiddenError("Only an ADMIN can create campaigns.")
        now = now_iso()
        record = CampaignRecord(
            id=str(uuid.uuid4()), title=request.title, description=request.description,
            goal_cents=to_cents(request.goal_amount), currency=request.currency, status=CampaignStatus.ACTIVE,
            owner_id=actor.user_id, created_at=now, updated_at=now)
        self._campaigns.create(record)
        return self._out(record, 0)

    def get(self, campaign_id: str) -> CampaignOut:
        record = self._campaigns.get(campaign_id)
        if record is None:
            raise NotFoundError(f"Campaign {campaign_id} does not exist.")
        return self._out(record, self._totals.raised_cents([record.id]).get(record.id, 0))

    def list(self, status: CampaignStatus | None, limit: int, cursor: str | None) -> CampaignPage:
        page = self._campaigns.list(status, limit, cursor)
        raised = self._totals.raised_cents([r.id for r in page.records]) if page.records else {}
        return CampaignPage(items=[self._out(r, raised.get(r.id, 0)) for r in page.records],
                            next_cursor=page.next_cursor)

    def update(self, actor: Caller, campaign_id: str, request: UpdateCampaignRequest) -> CampaignOut:
        record = self._campaigns.get(campaign_id)
        if record is None:
            raise NotFoundError(f"Campaign {campaign_id} does not exist.")
        if not (actor.is_admin or actor.user_id == record.owner_id):
            raise ForbiddenError("Only the campaign's owner or an ADMIN can change it.")
        if record.status is not CampaignStatus.ACTIVE:
            raise CampaignStatusConflict(f"Campaign {campaign_id} is {record.status.value} and can no longer change.")
        changes: dict = {}
        if request.title is not None:
            changes["title"] = request.title
        if request.description is not None:
            changes["description"] = request.description
        if request.goal_amount is not None:
            changes["goal_cents"] = to_cents(request.goal_amount)
        if request.status is not None and request.status is not record.status:
            if (record.status, request.status) not in ALLOWED_MOVES:
                raise CampaignStatusConflict(
                    f"Status cannot move from {record.status.value} to {request.status.value}.")
            changes["status"] = request.status.value
        changes["updated_at"] = now_iso()
        updated = self._campaigns.update(campaign_id, changes, expected_status=record.status)
        if updated is None:  # someone closed it between our read and our write
            raise CampaignStatusConflict(f"Campaign {campaign_id} changed status concurrently; read it again.")
        return self._out(updated, self._totals.raised_cents([updated.id]).get(updated.id, 0))

    @staticmethod
    def _out(record: CampaignRecord, raised_cents: int) -> CampaignOut:
        return CampaignOut(
            id=record.id, title=record.title, description=record.description,
            goal_amount=from_cents(record.goal_cents), current_amount=from_cents(raised_cents),
            currency=record.currency, status=record.status, owner_id=record.owner_id,
            created_at=record.created_at, updated_at=record.updated_at)

