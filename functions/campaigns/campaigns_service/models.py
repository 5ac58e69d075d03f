"""Pydantic models of the campaigns service: settings, requests, responses and stored items."""

from __future__ import annotations

from decimal import Decimal
from enum import Enum
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, model_validator

from careforall.money import Money
from careforall.text import prose
from campaigns_service.settings import Settings  # noqa: F401 - re-exported

MAX_GOAL = Decimal("100000000.00")


Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200),
                  AfterValidator(prose)]
Description = Annotated[str, StringConstraints(max_length=5000), AfterValidator(prose)]
Currency = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
Goal = Annotated[Money, Field(gt=0, le=MAX_GOAL)]


class CampaignStatus(str, Enum):
    ACTIVE = "ACTIVE"
    COMPLETED = "COMPLETED"
    CANCELLED = "CANCELLED"


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CreateCampaignRequest(_Request):
    title: Title
    description: Description
    goal_amount: Goal
    currency: Currency = "USD"


class UpdateCampaignRequest(_Request):
    title: Title | None = None
    description: Description | None = None
    goal_amount: Goal | None = None
    status: CampaignStatus | None = None

    @model_validator(mode="after")
    def _at_least_one_field(self) -> "UpdateCampaignRequest":
        if not self.model_fields_set or all(getattr(self, name) is None for name in self.model_fields_set):
            raise ValueError("give at least one of title, description, goal_amount, status")
        return self


class CampaignRecord(BaseModel):
    """A campaign as stored. Amounts are kept in cents so arithmetic is exact."""

    id: str
    title: str
    description: str
    goal_cents: int
    currency: str
    status: CampaignStatus
    owner_id: str
    created_at: str
    updated_at: str


class CampaignOut(BaseModel):
    id: str
    title: str
    description: str
    goal_amount: Money
    current_amount: Money
    currency: str
    status: CampaignStatus
    owner_id: str
    created_at: str
    updated_at: str


class CampaignPage(BaseModel):
    items: list[CampaignOut]
    next_cursor: str | None
