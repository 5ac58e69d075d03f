"""Payments tests: in-memory fakes of the service's ports, and the payments functions wired to moto."""

from __future__ import annotations

import itertools
import json
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from types import ModuleType
from typing import Any, Callable

import pytest

from careforall.signatures import sign

from payments_service.logic import PaymentsService, SaveOutcome, payment_id_for
from payments_service.models import Payment, ProviderAnswer, StartPayment

PLEDGE_ID = "3d6a1f52-9c4e-5b7a-8e21-4f0c9b7d2a61"
CAMPAIGN_ID = "0b6f2f3e-8d1c-4c55-9a0e-6f2b8a7c9d10"


def start_for(pledge_id: str = PLEDGE_ID, payment_method: str = "pm_card_visa", **overrides: Any) -> StartPayment:
    """The workflow's input for a pledge, as the starter builds it from pledge.created."""
    values = {"payment_id": payment_id_for(pledge_id), "pledge_id": pledge_id, "campaign_id": CAMPAIGN_ID,
              "amount_cents": 2500, "currency": "USD", "payment_method": payment_method,
              "donor_email": "guest.donor@example.com", **overrides}
    return StartPayment.model_validate(values)


# ---------------------------------------------------------------------------------------- fakes
class FakePaymentRepository:
    """Payments in a dict, with DynamoPaymentRepository's semantics in one step.

    save(): DUPLICATE_EVENT when the event id was applied before (checked first, like the transaction's
    first item), STALE when the stored version is not the expected one, else SAVED (and the event id
    recorded). `before_save` runs once before the next save: a concurrent writer slipping in between
    the service's read and its write.
    """

    def __init__(self, log: list[str] | None = None) -> None:
        self.items: dict[str, Payment] = {}
        self.applied_events: set[str] = set()
        self.outcomes: list[SaveOutcome] = []
        self.saves: list[Payment] = []
        self.log = log if log is not None else []
        self.before_save: Callable[[], None] | None = None

    def create(self, payment: Payment) -> Payment:
        if payment.id not in self.items:
            self.items[payment.id] = payment.model_copy(deep=True)
        return self.items[payment.id].model_copy(deep=True)

    def get(self, payment_id: str) -> Payment | None:
        item = self.items.get(payment_id)
        return item.model_copy(deep=True) if item else None

    def save(self, payment: Payment, expected_version: int, event_id: str | None) -> SaveOutcome:
        hook, self.before_save = self.before_save, None
        if hook is not None:
            hook()
        stored = self.items.get(payment.id)
        if event_id is not None and event_id in self.applied_events:
            outcome = SaveOutcome.DUPLICATE_EVENT
        elif stored is None or stored.version != expected_version:
            outcome = SaveOutcome.STALE
        else:
            self.items[payment.id] = payment.model_copy(deep=True)
            if event_id is not None:
                self.applied_events.add(event_id)
            self.saves.append(payment.model_copy(deep=True))
            self.log.append(f"save:{payment.state.value}:token={payment.task_token}")
            outcome = SaveOutcome.SAVED
        self.outcomes.append(outcome)
        return outcome

    # test helpers
    def put(self, payment: Payment) -> Payment:
        self.items[payment.id] = payment.model_copy(deep=True)
        return payment

    def bump_version(self, payment_id: str, **changes: Any) -> None:
        """What another writer does: change the item and its version behind the service's back."""
        stored = self.items[payment_id]
        self.items[payment_id] = stored.model_copy(update={**changes, "version": stored.version + 1})


class FakeProvider:
    """Answers each operation with a scripted ProviderAnswer; records what it was asked, with the payment seen."""

    def __init__(self, log: list[str] | None = None) -> None:
        self.answers: dict[str, ProviderAnswer] = {
            "authorize": ProviderAnswer(provider_ref="pi_test_0001", status="pending"),
            "capture": ProviderAnswer(provider_ref="pi_test_0001", status="pending"),
            "status": ProviderAnswer(provider_ref="pi_test_0001", status="pending"),
        }
        self.calls: list[tuple[str, Payment]] = []
        self.log = log if log is not None else []

    def answer(self, operation: str, status: str, reason: str | None = None,
               provider_ref: str = "pi_test_0001") -> None:
        self.answers[operation] = ProviderAnswer(provider_ref=provider_ref, status=status, reason=reason)

    def _call(self, operation: str, payment: Payment) -> ProviderAnswer:
        self.calls.append((operation, payment.model_copy(deep=True)))
        self.log.append(f"provider:{operation}")
        return self.answers[operation]

    def authorize(self, payment: Payment) -> ProviderAnswer:
        return self._call("authorize", payment)

    def capture(self, payment: Payment) -> ProviderAnswer:
        return self._call("capture", payment)

    def status(self, payment: Payment) -> ProviderAnswer:
        return self._call("status", payment)


