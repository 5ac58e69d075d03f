"""Pydantic models of the pledges service: settings, requests, responses, stored items and events."""

from __future__ import annotations

import re
from decimal import Decimal
from enum import Enum
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from careforall.emails import Email
from careforall.money import Money
from careforall.text import prose, single_line
from pledges_service.settings import Settings, RelaySettings  # noqa: F401 - re-exported

MAX_PLEDGE = Decimal("1000000.00")
# The contract: 1-255 printable ASCII characters (\Z, not $: "$" also matches before a trailing newline).
IDEMPOTENCY_KEY = re.compile(r"\A[\x20-\x7e]{1,255}\Z")


Amount = Annotated[Money, Field(gt=0, le=MAX_PLEDGE)]
DonorName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100),
                      AfterValidator(single_line)]
Message = Annotated[str, StringConstraints(max_length=500), AfterValidator(prose)]
PaymentMethod = Annotated[str, StringConstraints(pattern=r"^pm_[A-Za-z0-9_]{1,64}$")]


class PledgeStatus(str, Enum):
    PENDING = "PENDING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CreatePledgeRequest(_Request):
    amount: Amount
    donor_email: Email | None = None
    donor_name: DonorName | None = None
    message: Message | None = None
    payment_method: PaymentMethod = "pm_card_visa"


class LookupRequest(_Request):
    email: Email


class PaymentView(BaseModel):
    id: str
    state: str
    provider_ref: str | None = None
    updated_at: str


class PledgeRecord(BaseModel):
    """A pledge as stored. It is also the idempotency record of the request that created it."""

    id: str
    campaign_id: str
    donor_id: str | None = None
    donor_email: str
    donor_name: str | None = None
    message: str | None = None
    amount_cents: int
    currency: str
    payment_method: str
    status: PledgeStatus = PledgeStatus.PENDING
    payment: PaymentView | None = None
    created_at: str
    updated_at: str
    scope: str
    fingerprint: str
    receipt_token_hash: str
    response_status: int = 201
    response_body: str = ""
    # Observability only: the request's correlation id and X-Ray trace header travel with the pledge
    # through the stream (which carries no trace header of its own) to every later hop.
    correlation_id: str | None = None
    trace_header: str | None = None


class PledgeOut(BaseModel):
    id: str
    campaign_id: str
    donor_id: str | None = None
    donor_email: str
    donor_name: str | None
    message: str | None
    amount: Money
    currency: str
    status: PledgeStatus
    payment: PaymentView | None
    created_at: str
    updated_at: str


class PledgeCreatedOut(PledgeOut):
    receipt_token: str


class PledgePage(BaseModel):
    items: list[PledgeOut]
    next_cursor: str | None


class PledgeCreatedEvent(BaseModel):
    """What the outbox relay publishes for each new pledge."""

    type: str = "pledge.created"
    version: int = 1
    id: str  # the event id: one per pledge, so consumers can deduplicate
    occurred_at: str
    correlation_id: str | None = None  # the pledge request's, so every later log line can name it
    data: dict[str, Any]
