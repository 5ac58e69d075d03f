"""Issue 7 in the sandbox provider: the merchant's metadata (the donation's correlation id) is kept with the
payment, echoed in every webhook, and sent by the webhook sender as X-Correlation-Id."""

from __future__ import annotations

import copy
import json

import pytest

from tests.unit.layer.observability_support import observed  # noqa: F401 - a fixture
from tests.unit.sandbox_provider.sandbox_support import call_provider, queued_webhooks

PAYMENT_ID = "f65e148b-c678-52c8-8ce8-c4c27206a298"
METADATA = {"correlation_id": "checkout-42"}


# ---------------------------------------------------------------------------------------- SandboxProvider
def test_authorize_with_metadata_stores_it_with_the_payment(provider, store):
    provider.authorize(PAYMENT_ID, 2500, "pm_card_visa", metadata=METADATA)

    assert store.items[PAYMENT_ID].metadata == METADATA


def test_authorize_with_metadata_announces_authorized_with_it(provider, outbox):
    provider.authorize(PAYMENT_ID, 2500, "pm_card_visa", metadata=METADATA)

    (scheduled,) = outbox.scheduled
    assert scheduled.event["type"] == "payment.authorized"
    assert scheduled.event["data"]["metadata"]["correlation_id"] == "checkout-42"


def test_authorize_declined_with_metadata_announces_failed_with_it(provider, outbox):
    provider.authorize(PAYMENT_ID, 2500, "pm_card_chargeDeclined", metadata=METADATA)

    (scheduled,) = outbox.scheduled
    assert (scheduled.event["type"], scheduled.event["data"]["metadata"]) == ("payment.failed", METADATA)


def test_capture_announces_captured_and_completed_with_authorize_metadata(provider, outbox):
    # GIVEN a payment authorized with the donation's metadata
    provider.authorize(PAYMENT_ID, 2500, "pm_card_visa", metadata=METADATA)

    # WHEN it is captured (capture itself carries no metadata)
    provider.capture(PAYMENT_ID)

    # THEN every webhook announced names the donation
    assert outbox.types == ["payment.authorized", "payment.captured", "payment.completed"]
    assert [s.event["data"]["metadata"]["correlation_id"] for s in outbox.scheduled] == ["checkout-42"] * 3


def test_duplicated_webhooks_each_carry_metadata(make_provider, outbox):
    provider = make_provider(max_delay_seconds=0, duplicate_rate=1.0)

    provider.authorize(PAYMENT_ID, 2500, "pm_card_visa", metadata=METADATA)
    provider.capture(PAYMENT_ID)

    assert len(outbox.scheduled) == 6
    assert all(s.event["data"]["metadata"] == METADATA for s in outbox.scheduled)


def test_authorize_again_with_other_metadata_keeps_the_first(provider, store, outbox):
    provider.authorize(PAYMENT_ID, 2500, "pm_card_visa", metadata=METADATA)

    provider.authorize(PAYMENT_ID, 2500, "pm_card_visa", metadata={"correlation_id": "retry-43"})

    assert store.items[PAYMENT_ID].metadata == METADATA
    assert [s.event["data"]["metadata"]["correlation_id"] for s in outbox.scheduled] == ["checkout-42"] * 2


@pytest.mark.parametrize("metadata", [None, {}])
def test_authorize_without_metadata_announces_webhook_without_metadata(provider, outbox, store, metadata):
    provider.authorize(PAYMENT_ID, 2500, "pm_card_visa", metadata=metadata)

    assert "metadata" not in outbox.scheduled[0].event["data"]
    assert store.items[PAYMENT_ID].metadata is None


# ---------------------------------------------------------------------------------------- provider function (moto)
def test_provider_function_authorize_queues_webhook_with_metadata(stack, sb):
    call_provider(stack, sb, metadata=METADATA)

    (event,) = queued_webhooks(stack)
    assert event["data"]["metadata"] == METADATA


