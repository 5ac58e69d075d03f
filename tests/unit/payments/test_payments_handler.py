"""The payments API function end to end over moto: the provider's signed webhook and the admin payment view."""

from __future__ import annotations

import base64
import time

import pytest

from careforall.signatures import sign

ADMIN = {"user_id": "1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d", "email": "admin@careforall.local", "role": "ADMIN"}
DONOR = {"user_id": "8b9a7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d", "email": "donor@example.com", "role": "DONOR"}


@pytest.fixture
def ps(payments_stack):
    return payments_stack


@pytest.fixture
def payment(ps):
    return ps.create_payment()


class RecordingCallbacks:
    def __init__(self) -> None:
        self.succeeded: list[tuple[str, dict]] = []
        self.failed: list[tuple[str, str, str]] = []

    def succeed(self, token: str, output: dict) -> None:
        self.succeeded.append((token, output))

    def fail(self, token: str, error: str, cause: str) -> None:
        self.failed.append((token, error, cause))


def _get(ps, payment_id, caller=ADMIN):
    return ps.api(ps.stack.event("payments_get", path=f"/payments/{payment_id}", path_params={"id": payment_id},
                                 caller=caller))


# ------------------------------------------------------------------------------------------ webhook: accepted
def test_webhook_signed_forward_event_is_applied(ps, payment):
    result = ps.webhook(ps.webhook_body(payment.id, "payment.authorized"))

    assert result.status == 200, result.raw_body
    assert result.json == {"received": True, "applied": True}
    assert result.header("Content-Type") == "application/json"
    assert ps.repository().get(payment.id).state.value == "AUTHORIZED"


def test_webhook_applied_event_records_history_and_provider_ref(ps, payment):
    body = ps.webhook_body(payment.id, "payment.captured", event_id="evt_captured_1")

    ps.webhook(body)

    stored = ps.repository().get(payment.id)
    assert stored.provider_ref == "pi_4dc837b7792daa5a3878273b"
    assert [(t.from_.value, t.to.value, t.event_id) for t in stored.history] == [
        ("PENDING", "CAPTURED", "evt_captured_1")]


def test_webhook_same_event_again_is_received_but_not_applied(ps, payment):
    body = ps.webhook_body(payment.id, "payment.authorized")
    ps.webhook(body)

    result = ps.webhook(body)

    assert result.status == 200
    assert result.json == {"received": True, "applied": False}
    assert len(ps.repository().get(payment.id).history) == 1


def test_webhook_stale_event_is_received_but_not_applied(ps, payment):
    ps.webhook(ps.webhook_body(payment.id, "payment.completed"))

    result = ps.webhook(ps.webhook_body(payment.id, "payment.authorized"))

    assert (result.status, result.json) == (200, {"received": True, "applied": False})
    assert ps.repository().get(payment.id).state.value == "COMPLETED"


def test_webhook_failed_event_stores_reason(ps, payment):
    ps.webhook(ps.webhook_body(payment.id, "payment.failed", reason="card_declined"))

    stored = ps.repository().get(payment.id)
    assert (stored.state.value, stored.failure_reason) == ("FAILED", "card_declined")


def test_webhook_lowercase_signature_header_is_accepted(ps, payment):
    event = ps.webhook_event(ps.webhook_body(payment.id))
    value = event["headers"].pop("CareForAll-Signature")
    event["multiValueHeaders"].pop("CareForAll-Signature")
    event["headers"]["careforall-signature"] = value
    event["multiValueHeaders"]["careforall-signature"] = [value]

    assert ps.api(event).status == 200


def test_webhook_base64_encoded_body_is_verified_on_its_raw_bytes(ps, payment):
    event = ps.webhook_event(ps.webhook_body(payment.id))
    event["body"] = base64.b64encode(event["body"].encode()).decode()
    event["isBase64Encoded"] = True

    result = ps.api(event)

    assert (result.status, result.json["applied"]) == (200, True)


def test_webhook_timestamp_299_seconds_old_is_accepted(ps, payment):
    result = ps.webhook(ps.webhook_body(payment.id), timestamp=int(time.time()) - 299)

    assert result.status == 200


def test_webhook_reaching_awaited_state_resumes_the_workflow(ps, payment, monkeypatch):
    callbacks = RecordingCallbacks()
    monkeypatch.setattr(ps.handler, "StepFunctionsCallbacks", lambda: callbacks)
    ps.task({"action": "await_completion", "payment_id": payment.id, "task_token": "token-await"})

    ps.webhook(ps.webhook_body(payment.id, "payment.completed"))

    assert callbacks.succeeded == [("token-await", {"state": "COMPLETED"})]
    assert ps.repository().get(payment.id).task_token is None


def test_webhook_resume_of_expired_token_still_answers_200(ps, payment, monkeypatch):
    """Step Functions refuses a token that timed out; the webhook was applied all the same."""
    from botocore.exceptions import ClientError

    class ExpiredTokens:
        def send_task_success(self, **kwargs):
            raise ClientError({"Error": {"Code": "TaskTimedOut", "Message": "expired"}}, "SendTaskSuccess")

    from payments_service.dal import StepFunctionsCallbacks

    monkeypatch.setattr(ps.handler, "StepFunctionsCallbacks", lambda: StepFunctionsCallbacks(ExpiredTokens()))
    ps.task({"action": "await_completion", "payment_id": payment.id, "task_token": "token-expired"})

    result = ps.webhook(ps.webhook_body(payment.id, "payment.completed"))

    assert (result.status, result.json) == (200, {"received": True, "applied": True})


# ------------------------------------------------------------------------------------------ webhook: 401
def test_webhook_bad_signature_is_401_problem(ps, payment):
    result = ps.webhook(ps.webhook_body(payment.id), secret="not-the-webhook-secret")

    result.problem(401, "invalid-signature")
    assert ps.repository().get(payment.id).state.value == "PENDING"


