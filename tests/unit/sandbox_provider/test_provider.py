"""SandboxProvider with fakes: test card tokens, idempotent calls, and the webhooks it schedules on autopilot."""

from __future__ import annotations

import random

from sandbox_provider.provider import DECLINED_TOKENS, SandboxProvider, WebhookPlan, provider_ref_for

PAYMENT_ID = "f65e148b-c678-52c8-8ce8-c4c27206a298"
VISA, DECLINED = "pm_card_visa", "pm_card_chargeDeclined"


def _authorize(provider, payment_method=VISA, payment_id=PAYMENT_ID, amount_cents=2500) -> dict:
    return provider.authorize(payment_id, amount_cents, payment_method)


# ------------------------------------------------------------------------------------------ authorize
def test_authorize_good_card_answers_pending_with_provider_ref(provider):
    assert _authorize(provider) == {"provider_ref": provider_ref_for(PAYMENT_ID), "status": "pending"}


def test_authorize_good_card_stores_authorized_payment(provider, store):
    _authorize(provider)

    stored = store.items[PAYMENT_ID]
    assert (stored.status, stored.amount_cents, stored.reason) == ("authorized", 2500, None)


def test_authorize_good_card_schedules_payment_authorized_webhook(provider, outbox):
    _authorize(provider)

    (scheduled,) = outbox.scheduled
    assert scheduled.event["type"] == "payment.authorized"
    assert scheduled.event["id"].startswith("evt_")
    assert scheduled.event["data"] == {"payment_id": PAYMENT_ID, "provider_ref": provider_ref_for(PAYMENT_ID),
                                       "amount": 2500}
    assert scheduled.delay_seconds == 0


def test_authorize_declined_card_answers_failed_with_card_declined(provider):
    assert _authorize(provider, DECLINED) == {"provider_ref": provider_ref_for(PAYMENT_ID), "status": "failed",
                                              "reason": "card_declined"}


def test_authorize_declined_card_schedules_payment_failed_with_reason(provider, outbox, store):
    _authorize(provider, DECLINED)

    assert outbox.types == ["payment.failed"]
    assert outbox.scheduled[0].event["data"]["reason"] == "card_declined"
    assert store.items[PAYMENT_ID].status == "failed"


def test_declined_tokens_are_charge_declined_only():
    assert DECLINED_TOKENS == {DECLINED}


def test_authorize_twice_answers_the_same_and_stores_one_payment(provider, store):
    first = _authorize(provider)

    second = _authorize(provider, amount_cents=9999)

    assert first == second
    assert list(store.items) == [PAYMENT_ID]
    assert store.items[PAYMENT_ID].amount_cents == 2500


def test_authorize_declined_then_good_card_stays_declined(provider):
    _authorize(provider, DECLINED)

    assert _authorize(provider, VISA)["status"] == "failed"


def test_provider_ref_for_is_deterministic_per_payment():
    assert provider_ref_for(PAYMENT_ID) == provider_ref_for(PAYMENT_ID)
    assert provider_ref_for(PAYMENT_ID) != provider_ref_for("another-payment")
    assert provider_ref_for(PAYMENT_ID).startswith("pi_")


# ------------------------------------------------------------------------------------------ capture
def test_capture_authorized_payment_answers_pending(provider):
    _authorize(provider)

    assert provider.capture(PAYMENT_ID) == {"provider_ref": provider_ref_for(PAYMENT_ID), "status": "pending"}


def test_capture_authorized_payment_makes_status_completed(provider):
    _authorize(provider)

    provider.capture(PAYMENT_ID)

    assert provider.status(PAYMENT_ID)["status"] == "completed"


def test_capture_schedules_captured_then_completed(provider, outbox):
    _authorize(provider)
    outbox.scheduled.clear()

    provider.capture(PAYMENT_ID)

    assert outbox.types == ["payment.captured", "payment.completed"]


def test_capture_schedules_completed_delayed_more_than_captured(provider, outbox):
    _authorize(provider)
    outbox.scheduled.clear()

    provider.capture(PAYMENT_ID)

    captured, completed = outbox.scheduled
    assert completed.delay_seconds > captured.delay_seconds


def test_capture_webhooks_have_distinct_event_ids(provider, outbox):
    _authorize(provider)

    provider.capture(PAYMENT_ID)

    assert len({s.event["id"] for s in outbox.scheduled}) == 3


def test_capture_twice_schedules_webhooks_once(provider, outbox):
    _authorize(provider)
    provider.capture(PAYMENT_ID)
    outbox.scheduled.clear()

    provider.capture(PAYMENT_ID)

    assert outbox.scheduled == []


