"""Payments logic: forward-only transitions, exactly-once webhook events, and the workflow's steps.

Every write is optimistic: read the payment, compute the next version, write it only if nobody
else wrote in between (and, for a provider event, only if its id is new, in the same atomic
write). Concurrent webhooks therefore never lose an update: the loser reads again and re-decides.
No AWS SDK here: storage, the provider and Step Functions come in through the constructor.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from enum import Enum
from typing import Protocol

from careforall.clock import now_iso
from careforall.errors import ConflictError, NotFoundError
from careforall.money import format_amount, from_cents

from payments_service.models import PROVIDER_STATE, Payment, PaymentOut, ProviderAnswer, StartPayment, Transition
from payments_service.transitions import PaymentState, can_move, reached

PAYMENT_ID_NAMESPACE = uuid.UUID("2b0f7c5e-8a53-4f4e-9d8a-7c1e3b6a9f10")
MAX_WRITE_ATTEMPTS = 20


def payment_id_for(pledge_id: str) -> str:
    """One payment per pledge, whatever the number of pledge.created deliveries."""
    return str(uuid.uuid5(PAYMENT_ID_NAMESPACE, pledge_id))


class SaveOutcome(Enum):
    SAVED = "saved"
    STALE = "stale"  # another writer got there first: read again
    DUPLICATE_EVENT = "duplicate-event"


class PaymentRepository(Protocol):
    def create(self, payment: Payment) -> Payment:
        """Store a new payment; returns the stored one (the existing payment when it was already there)."""

    def get(self, payment_id: str) -> Payment | None: ...

    def save(self, payment: Payment, expected_version: int, event_id: str | None) -> SaveOutcome:
        """Write `payment` if the stored version is `expected_version` and `event_id` (if any) is new."""


class PaymentProvider(Protocol):
    """A payment provider's API (the sandbox locally; Stripe or another behind the same methods)."""

    def authorize(self, payment: Payment) -> ProviderAnswer: ...

    def capture(self, payment: Payment) -> ProviderAnswer: ...

    def status(self, payment: Payment) -> ProviderAnswer: ...


class WorkflowCallbacks(Protocol):
    """Resumes a workflow step waiting on a task token (Step Functions SendTaskSuccess/Failure)."""

    def succeed(self, token: str, output: dict) -> None: ...

    def fail(self, token: str, error: str, cause: str) -> None: ...


class PaymentContention(ConflictError):
    problem = "payment-contention"


@dataclass(frozen=True)
class Applied:
    applied: bool
    payment: Payment
    ignored_because: str | None = None  # "duplicate" (already there, or the same event) or "stale" (earlier)