def test_webhook_missing_signature_header_is_401_problem(ps, payment):
    result = ps.webhook(ps.webhook_body(payment.id), signature=None)

    result.problem(401, "invalid-signature")


def test_webhook_malformed_signature_header_is_401_problem(ps, payment):
    result = ps.webhook(ps.webhook_body(payment.id), signature="v1=deadbeef")

    result.problem(401, "invalid-signature")


def test_webhook_timestamp_301_seconds_old_is_401_problem(ps, payment):
    result = ps.webhook(ps.webhook_body(payment.id), timestamp=int(time.time()) - 301)

    result.problem(401, "invalid-signature")


def test_webhook_body_changed_after_signing_is_401_problem(ps, payment):
    event = ps.webhook_event(ps.webhook_body(payment.id, "payment.authorized"))
    event["body"] = event["body"].replace("payment.authorized", "payment.completed")

    ps.api(event).problem(401, "invalid-signature")
    assert ps.repository().get(payment.id).state.value == "PENDING"


def test_webhook_non_ascii_signature_is_401_problem(ps, payment):
    result = ps.webhook(ps.webhook_body(payment.id), signature=f"t={int(time.time())},v1=\u00e9\u00e9")

    result.problem(401, "invalid-signature")


def test_webhook_bad_signature_is_checked_before_the_body(ps):
    result = ps.webhook(raw_body="{not json", signature="t=1,v1=00")

    result.problem(401, "invalid-signature")


def test_webhook_unsigned_json_array_is_401_problem(ps):
    result = ps.webhook(raw_body='[{"id": "evt_1"}]', signature="t=1,v1=00")

    result.problem(401, "invalid-signature")


# ------------------------------------------------------------------------------------------ webhook: 400, 404
def test_webhook_signed_json_array_is_400_problem(ps):
    result = ps.webhook(raw_body='[{"id": "evt_1", "type": "payment.authorized"}]')

    result.problem(400)


def test_webhook_malformed_json_is_400_problem(ps):
    result = ps.webhook(raw_body='{"id": "evt_1", "type": ')

    body = result.problem(400)
    assert body["errors"]


@pytest.mark.parametrize("missing", ["id", "type", "created", "data"])
def test_webhook_missing_field_is_400_problem(ps, payment, missing):
    body = ps.webhook_body(payment.id)
    del body[missing]

    problem = ps.webhook(body).problem(400)
    assert any(error["loc"][0] == missing for error in problem["errors"])


def test_webhook_missing_payment_id_is_400_problem(ps):
    body = ps.webhook_body("x")
    del body["data"]["payment_id"]

    ps.webhook(body).problem(400)


def test_webhook_unknown_type_is_400_problem(ps, payment):
    result = ps.webhook(ps.webhook_body(payment.id, "payment.refunded"))

    result.problem(400)
    assert ps.repository().get(payment.id).state.value == "PENDING"


def test_webhook_event_id_without_evt_prefix_is_400_problem(ps, payment):
    result = ps.webhook(ps.webhook_body(payment.id, event_id="not-an-event-id"))

    result.problem(400)


def test_webhook_unknown_payment_id_is_404_problem(ps):
    result = ps.webhook(ps.webhook_body("00000000-0000-4000-8000-000000000000"))

    result.problem(404, "not-found")


# ------------------------------------------------------------------------------------------ GET /payments/{id}
def test_get_payment_as_admin_returns_payment_with_history(ps, payment):
    ps.webhook(ps.webhook_body(payment.id, "payment.authorized", event_id="evt_auth_1"))
    ps.webhook(ps.webhook_body(payment.id, "payment.completed", event_id="evt_done_1"))

    result = _get(ps, payment.id)

    assert result.status == 200, result.raw_body
    body = result.json
    assert (body["id"], body["pledge_id"], body["state"], body["amount"], body["currency"]) == (
        payment.id, payment.pledge_id, "COMPLETED", "25.00", "USD")
    assert [(h["from"], h["to"], h["event_id"]) for h in body["history"]] == [
        ("PENDING", "AUTHORIZED", "evt_auth_1"), ("AUTHORIZED", "COMPLETED", "evt_done_1")]
    assert all(set(h) == {"from", "to", "at", "event_id"} and h["at"].endswith("Z") for h in body["history"])


def test_get_payment_hides_workflow_internals(ps, payment):
    ps.task({"action": "await_completion", "payment_id": payment.id, "task_token": "secret-token"})

    body = _get(ps, payment.id).json

    assert "task_token" not in body and "version" not in body and "waiting_for" not in body


def test_get_payment_as_donor_is_403_problem(ps, payment):
    _get(ps, payment.id, caller=DONOR).problem(403)


def test_get_payment_unknown_id_is_404_problem(ps):
    _get(ps, "00000000-0000-4000-8000-000000000000").problem(404, "not-found")


def test_get_payment_echoes_correlation_id(ps, payment):
    event = ps.stack.event("payments_get", path=f"/payments/{payment.id}", path_params={"id": payment.id},
                           caller=ADMIN, headers={"X-Correlation-Id": "ops-check-42"})

    assert ps.api(event).header("X-Correlation-Id") == "ops-check-42"


def test_webhook_signed_with_sign_helper_matches_sandbox_sender_format(ps, payment):
    """The header the sandbox sender builds (signatures.sign over the exact bytes sent) is accepted."""
    raw = '{"id":"evt_abc","type":"payment.authorized","created":1,"data":{"payment_id":"%s"}}' % payment.id

    result = ps.webhook(raw_body=raw, signature=sign(ps.webhook_secret, raw.encode()))

    assert result.status == 200