class FakeCallbacks:
    def __init__(self, log: list[str] | None = None) -> None:
        self.succeeded: list[tuple[str, dict]] = []
        self.failed: list[tuple[str, str, str]] = []
        self.log = log if log is not None else []

    def succeed(self, token: str, output: dict) -> None:
        self.succeeded.append((token, output))
        self.log.append(f"succeed:{token}")

    def fail(self, token: str, error: str, cause: str) -> None:
        self.failed.append((token, error, cause))
        self.log.append(f"fail:{token}")


@pytest.fixture(autouse=True)
def ticking_clock(monkeypatch):
    """Each timestamp of the payments logic is one second after the previous one."""
    from careforall.clock import iso

    start, ticks = datetime(2025, 4, 9, 12, 0, tzinfo=timezone.utc), itertools.count()
    monkeypatch.setattr("payments_service.logic.now_iso", lambda: iso(start + timedelta(seconds=next(ticks))))


@pytest.fixture
def log() -> list[str]:
    """One log shared by the fakes: the order in which the service touched them."""
    return []


@pytest.fixture
def repo(log) -> FakePaymentRepository:
    return FakePaymentRepository(log)


@pytest.fixture
def provider(log) -> FakeProvider:
    return FakeProvider(log)


@pytest.fixture
def callbacks(log) -> FakeCallbacks:
    return FakeCallbacks(log)


@pytest.fixture
def service(repo, provider, callbacks) -> PaymentsService:
    return PaymentsService(repo, provider, callbacks)


@pytest.fixture
def make_start():
    """start_for(pledge_id=PLEDGE_ID, payment_method="pm_card_visa", **overrides) -> StartPayment."""
    return start_for


@pytest.fixture
def payment(service) -> Payment:
    """A new PENDING payment for PLEDGE_ID."""
    return service.create(start_for())


# ---------------------------------------------------------------------------------------- moto stack
@dataclass
class PaymentsStack:
    """The moto stack plus the payments functions (API, tasks, starter, projector)."""

    stack: Any
    handler: ModuleType
    tasks: ModuleType
    starter: ModuleType
    projector: ModuleType
    webhook_secret: str

    @property
    def table(self) -> str:
        return self.stack.tables["PaymentsTable"]

    def repository(self):
        from payments_service.dal import DynamoPaymentRepository

        return DynamoPaymentRepository(self.table, client=self.stack.dynamodb)

    def create_payment(self, pledge_id: str = PLEDGE_ID, **overrides: Any) -> Payment:
        """A payment created through the tasks function's "create" step, as the workflow does."""
        result = self.task({"action": "create", "input": start_for(pledge_id, **overrides).model_dump(mode="json")})
        return self.repository().get(result["payment_id"])

    def task(self, event: dict[str, Any]) -> dict[str, Any]:
        return self.tasks.lambda_handler(event, self.stack.context)

    def api(self, event: dict[str, Any]):
        return self.stack.call(self.handler, event)

    def webhook_event(self, body: dict[str, Any] | None = None, *, raw_body: str | None = None,
                      signature: str | None = "sign", timestamp: int | None = None,
                      secret: str | None = None) -> dict[str, Any]:
        """A POST /webhooks/payments event; signed with the stack's secret unless `signature` says otherwise."""
        raw = raw_body if raw_body is not None else json.dumps(body, separators=(",", ":"))
        event = self.stack.event("payments_webhook", raw_body=raw)
        if signature == "sign":
            signature = sign(secret or self.webhook_secret, raw.encode(), timestamp=timestamp)
        if signature is None:
            event["headers"].pop("CareForAll-Signature", None)
            event["multiValueHeaders"].pop("CareForAll-Signature", None)
        else:
            event["headers"]["CareForAll-Signature"] = signature
            event["multiValueHeaders"]["CareForAll-Signature"] = [signature]
        return event

    def webhook(self, body: dict[str, Any] | None = None, **kwargs: Any):
        return self.api(self.webhook_event(body, **kwargs))

    @staticmethod
    def webhook_body(payment_id: str, event_type: str = "payment.authorized", event_id: str | None = None,
                     **data: Any) -> dict[str, Any]:
        """A provider event as the contract defines it (a fresh evt_ id unless given)."""
        return {"id": event_id or f"evt_{uuid.uuid4().hex}", "type": event_type, "created": 1744202096,
                "data": {"payment_id": payment_id, "provider_ref": "pi_4dc837b7792daa5a3878273b", "amount": 2500,
                         **data}}


@pytest.fixture
def payments_stack(stack, function_modules) -> PaymentsStack:
    """`stack` plus the payments functions, their settings read from this test's environment."""
    return PaymentsStack(stack=stack, handler=function_modules("payments_service.handler"),
                         tasks=function_modules("payments_service.tasks"),
                         starter=function_modules("payments_service.starter"),
                         projector=function_modules("payments_service.projector"),
                         webhook_secret=stack.webhook_secret)
