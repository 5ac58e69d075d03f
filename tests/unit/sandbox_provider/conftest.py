"""Sandbox provider tests: in-memory fakes of its store and webhook outbox, and a seeded random source."""

from __future__ import annotations

import copy
import random
from dataclasses import dataclass

import pytest

from sandbox_provider.provider import ProviderPayment, SandboxProvider, WebhookPlan


class FakePaymentStore:
    """The provider's records in a dict; put_new keeps the first record, like the conditional put."""

    def __init__(self) -> None:
        self.items: dict[str, ProviderPayment] = {}

    def put_new(self, payment: ProviderPayment) -> ProviderPayment:
        self.items.setdefault(payment.payment_id, copy.copy(payment))
        return copy.copy(self.items[payment.payment_id])

    def get(self, payment_id: str) -> ProviderPayment | None:
        item = self.items.get(payment_id)
        return copy.copy(item) if item else None

    def set_status(self, payment_id: str, status: str) -> None:
        self.items[payment_id].status = status


@dataclass(frozen=True)
class Scheduled:
    event: dict
    delay_seconds: int


class FakeOutbox:
    def __init__(self) -> None:
        self.scheduled: list[Scheduled] = []

    def schedule(self, event: dict, delay_seconds: int) -> None:
        self.scheduled.append(Scheduled(copy.deepcopy(event), delay_seconds))

    @property
    def types(self) -> list[str]:
        return [s.event["type"] for s in self.scheduled]


@pytest.fixture
def store() -> FakePaymentStore:
    return FakePaymentStore()


@pytest.fixture
def outbox() -> FakeOutbox:
    return FakeOutbox()


@pytest.fixture
def make_provider(store, outbox):
    """SandboxProvider over the fakes with a seeded random source; plan options as keywords."""

    def make(seed: int = 7, **plan) -> SandboxProvider:
        return SandboxProvider(store, outbox, WebhookPlan(**plan), rng=random.Random(seed))

    return make


@pytest.fixture
def provider(make_provider) -> SandboxProvider:
    """Autopilot on, nothing dropped or duplicated, no random delay."""
    return make_provider(max_delay_seconds=0)


# ---------------------------------------------------------------------------------------- the functions over moto
@pytest.fixture
def sb(stack, function_modules, monkeypatch):
    """The sandbox handler module; its webhooks are scheduled without random delay (moto honours DelaySeconds)."""
    monkeypatch.setenv("WEBHOOK_MAX_DELAY_SECONDS", "0")
    return function_modules("sandbox_provider.handler")

