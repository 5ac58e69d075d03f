"""The sandbox provider's functions over moto: the provider API (Lambda Invoke payloads) and the webhook sender."""

from __future__ import annotations

import json
import time
import urllib.error

import pytest

from careforall import signatures
from careforall.signatures import SignatureError

from sandbox_provider.provider import provider_ref_for
from tests.unit.sandbox_provider.sandbox_support import call_provider, queued_webhooks

PAYMENT_ID = "f65e148b-c678-52c8-8ce8-c4c27206a298"


# ------------------------------------------------------------------------------------------ provider API
def test_provider_settings_come_from_template_with_autopilot_on(stack, sb):
    assert (sb.SETTINGS.table_name, sb.SETTINGS.autopilot, sb.SETTINGS.drop_rate) == (
        stack.tables["SandboxProviderTable"], True, 0.0)


def test_provider_authorize_sample_event_answers_pending(stack, sb):
    answer = sb.provider_handler(stack.event("sandbox_provider_authorize"), stack.context)

    assert answer == {"provider_ref": provider_ref_for(PAYMENT_ID), "status": "pending"}


def test_provider_authorize_stores_payment_in_sandbox_table(stack, sb):
    call_provider(stack, sb)

    item = stack.get_item("SandboxProviderTable", {"pk": f"PI#{PAYMENT_ID}"})
    assert (item["status"], item["amount_cents"], item["provider_ref"]) == (
        "authorized", 2500, provider_ref_for(PAYMENT_ID))


def test_provider_authorize_queues_authorized_webhook(stack, sb):
    call_provider(stack, sb)

    (event,) = queued_webhooks(stack)
    assert (event["type"], event["data"]["payment_id"]) == ("payment.authorized", PAYMENT_ID)


def test_provider_authorize_declined_card_answers_failed(stack, sb):
    answer = call_provider(stack, sb, payment_method="pm_card_chargeDeclined")

    assert (answer["status"], answer["reason"]) == ("failed", "card_declined")
    assert [e["type"] for e in queued_webhooks(stack)] == ["payment.failed"]


def test_provider_capture_then_status_is_completed(stack, sb):
    call_provider(stack, sb)

    assert call_provider(stack, sb, action="capture")["status"] == "pending"
    assert call_provider(stack, sb, action="status")["status"] == "completed"


def test_provider_status_of_unknown_payment_is_pending(stack, sb):
    assert call_provider(stack, sb, action="status", payment_id="never-seen")["status"] == "pending"


def test_provider_authorize_twice_stores_one_payment(stack, sb):
    call_provider(stack, sb)
    call_provider(stack, sb, amount_cents=9999)

    assert stack.item_count("SandboxProviderTable") == 1
    assert stack.get_item("SandboxProviderTable", {"pk": f"PI#{PAYMENT_ID}"})["amount_cents"] == 2500


def test_provider_unknown_action_raises_value_error(stack, sb):
    with pytest.raises(ValueError, match="unknown provider action"):
        call_provider(stack, sb, action="refund")


# ------------------------------------------------------------------------------------------ webhook sender
class FakeResponse:
    def __init__(self, status: int) -> None:
        self.status = status

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        return None


@pytest.fixture
def posted(sb, monkeypatch):
    """Requests the sender makes, answered with `posted.status` (an int, or an exception to raise)."""

    class Posted(list):
        status: int | Exception = 200

    requests = Posted()

    def urlopen(request, timeout):
        requests.append(request)
        if isinstance(requests.status, Exception):
            raise requests.status
        if requests.status >= 400:
            raise urllib.error.HTTPError(request.full_url, requests.status, "refused", {}, None)
        return FakeResponse(requests.status)

    monkeypatch.setattr(sb.urllib.request, "urlopen", urlopen)
    return requests


def _send(stack, sb) -> tuple[dict, dict]:
    event = stack.event("sandbox_webhook_sqs")
    return event, sb.sender_handler(event, stack.context)


def test_sender_posts_signed_webhook_to_webhook_url(stack, sb, posted):
    _, response = _send(stack, sb)

    assert response == {"batchItemFailures": []}
    (request,) = posted
    assert (request.full_url, request.get_method()) == (stack.environment["WEBHOOK_URL"], "POST")
    assert request.get_header("Content-type") == "application/json"
    signatures.verify(stack.webhook_secret, request.data, request.get_header("Careforall-signature"))


def test_sender_sets_created_to_send_time(stack, sb, posted):
    before = int(time.time())

    _send(stack, sb)

    body = json.loads(posted[0].data)
    assert before <= body["created"] <= int(time.time())
    assert body["id"] == "evt_4f9c2d7e1a6b48c3b2d5e8f0a1c3b5d7"


def test_sender_signature_does_not_verify_with_another_secret(stack, sb, posted):
    _send(stack, sb)

    with pytest.raises(SignatureError):
        signatures.verify("another-secret", posted[0].data, posted[0].get_header("Careforall-signature"))


@pytest.mark.parametrize("status", [500, 503, 404, 429])
def test_sender_retryable_answer_reports_message_failure(stack, sb, posted, status):
    from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError

    posted.status = status

    with pytest.raises(BatchProcessingError):  # the only record failed: the whole batch goes back to the queue
        _send(stack, sb)


def test_sender_unreachable_endpoint_reports_message_failure(stack, sb, posted):
    from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError

    posted.status = urllib.error.URLError("connection refused")

    with pytest.raises(BatchProcessingError):
        _send(stack, sb)


@pytest.mark.parametrize("status", [400, 401, 422])
def test_sender_refused_for_good_is_not_retried(stack, sb, posted, status):
    posted.status = status

    _, response = _send(stack, sb)

    assert response == {"batchItemFailures": []}


def test_sender_webhook_is_accepted_by_payments_function(stack, sb, posted, function_modules):
    """What the sandbox sends, the platform's webhook verifies with the same WebhookSigningSecret and applies."""
    from payments_service.dal import DynamoPaymentRepository
    from payments_service.logic import PaymentsService
    from payments_service.models import StartPayment

    payments = function_modules("payments_service.handler")
    repo = DynamoPaymentRepository(stack.tables["PaymentsTable"], client=stack.dynamodb)
    PaymentsService(repo).create(StartPayment(
        payment_id=PAYMENT_ID, pledge_id="3d6a1f52-9c4e-5b7a-8e21-4f0c9b7d2a61",
        campaign_id="0b6f2f3e-8d1c-4c55-9a0e-6f2b8a7c9d10", amount_cents=2500, currency="USD",
        payment_method="pm_card_visa"))
    _send(stack, sb)
    request = posted[0]
    event = stack.event("payments_webhook", raw_body=request.data.decode(),
                        headers={"CareForAll-Signature": request.get_header("Careforall-signature")})

    result = stack.call(payments, event)

    assert (result.status, result.json) == (200, {"received": True, "applied": True})
    assert repo.get(PAYMENT_ID).state.value == "AUTHORIZED"