def test_capture_unauthorized_payment_answers_failed_not_authorized(provider, outbox):
    assert provider.capture(PAYMENT_ID) == {"provider_ref": provider_ref_for(PAYMENT_ID), "status": "failed",
                                            "reason": "not_authorized"}
    assert outbox.scheduled == []


def test_capture_declined_payment_answers_failed_card_declined(provider, outbox):
    _authorize(provider, DECLINED)
    outbox.scheduled.clear()

    assert provider.capture(PAYMENT_ID)["reason"] == "card_declined"
    assert outbox.scheduled == []


# ------------------------------------------------------------------------------------------ status
def test_status_of_unknown_payment_is_pending(provider):
    assert provider.status("never-seen") == {"provider_ref": provider_ref_for("never-seen"), "status": "pending"}


def test_status_of_authorized_payment_is_authorized(provider):
    _authorize(provider)

    assert provider.status(PAYMENT_ID) == {"provider_ref": provider_ref_for(PAYMENT_ID), "status": "authorized",
                                           "reason": None}


def test_status_of_declined_payment_is_failed_with_reason(provider):
    _authorize(provider, DECLINED)

    assert provider.status(PAYMENT_ID)["reason"] == "card_declined"


def test_status_never_schedules_webhooks(provider, outbox):
    _authorize(provider)
    outbox.scheduled.clear()

    provider.status(PAYMENT_ID)

    assert outbox.scheduled == []


# ------------------------------------------------------------------------------------------ webhook plan
def test_autopilot_off_schedules_nothing(make_provider, outbox):
    provider = make_provider(autopilot=False)

    _authorize(provider)
    provider.capture(PAYMENT_ID)
    _authorize(provider, DECLINED, payment_id="declined-payment")

    assert outbox.scheduled == []


def test_autopilot_off_still_answers_calls(make_provider):
    provider = make_provider(autopilot=False)

    assert _authorize(provider)["provider_ref"] == provider_ref_for(PAYMENT_ID)
    provider.capture(PAYMENT_ID)
    assert provider.status(PAYMENT_ID)["status"] == "completed"


def test_drop_rate_one_schedules_nothing(make_provider, outbox):
    provider = make_provider(drop_rate=1.0)

    _authorize(provider)
    provider.capture(PAYMENT_ID)

    assert outbox.scheduled == []


def test_duplicate_rate_one_schedules_each_event_twice_with_same_id(make_provider, outbox):
    provider = make_provider(duplicate_rate=1.0, max_delay_seconds=0)

    _authorize(provider)
    provider.capture(PAYMENT_ID)

    assert outbox.types == ["payment.authorized"] * 2 + ["payment.captured"] * 2 + ["payment.completed"] * 2
    ids = [s.event["id"] for s in outbox.scheduled]
    assert ids[0] == ids[1] and ids[2] == ids[3] and ids[4] == ids[5]
    assert len(set(ids)) == 3


def test_max_delay_bounds_each_random_delay(make_provider, outbox):
    provider = make_provider(seed=11, max_delay_seconds=5)

    for n in range(20):
        _authorize(provider, payment_id=f"payment-{n}")

    delays = [s.delay_seconds for s in outbox.scheduled]
    assert all(0 <= d <= 5 for d in delays)
    assert len(set(delays)) > 1


class LongestDelays(random.Random):
    """Every random delay at its maximum; nothing dropped or duplicated."""

    def randint(self, a: int, b: int) -> int:
        return b

    def random(self) -> float:
        return 0.5


def test_completed_delay_is_capped_at_sqs_maximum_of_900_seconds(store, outbox):
    provider = SandboxProvider(store, outbox, WebhookPlan(max_delay_seconds=900), rng=LongestDelays())
    _authorize(provider)

    provider.capture(PAYMENT_ID)

    assert [s.delay_seconds for s in outbox.scheduled] == [900, 900, 900]


def test_same_seed_gives_same_delays_and_duplicates(make_provider, store, outbox):
    def run() -> list[tuple[str, int]]:
        store.items.clear()
        outbox.scheduled.clear()
        provider = make_provider(seed=5, max_delay_seconds=10, duplicate_rate=0.5)
        for n in range(10):
            _authorize(provider, payment_id=f"payment-{n}")
        return [(s.event["data"]["payment_id"], s.delay_seconds) for s in outbox.scheduled]

    first = run()

    assert run() == first
    assert 10 < len(first) < 20  # some, not all, duplicated
