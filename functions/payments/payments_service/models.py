"""Pydantic models of the payments service: settings, webhook events, payments, workflow I/O."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints


from payments_service.transitions import PaymentState
from payments_service.settings import ApiSettings, TaskSettings, StarterSettings, ProjectorSettings  # noqa: F401 - re-exported

WEBHOOK_STATE = {
    "payment.authorized": PaymentState.AUTHORIZED,
    "payment.captured": PaymentState.CAPTURED,
    "payment.completed": PaymentState.COMPLETED,
    "payment.failed": PaymentState.FAILED,
}


class WebhookData(BaseModel):
    model_config = ConfigDict(extra="allow")

    payment_id: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    provider_ref: Annotated[str, StringConstraints(min_length=1, max_length=128)] | None = None
    amount: int | str | float | None = None
    reason: Annotated[str, StringConstraints(max_length=500)] | None = None


class WebhookEvent(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: Annotated[str, StringConstraints(pattern=r"^evt_[A-Za-z0-9_\-]{1,120}$")]
    type: Literal["payment.authorized", "payment.captured", "payment.completed", "payment.failed"]
    created: int
    data: WebhookData


class Transition(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    from_: PaymentState = Field(alias="from")
    to: PaymentState
    at: str
    event_id: str


class Payment(BaseModel):
    id: str
    pledge_id: str
    campaign_id: str
    amount_cents: int
    currency: str
    payment_method: str
    donor_email: str | None = None
    state: PaymentState = PaymentState.PENDING
    provider_ref: str | None = None
    failure_reason: str | None = None
    history: list[Transition] = []
    version: int = 0
    waiting_for: PaymentState | None = None
    task_token: str | None = None
    created_at: str
    updated_at: str
    # Observability only: the pledge's correlation id, and the trace header stream consumers join.
    correlation_id: str | None = None
    trace_header: str | None = None


class PaymentOut(BaseModel):
    id: str
    pledge_id: str
    campaign_id: str
    amount: str
    currency: str
    state: PaymentState
    provider_ref: str | None
    failure_reason: str | None
    history: list[dict]
    created_at: str
    updated_at: str


class StartPayment(BaseModel):
    """The workflow's input: what the payment needs, taken from pledge.created."""

    payment_id: str
    pledge_id: str
    campaign_id: str
    amount_cents: int
    currency: str
    payment_method: str
    donor_email: str | None = None
    pledge_created_at: str | None = None
    correlation_id: str | None = None  # the pledge request's: named in every log line of the payment
    trace_header: str | None = None  # the starter's: each task joins the donation's trace


class ProviderAnswer(BaseModel):
    provider_ref: str
    status: Literal["pending", "authorized", "captured", "completed", "failed"]
    reason: str | None = None


PROVIDER_STATE = {
    "pending": PaymentState.PENDING,
    "authorized": PaymentState.AUTHORIZED,
    "captured": PaymentState.CAPTURED,
    "completed": PaymentState.COMPLETED,
    "failed": PaymentState.FAILED,
}
