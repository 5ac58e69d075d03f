"""The sandbox's behaviour, without AWS: what each call does to a payment and which webhooks follow.

Test tokens, as Stripe's: `pm_card_chargeDeclined` is declined at authorization; every other
`pm_...` succeeds. Authorization and capture answer at once with `pending` (the outcome arrives
by webhook, or by asking `status`); a capture settles at once, so `status` then says `completed`.
"""

from __future__ import annotations

import hashlib
import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

DECLINED_TOKENS = {"pm_card_chargeDeclined"}


@dataclass
class ProviderPayment:
    payment_id: str
    provider_ref: str
    status: str  # authorized | completed | failed
    amount_cents: int
    reason: str | None = None
    metadata: dict | None = None  # the merchant's, echoed in every webhook (e.g. the correlation id)


@dataclass(frozen=True)
class WebhookPlan:
    """What the sandbox tells the platform by webhook, and how badly (all off by default)."""

    autopilot: bool = True
    drop_rate: float = 0.0
    duplicate_rate: float = 0.0
    max_delay_seconds: int = 2  # random 0..max per webhook, so they can arrive out of order


@dataclass(frozen=True)
class WebhookDecision:
    """What autopilot did with one webhook it had to send: dropped it, or scheduled `len(delays)` copies
    (two: duplicated), each after its random delay (0..max_delay_seconds) plus `extra_delay`."""

    event_type: str
    payment_id: str
    dropped: bool
    event_id: str | None = None  # None when dropped
    delays: tuple[int, ...] = ()
    extra_delay: int = 0


class PaymentStore(Protocol):
    def put_new(self, payment: ProviderPayment) -> ProviderPayment:
        """Store unless present; return what is stored (the provider is idempotent per payment)."""

    def get(self, payment_id: str) -> ProviderPayment | None: ...

    def set_status(self, payment_id: str, status: str) -> None: ...


class WebhookOutbox(Protocol):
    def schedule(self, event: dict, delay_seconds: int) -> None: ...


def provider_ref_for(payment_id: str) -> str:
    return "pi_" + hashlib.sha256(payment_id.encode()).hexdigest()[:24]


class SandboxProvider:
    def __init__(self, store: PaymentStore, outbox: WebhookOutbox, plan: WebhookPlan,
                 rng: random.Random | None = None,
                 observer: Callable[[WebhookDecision], None] | None = None) -> None:
        self._store = store
        self._outbox = outbox
        self._plan = plan
        self._rng = rng or random.Random()
        self._observer = observer  # told every drop, duplicate and delay (the chaos run counts them)

    def authorize(self, payment_id: str, amount_cents: int, payment_method: str,
                  metadata: dict | None = None) -> dict:
        declined = payment_method in DECLINED_TOKENS
        stored = self._store.put_new(ProviderPayment(
            payment_id=payment_id, provider_ref=provider_ref_for(payment_id),
            status="failed" if declined else "authorized", amount_cents=amount_cents,
            reason="card_declined" if declined else None, metadata=metadata or None))
        if stored.status == "failed":
            self._announce("payment.failed", stored)
            return {"provider_ref": stored.provider_ref, "status": "failed", "reason": stored.reason}
        self._announce("payment.authorized", stored)
        return {"provider_ref": stored.provider_ref, "status": "pending"}

    def capture(self, payment_id: str) -> dict:
        stored = self._store.get(payment_id)
        if stored is None:
            return {"provider_ref": provider_ref_for(payment_id), "status": "failed", "reason": "not_authorized"}
        if stored.status == "failed":
            return {"provider_ref": stored.provider_ref, "status": "failed", "reason": stored.reason}
        if stored.status != "completed":
            self._store.set_status(payment_id, "completed")
            self._announce("payment.captured", stored)
            self._announce("payment.completed", stored, extra_delay=1)
        return {"provider_ref": stored.provider_ref, "status": "pending"}

    def status(self, payment_id: str) -> dict:
        stored = self._store.get(payment_id)
        if stored is None:
            return {"provider_ref": provider_ref_for(payment_id), "status": "pending"}
        return {"provider_ref": stored.provider_ref, "status": stored.status, "reason": stored.reason}

    def _announce(self, event_type: str, payment: ProviderPayment, extra_delay: int = 0) -> None:
        if not self._plan.autopilot:
            return
        if self._rng.random() < self._plan.drop_rate:
            self._observe(WebhookDecision(event_type, payment.payment_id, dropped=True))
            return
        event = {"id": f"evt_{uuid.uuid4().hex}", "type": event_type, "created": 0, "data": {
            "payment_id": payment.payment_id, "provider_ref": payment.provider_ref, "amount": payment.amount_cents,
            **({"reason": payment.reason} if payment.reason else {}),
            **({"metadata": payment.metadata} if payment.metadata else {})}}
        copies = 2 if self._rng.random() < self._plan.duplicate_rate else 1
        delays = []
        for _ in range(copies):
            delay = self._rng.randint(0, self._plan.max_delay_seconds) if self._plan.max_delay_seconds else 0
            self._outbox.schedule(event, min(900, delay + extra_delay))
            delays.append(delay)
        self._observe(WebhookDecision(event_type, payment.payment_id, dropped=False, event_id=event["id"],
                                      delays=tuple(delays), extra_delay=extra_delay))

    def _observe(self, decision: WebhookDecision) -> None:
        if self._observer is not None:
            self._observer(decision)
