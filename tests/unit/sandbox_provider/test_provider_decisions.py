"""SandboxProvider tells an observer what autopilot did with each webhook (the chaos run counts drops, duplicates
and delays from the sandbox's "webhook planned" log lines)."""

from __future__ import annotations

import random

from sandbox_provider.provider import SandboxProvider, WebhookDecision, WebhookPlan

PAYMENT_ID = "f65e148b-c678-52c8-8ce8-c4c27206a298"


def _provider(store, outbox, decisions: list, **plan) -> SandboxProvider:
    return SandboxProvider(store, outbox, WebhookPlan(**plan), rng=random.Random(7), observer=decisions.append)


def test_announce_with_drop_rate_one_tells_observer_dropped(store, outbox):
    decisions: list[WebhookDecision] = []
    provider = _provider(store, outbox, decisions, drop_rate=1.0)

    provider.authorize(PAYMENT_ID, 2500, "pm_card_visa")

    assert decisions == [WebhookDecision("payment.authorized", PAYMENT_ID, dropped=True)]
    assert outbox.scheduled == []


def test_announce_with_duplicate_rate_one_tells_observer_both_copies_and_delays(store, outbox):
    decisions: list[WebhookDecision] = []
    provider = _provider(store, outbox, decisions, duplicate_rate=1.0, max_delay_seconds=5)

    provider.authorize(PAYMENT_ID, 2500, "pm_card_visa")

    (decision,) = decisions
    assert (decision.dropped, decision.event_id, len(decision.delays)) == (False, outbox.scheduled[0].event["id"], 2)
    assert list(decision.delays) == [s.delay_seconds for s in outbox.scheduled]


def test_capture_tells_observer_completed_extra_delay(store, outbox):
    decisions: list[WebhookDecision] = []
    provider = _provider(store, outbox, decisions, max_delay_seconds=0)
    provider.authorize(PAYMENT_ID, 2500, "pm_card_visa")

    provider.capture(PAYMENT_ID)

    assert [(d.event_type, d.delays, d.extra_delay) for d in decisions] == [
        ("payment.authorized", (0,), 0), ("payment.captured", (0,), 0), ("payment.completed", (0,), 1)]


def test_announce_without_observer_schedules_as_before(store, outbox):
    provider = SandboxProvider(store, outbox, WebhookPlan(max_delay_seconds=0), rng=random.Random(7))

    provider.authorize(PAYMENT_ID, 2500, "pm_card_visa")

    assert [s.event["type"] for s in outbox.scheduled] == ["payment.authorized"]


def test_autopilot_off_tells_observer_nothing(store, outbox):
    decisions: list[WebhookDecision] = []
    provider = _provider(store, outbox, decisions, autopilot=False)

    provider.authorize(PAYMENT_ID, 2500, "pm_card_visa")

    assert decisions == []
