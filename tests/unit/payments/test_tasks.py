"""The payment workflow's task function over moto, one action per step of payment.asl.json."""

from __future__ import annotations

import pytest

from payments_service.models import ProviderAnswer


class ScriptedProvider:
    """The provider port with scripted answers (the sandbox function is not invoked)."""

    def __init__(self) -> None:
        self.answers = {op: ProviderAnswer(provider_ref="pi_scripted", status="pending")
                        for op in ("authorize", "capture", "status")}
        self.calls: list[tuple[str, str | None]] = []

    def answer(self, operation: str, status: str, reason: str | None = None) -> None:
        self.answers[operation] = ProviderAnswer(provider_ref="pi_scripted", status=status, reason=reason)

    def _call(self, operation, payment):
        self.calls.append((operation, payment.task_token))
        return self.answers[operation]

    def authorize(self, payment):
        return self._call("authorize", payment)

    def capture(self, payment):
        return self._call("capture", payment)

    def status(self, payment):
        return self._call("status", payment)


class RecordingCallbacks:
    def __init__(self) -> None:
        self.succeeded: list[tuple[str, dict]] = []
        self.failed: list[tuple[str, str, str]] = []

    def succeed(self, token, output):
        self.succeeded.append((token, output))

    def fail(self, token, error, cause):
        self.failed.append((token, error, cause))


@pytest.fixture
def provider_names() -> list[str]:
    return []


@pytest.fixture
def provider(payments_stack, monkeypatch, provider_names) -> ScriptedProvider:
    fake = ScriptedProvider()

    def make(function_name):
        provider_names.append(function_name)
        return fake

    monkeypatch.setattr(payments_stack.tasks, "LambdaPaymentProvider", make)
    return fake


@pytest.fixture
def callbacks(payments_stack, monkeypatch) -> RecordingCallbacks:
    recording = RecordingCallbacks()
    monkeypatch.setattr(payments_stack.tasks, "StepFunctionsCallbacks", lambda: recording)
    return recording


@pytest.fixture
def ps(payments_stack, provider, callbacks):
    return payments_stack


def _create_event(make_start, **overrides) -> dict:
    # The state machine passes its whole input, reconciliation counter included.
    return {"action": "create", "input": {**make_start(**overrides).model_dump(mode="json"),
                                          "reconciliations": {"n": 0}}}


# ------------------------------------------------------------------------------------------ create
def test_create_stores_pending_payment_and_returns_its_state(ps, make_start):
    result = ps.task(_create_event(make_start))

    assert result == {"state": "PENDING", "payment_id": make_start().payment_id}
    assert ps.repository().get(make_start().payment_id).amount_cents == 2500


def test_create_twice_is_idempotent(ps, make_start):
    ps.task(_create_event(make_start))

    again = ps.task(_create_event(make_start))

    assert again == {"state": "PENDING", "payment_id": make_start().payment_id}
    assert ps.stack.item_count("PaymentsTable") == 1


def test_create_after_payment_moved_returns_current_state(ps, make_start):
    payment_id = ps.task(_create_event(make_start))["payment_id"]
    ps.webhook(ps.webhook_body(payment_id, "payment.captured"))

    assert ps.task(_create_event(make_start))["state"] == "CAPTURED"


# ------------------------------------------------------------------------------------------ waiting steps
def test_authorize_parks_token_and_asks_provider(ps, provider, callbacks):
    payment = ps.create_payment()

    result = ps.task({"action": "authorize", "payment_id": payment.id, "task_token": "tok-auth"})

    assert result == {"parked": True}
    assert provider.calls == [("authorize", "tok-auth")]
    stored = ps.repository().get(payment.id)
    assert (stored.task_token, stored.waiting_for.value, stored.provider_ref) == ("tok-auth", "AUTHORIZED",
                                                                                "pi_scripted")
    assert (callbacks.succeeded, callbacks.failed) == ([], [])


def test_authorize_uses_provider_function_from_template(ps, provider_names):
    payment = ps.create_payment()

    ps.task({"action": "authorize", "payment_id": payment.id, "task_token": "tok-auth"})

    assert provider_names == [ps.stack.environment["PROVIDER_FUNCTION_NAME"]]


