"""Pydantic models of the totals service."""

from __future__ import annotations

from pydantic import BaseModel

from careforall.money import Money
from totals_service.settings import AggregatorSettings, ApiSettings  # noqa: F401 - re-exported

COUNTED_STATES = frozenset({"CAPTURED", "COMPLETED"})


class PaymentChange(BaseModel):
    """The newest image of one payment in a batch of payments-stream records."""

    payment_id: str
    campaign_id: str
    amount_cents: int
    state: str
    version: int
    correlation_id: str | None = None
    trace_header: str | None = None

    @property
    def counted(self) -> bool:
        return self.state in COUNTED_STATES


class LedgerEntry(BaseModel):
    """What the totals already include of one payment: at which version, counted or not."""

    payment_id: str
    campaign_id: str
    version: int
    counted: bool
    amount_cents: int


class TotalsOut(BaseModel):
    campaign_id: str
    total_amount: Money
    pledge_count: int
    goal_amount: Money
    currency: str
    updated_at: str