class PaymentsService:
    def __init__(self, payments: PaymentRepository, provider: PaymentProvider | None = None,
                 callbacks: WorkflowCallbacks | None = None) -> None:
        self._payments = payments
        self._provider = provider
        self._callbacks = callbacks

    # ------------------------------------------------------------------ reads
    def get(self, payment_id: str) -> Payment:
        payment = self._payments.get(payment_id)
        if payment is None:
            raise NotFoundError(f"Payment {payment_id} does not exist.")
        return payment

    @staticmethod
    def view(payment: Payment) -> PaymentOut:
        return PaymentOut(
            id=payment.id, pledge_id=payment.pledge_id, campaign_id=payment.campaign_id,
            amount=format_amount(from_cents(payment.amount_cents)), currency=payment.currency, state=payment.state,
            provider_ref=payment.provider_ref, failure_reason=payment.failure_reason,
            history=[t.model_dump(mode="json", by_alias=True) for t in payment.history],
            created_at=payment.created_at, updated_at=payment.updated_at)

    # ------------------------------------------------------------------ transitions
    def apply(self, payment_id: str, target: PaymentState, event_id: str, provider_ref: str | None = None,
              reason: str | None = None) -> Applied:
        """Move the payment to `target` if that is a forward move and `event_id` was never applied."""
        for _ in range(MAX_WRITE_ATTEMPTS):
            current = self.get(payment_id)
            if not can_move(current.state, target):  # a duplicate, or a stale (earlier) state: changes nothing
                return Applied(False, current, "duplicate" if current.state is target else "stale")
            now = now_iso()
            updated = current.model_copy(update={
                "state": target, "provider_ref": provider_ref or current.provider_ref,
                "failure_reason": reason if target is PaymentState.FAILED else current.failure_reason,
                "history": [*current.history, Transition(from_=current.state, to=target, at=now, event_id=event_id)],
                "version": current.version + 1, "updated_at": now})
            resume = None
            if updated.task_token and updated.waiting_for and (
                    target is PaymentState.FAILED or reached(target, updated.waiting_for)):
                resume = updated.task_token
                updated = updated.model_copy(update={"task_token": None, "waiting_for": None})
            outcome = self._payments.save(updated, expected_version=current.version, event_id=event_id)
            if outcome is SaveOutcome.DUPLICATE_EVENT:
                return Applied(False, current, "duplicate")
            if outcome is SaveOutcome.SAVED:
                if resume:
                    self._resume(resume, updated)
                return Applied(True, updated)
        raise PaymentContention(f"Payment {payment_id} is changing too fast; retry.")

    def _resume(self, token: str, payment: Payment) -> None:
        if self._callbacks is None:
            return
        if payment.state is PaymentState.FAILED:
            self._callbacks.fail(token, "PaymentFailed", payment.failure_reason or "the provider failed the payment")
        else:
            self._callbacks.succeed(token, {"state": payment.state.value})

    # ------------------------------------------------------------------ workflow steps
    def create(self, start: StartPayment) -> Payment:
        now = now_iso()
        return self._payments.create(Payment(
            id=start.payment_id, pledge_id=start.pledge_id, campaign_id=start.campaign_id,
            amount_cents=start.amount_cents, currency=start.currency, payment_method=start.payment_method,
            donor_email=start.donor_email, created_at=now, updated_at=now,
            correlation_id=start.correlation_id, trace_header=start.trace_header))

    def authorize(self, payment_id: str, task_token: str) -> None:
        if self._wait_for(payment_id, PaymentState.AUTHORIZED, task_token):
            self._ask_provider(payment_id, "authorize")

    def capture(self, payment_id: str, task_token: str) -> None:
        if self._wait_for(payment_id, PaymentState.CAPTURED, task_token):
            self._ask_provider(payment_id, "capture")

    def await_completion(self, payment_id: str, task_token: str) -> None:
        self._wait_for(payment_id, PaymentState.COMPLETED, task_token)

    def reconcile(self, payment_id: str) -> PaymentState:
        """Ask the provider where the payment is, instead of trusting that a webhook will come."""
        answer = self._provider.status(self.get(payment_id))
        target = PROVIDER_STATE[answer.status]
        result = self.apply(payment_id, target, event_id=f"reconcile:{payment_id}:{answer.status}",
                            provider_ref=answer.provider_ref, reason=answer.reason)
        return result.payment.state

    def fail(self, payment_id: str, reason: str) -> PaymentState:
        return self.apply(payment_id, PaymentState.FAILED, event_id=f"workflow:{payment_id}:failed",
                          reason=reason).payment.state

    def _wait_for(self, payment_id: str, wanted: PaymentState, token: str) -> bool:
        """Park the workflow's token on the payment; resume at once if the payment is already there.

        Returns True when the step still has to ask the provider.
        """
        for _ in range(MAX_WRITE_ATTEMPTS):
            current = self.get(payment_id)
            if current.state is PaymentState.FAILED or reached(current.state, wanted):
                self._resume(token, current)
                return False
            parked = current.model_copy(update={"waiting_for": wanted, "task_token": token,
                                                "version": current.version + 1, "updated_at": now_iso()})
            if self._payments.save(parked, expected_version=current.version, event_id=None) is SaveOutcome.SAVED:
                return True
        raise PaymentContention(f"Payment {payment_id} is changing too fast; retry.")

    def _ask_provider(self, payment_id: str, operation: str) -> None:
        payment = self.get(payment_id)
        answer: ProviderAnswer = getattr(self._provider, operation)(payment)
        target = PROVIDER_STATE[answer.status]
        # The provider's synchronous answer is as authoritative as its webhook (a decline, say).
        self.apply(payment_id, target, event_id=f"provider:{payment_id}:{operation}:{answer.status}",
                   provider_ref=answer.provider_ref, reason=answer.reason)
        if payment.provider_ref is None and answer.provider_ref:
            self._remember_provider_ref(payment_id, answer.provider_ref)

    def _remember_provider_ref(self, payment_id: str, provider_ref: str) -> None:
        for _ in range(MAX_WRITE_ATTEMPTS):
            current = self.get(payment_id)
            if current.provider_ref:
                return
            updated = current.model_copy(update={"provider_ref": provider_ref, "version": current.version + 1})
            if self._payments.save(updated, expected_version=current.version, event_id=None) is SaveOutcome.SAVED:
                return