def test_authorize_declined_fails_payment_and_task_token(ps, provider, callbacks):
    payment = ps.create_payment(payment_method="pm_card_chargeDeclined")
    provider.answer("authorize", "failed", reason="card_declined")

    ps.task({"action": "authorize", "payment_id": payment.id, "task_token": "tok-auth"})

    assert ps.repository().get(payment.id).state.value == "FAILED"
    assert callbacks.failed == [("tok-auth", "PaymentFailed", "card_declined")]


def test_capture_of_captured_payment_resumes_at_once_without_provider(ps, provider, callbacks):
    payment = ps.create_payment()
    ps.webhook(ps.webhook_body(payment.id, "payment.captured"))

    ps.task({"action": "capture", "payment_id": payment.id, "task_token": "tok-cap"})

    assert provider.calls == []
    assert callbacks.succeeded == [("tok-cap", {"state": "CAPTURED"})]


def test_await_completion_parks_token_without_provider(ps, provider):
    payment = ps.create_payment()

    assert ps.task({"action": "await_completion", "payment_id": payment.id, "task_token": "tok-done"}) == {
        "parked": True}
    assert provider.calls == []
    assert ps.repository().get(payment.id).waiting_for.value == "COMPLETED"


# ------------------------------------------------------------------------------------------ reconcile, fail
@pytest.mark.parametrize(("status", "state"), [("pending", "PENDING"), ("authorized", "AUTHORIZED"),
                                               ("completed", "COMPLETED"), ("failed", "FAILED")])
def test_reconcile_returns_state_the_provider_reports(ps, provider, status, state):
    payment = ps.create_payment()
    provider.answer("status", status, reason="card_declined" if status == "failed" else None)

    assert ps.task({"action": "reconcile", "payment_id": payment.id}) == {"state": state}
    assert ps.repository().get(payment.id).state.value == state


def test_reconcile_resumes_token_waiting_for_reached_state(ps, provider, callbacks):
    payment = ps.create_payment()
    ps.task({"action": "await_completion", "payment_id": payment.id, "task_token": "tok-done"})
    provider.answer("status", "completed")

    ps.task({"action": "reconcile", "payment_id": payment.id})

    assert callbacks.succeeded == [("tok-done", {"state": "COMPLETED"})]


def test_fail_moves_payment_to_failed_with_reason(ps):
    payment = ps.create_payment()

    result = ps.task({"action": "fail", "payment_id": payment.id,
                      "reason": "the provider did not confirm the payment in time"})

    assert result == {"state": "FAILED"}
    assert ps.repository().get(payment.id).failure_reason == "the provider did not confirm the payment in time"


def test_fail_without_reason_uses_default_reason(ps):
    payment = ps.create_payment()

    ps.task({"action": "fail", "payment_id": payment.id})

    assert ps.repository().get(payment.id).failure_reason == "the workflow gave up"


def test_fail_completed_payment_returns_completed(ps):
    payment = ps.create_payment()
    ps.webhook(ps.webhook_body(payment.id, "payment.completed"))

    assert ps.task({"action": "fail", "payment_id": payment.id, "reason": "late"}) == {"state": "COMPLETED"}


def test_unknown_action_raises_value_error(ps):
    with pytest.raises(ValueError, match="unknown payment step"):
        ps.task({"action": "refund", "payment_id": "x"})


def test_sample_events_drive_a_payment_through_every_step(ps, provider, callbacks):
    """events/payment_task_*.json are what the state machine sends (for `sam local invoke -e`)."""
    created = ps.task(ps.stack.event("payment_task_create"))
    provider.answer("status", "authorized")

    assert created["state"] == "PENDING"
    assert ps.task(ps.stack.event("payment_task_authorize")) == {"parked": True}
    assert ps.task(ps.stack.event("payment_task_reconcile")) == {"state": "AUTHORIZED"}
    assert ps.task(ps.stack.event("payment_task_capture")) == {"parked": True}
    assert ps.task(ps.stack.event("payment_task_await_completion")) == {"parked": True}
    assert ps.task(ps.stack.event("payment_task_fail")) == {"state": "FAILED"}
    assert [op for op, _ in provider.calls] == ["authorize", "status", "capture"]