def test_provider_function_capture_webhooks_carry_metadata_stored_at_authorize(stack, sb):
    # GIVEN a payment authorized with metadata (kept in the sandbox table)
    call_provider(stack, sb, metadata=METADATA)

    # WHEN the platform captures it without metadata
    call_provider(stack, sb, action="capture", metadata={})

    # THEN the webhooks of the capture still name the donation (payment.completed is delayed by a second in
    # the queue, so it is not read here; the fakes' test covers it)
    events = queued_webhooks(stack)
    assert sorted(e["type"] for e in events) == ["payment.authorized", "payment.captured"]
    assert all(e["data"]["metadata"] == METADATA for e in events)


def test_provider_function_log_line_carries_metadata_correlation_id(stack, sb, observed):
    call_provider(stack, sb, metadata=METADATA)

    (line,) = observed.logs("provider call")
    assert (line["correlation_id"], line["action"], line["payment_id"]) == ("checkout-42", "authorize", PAYMENT_ID)


# ---------------------------------------------------------------------------------------- webhook sender
class FakeResponse:
    status = 200

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        return None


@pytest.fixture
def posted(sb, monkeypatch) -> list:
    requests: list = []

    def urlopen(request, timeout):
        requests.append(request)
        return FakeResponse()

    monkeypatch.setattr(sb.urllib.request, "urlopen", urlopen)
    return requests


def _sqs_event(stack, webhook: dict | None = None) -> dict:
    event = stack.event("sandbox_webhook_sqs")
    if webhook is not None:
        event["Records"][0]["body"] = json.dumps(webhook)
    return event


def _webhook_with(metadata: dict | None) -> dict:
    webhook = {"id": "evt_4f9c2d7e1a6b48c3b2d5e8f0a1c3b5d7", "type": "payment.authorized", "created": 0,
               "data": {"payment_id": PAYMENT_ID, "provider_ref": "pi_4dc837b7792daa5a3878273b", "amount": 2500}}
    if metadata is not None:
        webhook["data"]["metadata"] = metadata
    return webhook


def test_sender_sends_x_correlation_id_from_webhook_metadata(stack, sb, posted):
    sb.sender_handler(_sqs_event(stack, _webhook_with(METADATA)), stack.context)

    (request,) = posted
    assert request.get_header("X-correlation-id") == "checkout-42"


def test_sender_body_still_carries_metadata(stack, sb, posted):
    sb.sender_handler(_sqs_event(stack, _webhook_with(METADATA)), stack.context)

    assert json.loads(posted[0].data)["data"]["metadata"] == METADATA


@pytest.mark.parametrize("metadata", [None, {}, {"other": "value"}])
def test_sender_without_correlation_id_sends_no_x_correlation_id(stack, sb, posted, metadata):
    sb.sender_handler(_sqs_event(stack, _webhook_with(metadata)), stack.context)

    assert not posted[0].has_header("X-correlation-id")


def test_sender_delivered_log_line_carries_correlation_id(stack, sb, posted, observed):
    sb.sender_handler(_sqs_event(stack, _webhook_with(METADATA)), stack.context)

    (line,) = observed.logs("webhook delivered")
    assert (line["correlation_id"], line["event_id"]) == ("checkout-42", "evt_4f9c2d7e1a6b48c3b2d5e8f0a1c3b5d7")


def test_sender_batch_names_each_record_own_correlation_id(stack, sb, posted):
    event = _sqs_event(stack, _webhook_with(METADATA))
    second = copy.deepcopy(event["Records"][0])
    second["messageId"] = "2d3e4f50-6172-4839-a4b5-c6d7e8f9a0b1"
    second["body"] = json.dumps({**_webhook_with({"correlation_id": "checkout-77"}), "id": "evt_second"})
    event["Records"].append(second)

    sb.sender_handler(event, stack.context)

    assert [r.get_header("X-correlation-id") for r in posted] == ["checkout-42", "checkout-77"]
