"""PaymentsService with in-memory fakes: forward-only transitions, exactly-once events, optimistic retries,
the workflow's task tokens, the provider's synchronous answers and reconciliation."""

from __future__ import annotations

import uuid

import pytest

from careforall.errors import NotFoundError

from payments_service.logic import (MAX_WRITE_ATTEMPTS, PAYMENT_ID_NAMESPACE, PaymentContention, PaymentsService,
                                    SaveOutcome, payment_id_for)
from payments_service.transitions import PaymentState

P, A, C, D, F = (PaymentState.PENDING, PaymentState.AUTHORIZED, PaymentState.CAPTURED, PaymentState.COMPLETED,
                 PaymentState.FAILED)
TOKEN = "task-token-1"


def _state(repo, payment) -> PaymentState:
    return repo.items[payment.id].state


def _history(repo, payment) -> list[dict]:
    return [t.model_dump(mode="json", by_alias=True) for t in repo.items[payment.id].history]


# ------------------------------------------------------------------------------------------ ids and create
def test_payment_id_for_same_pledge_is_same_id():
    assert payment_id_for("pledge-1") == payment_id_for("pledge-1")


def test_payment_id_for_different_pledges_is_different_ids():
    assert payment_id_for("pledge-1") != payment_id_for("pledge-2")


def test_payment_id_for_pledge_is_uuid5_in_payments_namespace():
    pledge_id = "3d6a1f52-9c4e-5b7a-8e21-4f0c9b7d2a61"

    assert payment_id_for(pledge_id) == str(uuid.uuid5(PAYMENT_ID_NAMESPACE, pledge_id))
    assert uuid.UUID(payment_id_for(pledge_id)).version == 5


def test_create_new_payment_is_pending_at_version_zero_without_history(service, make_start):
    payment = service.create(make_start())

    assert (payment.state, payment.version, payment.history) == (P, 0, [])
    assert (payment.amount_cents, payment.currency, payment.payment_method) == (2500, "USD", "pm_card_visa")


def test_create_twice_returns_the_first_payment_unchanged(service, repo, make_start, payment):
    service.apply(payment.id, A, event_id="evt_a")

    again = service.create(make_start())

    assert again.state is A
    assert len(repo.items) == 1


def test_get_unknown_payment_raises_not_found(service):
    with pytest.raises(NotFoundError):
        service.get("no-such-payment")


def test_apply_to_unknown_payment_raises_not_found(service):
    with pytest.raises(NotFoundError):
        service.apply("no-such-payment", A, event_id="evt_a")


# ------------------------------------------------------------------------------------------ apply
def test_apply_forward_move_changes_state_and_bumps_version(service, repo, payment):
    result = service.apply(payment.id, A, event_id="evt_a", provider_ref="pi_1")

    assert result.applied is True
    assert (result.payment.state, result.payment.version, result.payment.provider_ref) == (A, 1, "pi_1")
    assert repo.items[payment.id] == result.payment


def test_apply_forward_move_records_history_from_to_at_event_id(service, repo, payment):
    service.apply(payment.id, A, event_id="evt_a")
    service.apply(payment.id, C, event_id="evt_c")

    history = _history(repo, payment)
    assert [(h["from"], h["to"], h["event_id"]) for h in history] == [
        ("PENDING", "AUTHORIZED", "evt_a"), ("AUTHORIZED", "CAPTURED", "evt_c")]
    assert all(set(h) == {"from", "to", "at", "event_id"} for h in history)
    assert history[0]["at"] < history[1]["at"]
    assert repo.items[payment.id].updated_at == history[1]["at"]


def test_apply_redelivered_event_is_not_applied_and_changes_nothing(service, repo, payment):
    service.apply(payment.id, A, event_id="evt_a")
    before = repo.items[payment.id].model_copy(deep=True)

    result = service.apply(payment.id, A, event_id="evt_a")

    assert result.applied is False
    assert repo.items[payment.id] == before


def test_apply_event_id_already_applied_is_not_applied_even_if_forward(service, repo, payment):
    """The store's event-id check, not only the state check, keeps an event from applying twice."""
    service.apply(payment.id, A, event_id="evt_reused")
    before = repo.items[payment.id].model_copy(deep=True)

    result = service.apply(payment.id, C, event_id="evt_reused")

    assert result.applied is False
    assert repo.outcomes[-1] is SaveOutcome.DUPLICATE_EVENT
    assert repo.items[payment.id] == before


def test_apply_earlier_state_is_not_applied_and_changes_nothing(service, repo, payment):
    service.apply(payment.id, C, event_id="evt_c")
    before = repo.items[payment.id].model_copy(deep=True)

    result = service.apply(payment.id, A, event_id="evt_a")

    assert result.applied is False
    assert result.payment.state is C
    assert repo.items[payment.id] == before


def test_apply_same_state_with_new_event_id_is_not_applied(service, repo, payment):
    service.apply(payment.id, A, event_id="evt_a1")

    result = service.apply(payment.id, A, event_id="evt_a2")

    assert result.applied is False
    assert len(repo.items[payment.id].history) == 1


def test_apply_refused_event_is_not_recorded_as_applied(service, repo, payment):
    service.apply(payment.id, C, event_id="evt_c")

    service.apply(payment.id, A, event_id="evt_a")

    assert "evt_a" not in repo.applied_events


def test_apply_captured_before_authorized_moves_to_captured(service, repo, payment):
    result = service.apply(payment.id, C, event_id="evt_c")

    assert result.applied is True
    assert _history(repo, payment)[0]["from"] == "PENDING"
    assert _history(repo, payment)[0]["to"] == "CAPTURED"


def test_apply_authorized_after_captured_changes_nothing(service, repo, payment):
    service.apply(payment.id, C, event_id="evt_c")

    result = service.apply(payment.id, A, event_id="evt_a")

    assert result.applied is False
    assert _state(repo, payment) is C
    assert len(repo.items[payment.id].history) == 1


@pytest.mark.parametrize("target", [P, A, C, D, F])
def test_apply_to_completed_payment_never_moves_it(service, repo, payment, target):
    service.apply(payment.id, D, event_id="evt_d")

    result = service.apply(payment.id, target, event_id="evt_late")

    assert result.applied is False
    assert _state(repo, payment) is D


@pytest.mark.parametrize("target", [P, A, C, D])
def test_apply_to_failed_payment_never_moves_it(service, repo, payment, target):
    service.apply(payment.id, F, event_id="evt_f", reason="card_declined")

    result = service.apply(payment.id, target, event_id="evt_late")

    assert result.applied is False
    assert _state(repo, payment) is F


def test_apply_failed_to_captured_payment_moves_it_to_failed_with_reason(service, repo, payment):
    service.apply(payment.id, C, event_id="evt_c")

    result = service.apply(payment.id, F, event_id="evt_f", reason="insufficient_funds")

    assert result.applied is True
    assert (result.payment.state, result.payment.failure_reason) == (F, "insufficient_funds")
    assert _history(repo, payment)[-1]["from"] == "CAPTURED"


def test_apply_reason_on_non_failed_state_is_not_stored(service, payment):
    result = service.apply(payment.id, A, event_id="evt_a", reason="irrelevant")

    assert result.payment.failure_reason is None


def test_apply_without_provider_ref_keeps_the_known_one(service, payment):
    service.apply(payment.id, A, event_id="evt_a", provider_ref="pi_1")

    result = service.apply(payment.id, C, event_id="evt_c")

    assert result.payment.provider_ref == "pi_1"


# ------------------------------------------------------------------------------------------ concurrency
def test_apply_stale_save_is_retried_and_update_is_not_lost(service, repo, payment):
    """Another writer bumps the version between this apply's read and write: it reads again and wins."""
    repo.before_save = lambda: repo.bump_version(payment.id, provider_ref="pi_from_other_writer")

    result = service.apply(payment.id, A, event_id="evt_a")

    assert result.applied is True
    assert repo.outcomes == [SaveOutcome.STALE, SaveOutcome.SAVED]
    stored = repo.items[payment.id]
    assert (stored.state, stored.version, stored.provider_ref) == (A, 2, "pi_from_other_writer")


def test_apply_stale_save_is_re_decided_on_the_fresh_state(service, repo, payment):
    """The concurrent writer moved the payment further: this apply's stale decision is dropped, not forced."""

    def concurrent_capture():
        stored = repo.items[payment.id]
        repo.items[payment.id] = stored.model_copy(update={"state": C, "version": stored.version + 1})

    repo.before_save = concurrent_capture

    result = service.apply(payment.id, A, event_id="evt_a")

    assert result.applied is False
    assert _state(repo, payment) is C
    assert "evt_a" not in repo.applied_events


def test_apply_interleaved_appliers_both_land_in_order(service, repo, payment):
    """B (authorized) lands between A's (captured) read and write; A retries on top of B."""
    repo.before_save = lambda: service.apply(payment.id, A, event_id="evt_authorized")

    result = service.apply(payment.id, C, event_id="evt_captured")

    assert result.applied is True
    assert [(h["from"], h["to"], h["event_id"]) for h in _history(repo, payment)] == [
        ("PENDING", "AUTHORIZED", "evt_authorized"), ("AUTHORIZED", "CAPTURED", "evt_captured")]
    assert repo.items[payment.id].version == 2
    assert repo.applied_events == {"evt_authorized", "evt_captured"}


def test_apply_interleaved_duplicate_of_same_event_applies_once(service, repo, payment):
    """The same event delivered twice at once: the second writer's retry sees the event already applied."""
    repo.before_save = lambda: service.apply(payment.id, A, event_id="evt_a")

    result = service.apply(payment.id, A, event_id="evt_a")

    assert result.applied is False
    assert len(repo.items[payment.id].history) == 1


def test_apply_endless_contention_raises_payment_contention(service, repo, payment):
    class AlwaysStale:
        def __init__(self):
            self.saves = 0

        def get(self, payment_id):
            return repo.get(payment_id)

        def save(self, *args, **kwargs):
            self.saves += 1
            return SaveOutcome.STALE

    store = AlwaysStale()

    with pytest.raises(PaymentContention):
        PaymentsService(store).apply(payment.id, A, event_id="evt_a")
    assert store.saves == MAX_WRITE_ATTEMPTS


# ------------------------------------------------------------------------------------------ waiting tokens
def test_apply_reaching_awaited_state_resumes_token_with_succeed(service, repo, callbacks, payment):
    service.await_completion(payment.id, TOKEN)

    service.apply(payment.id, D, event_id="evt_d")

    assert callbacks.succeeded == [(TOKEN, {"state": "COMPLETED"})]
    assert callbacks.failed == []


def test_apply_skipping_past_awaited_state_resumes_token_with_succeed(service, callbacks, payment):
    service.authorize(payment.id, TOKEN)  # the provider answers "pending": the token waits for AUTHORIZED

    service.apply(payment.id, C, event_id="evt_c")

    assert callbacks.succeeded == [(TOKEN, {"state": "CAPTURED"})]


def test_apply_failed_resumes_waiting_token_with_fail(service, callbacks, payment):
    service.await_completion(payment.id, TOKEN)

    service.apply(payment.id, F, event_id="evt_f", reason="card_declined")

    assert callbacks.failed == [(TOKEN, "PaymentFailed", "card_declined")]
    assert callbacks.succeeded == []


def test_apply_failed_without_reason_fails_token_with_default_cause(service, callbacks, payment):
    service.await_completion(payment.id, TOKEN)

    service.apply(payment.id, F, event_id="evt_f")

    assert callbacks.failed == [(TOKEN, "PaymentFailed", "the provider failed the payment")]


def test_apply_resuming_token_clears_it_from_payment(service, repo, payment):
    service.await_completion(payment.id, TOKEN)

    service.apply(payment.id, D, event_id="evt_d")

    assert (repo.items[payment.id].task_token, repo.items[payment.id].waiting_for) == (None, None)


def test_apply_resumes_token_only_after_save(service, repo, log, payment):
    service.await_completion(payment.id, TOKEN)
    log.clear()

    service.apply(payment.id, D, event_id="evt_d")

    assert log == ["save:COMPLETED:token=None", f"succeed:{TOKEN}"]


def test_apply_short_of_awaited_state_keeps_token_waiting(service, repo, callbacks, payment):
    service.await_completion(payment.id, TOKEN)

    service.apply(payment.id, A, event_id="evt_a")

    assert (callbacks.succeeded, callbacks.failed) == ([], [])
    assert (repo.items[payment.id].task_token, repo.items[payment.id].waiting_for) == (TOKEN, D)


def test_apply_not_applied_never_resumes_token(service, repo, callbacks, payment):
    service.apply(payment.id, C, event_id="evt_c")
    service.await_completion(payment.id, TOKEN)

    service.apply(payment.id, A, event_id="evt_a")

    assert (callbacks.succeeded, callbacks.failed) == ([], [])


def test_apply_without_callbacks_still_moves_and_clears_token(repo, make_start):
    service = PaymentsService(repo)
    payment = service.create(make_start())
    service.await_completion(payment.id, TOKEN)

    result = service.apply(payment.id, D, event_id="evt_d")

    assert result.applied is True
    assert repo.items[payment.id].task_token is None


# ------------------------------------------------------------------------------------------ _wait_for
def test_wait_for_state_already_reached_resumes_at_once_without_parking(service, repo, callbacks, payment):
    service.apply(payment.id, C, event_id="evt_c")

    assert service._wait_for(payment.id, A, TOKEN) is False

    assert callbacks.succeeded == [(TOKEN, {"state": "CAPTURED"})]
    assert repo.items[payment.id].task_token is None


def test_wait_for_failed_payment_fails_at_once(service, callbacks, payment):
    service.apply(payment.id, F, event_id="evt_f", reason="card_declined")

    assert service._wait_for(payment.id, D, TOKEN) is False

    assert callbacks.failed == [(TOKEN, "PaymentFailed", "card_declined")]


def test_wait_for_state_not_reached_parks_token_and_returns_true(service, repo, callbacks, payment):
    assert service._wait_for(payment.id, A, TOKEN) is True

    stored = repo.items[payment.id]
    assert (stored.task_token, stored.waiting_for, stored.version) == (TOKEN, A, 1)
    assert (callbacks.succeeded, callbacks.failed) == ([], [])


def test_wait_for_stale_park_is_retried_and_sees_the_fresh_state(service, repo, callbacks, payment):
    """The webhook lands between the step's read and its parking write: the step resumes at once instead."""
    repo.before_save = lambda: service.apply(payment.id, A, event_id="evt_a")

    assert service._wait_for(payment.id, A, TOKEN) is False

    assert callbacks.succeeded == [(TOKEN, {"state": "AUTHORIZED"})]
    assert repo.items[payment.id].task_token is None


def test_authorize_payment_already_authorized_never_calls_provider(service, provider, callbacks, payment):
    service.apply(payment.id, A, event_id="evt_a")

    service.authorize(payment.id, TOKEN)

    assert provider.calls == []
    assert callbacks.succeeded == [(TOKEN, {"state": "AUTHORIZED"})]


def test_await_completion_never_calls_provider(service, provider, payment):
    service.await_completion(payment.id, TOKEN)

    assert provider.calls == []


# ------------------------------------------------------------------------------------------ provider calls
def test_authorize_stores_token_before_calling_provider(service, provider, log, payment):
    service.authorize(payment.id, TOKEN)

    assert log[:2] == [f"save:PENDING:token={TOKEN}", "provider:authorize"]
    operation, seen = provider.calls[0]
    assert (operation, seen.task_token, seen.waiting_for) == ("authorize", TOKEN, A)


def test_authorize_pending_answer_leaves_payment_pending_and_token_parked(service, repo, callbacks, payment):
    service.authorize(payment.id, TOKEN)

    stored = repo.items[payment.id]
    assert (stored.state, stored.task_token) == (P, TOKEN)
    assert (callbacks.succeeded, callbacks.failed) == ([], [])


def test_authorize_pending_answer_remembers_provider_ref(service, repo, payment):
    service.authorize(payment.id, TOKEN)

    assert repo.items[payment.id].provider_ref == "pi_test_0001"


def test_authorize_declined_answer_fails_payment_with_reason(service, repo, provider, payment):
    provider.answer("authorize", "failed", reason="card_declined", provider_ref="pi_declined")

    service.authorize(payment.id, TOKEN)

    stored = repo.items[payment.id]
    assert (stored.state, stored.failure_reason, stored.provider_ref) == (F, "card_declined", "pi_declined")
    assert _history(repo, payment)[-1]["event_id"] == f"provider:{payment.id}:authorize:failed"


def test_authorize_declined_answer_fails_token_and_clears_it(service, repo, provider, callbacks, payment):
    provider.answer("authorize", "failed", reason="card_declined")

    service.authorize(payment.id, TOKEN)

    assert callbacks.failed == [(TOKEN, "PaymentFailed", "card_declined")]
    assert callbacks.succeeded == []
    assert repo.items[payment.id].task_token is None


def test_authorize_synchronous_authorized_answer_resumes_token(service, provider, callbacks, payment):
    provider.answer("authorize", "authorized")

    service.authorize(payment.id, TOKEN)

    assert callbacks.succeeded == [(TOKEN, {"state": "AUTHORIZED"})]


def test_capture_parks_token_waiting_for_captured_then_calls_provider(service, repo, provider, log, payment):
    service.apply(payment.id, A, event_id="evt_a")
    log.clear()

    service.capture(payment.id, TOKEN)

    assert log[:2] == [f"save:AUTHORIZED:token={TOKEN}", "provider:capture"]
    assert repo.items[payment.id].waiting_for is C


def test_capture_failed_answer_fails_payment_and_token(service, repo, provider, callbacks, payment):
    service.apply(payment.id, A, event_id="evt_a")
    provider.answer("capture", "failed", reason="not_authorized")

    service.capture(payment.id, TOKEN)

    assert _state(repo, payment) is F
    assert callbacks.failed == [(TOKEN, "PaymentFailed", "not_authorized")]


# ------------------------------------------------------------------------------------------ reconcile, fail
@pytest.mark.parametrize(("status", "state"), [
    ("pending", P), ("authorized", A), ("captured", C), ("completed", D), ("failed", F)])
def test_reconcile_maps_provider_status_to_payment_state(service, repo, provider, payment, status, state):
    provider.answer("status", status, reason="card_declined" if status == "failed" else None)

    assert service.reconcile(payment.id) is state
    assert _state(repo, payment) is state


def test_reconcile_records_reconcile_event_id(service, repo, provider, payment):
    provider.answer("status", "completed")

    service.reconcile(payment.id)

    assert _history(repo, payment)[-1]["event_id"] == f"reconcile:{payment.id}:completed"


def test_reconcile_provider_behind_payment_changes_nothing(service, repo, provider, payment):
    service.apply(payment.id, C, event_id="evt_c")
    provider.answer("status", "authorized")

    assert service.reconcile(payment.id) is C
    assert len(repo.items[payment.id].history) == 1


def test_reconcile_reaching_awaited_state_resumes_token(service, provider, callbacks, payment):
    service.authorize(payment.id, TOKEN)
    provider.answer("status", "completed")

    service.reconcile(payment.id)

    assert callbacks.succeeded == [(TOKEN, {"state": "COMPLETED"})]


def test_fail_moves_payment_to_failed_with_reason(service, repo, payment):
    assert service.fail(payment.id, "the provider did not confirm the payment in time") is F

    stored = repo.items[payment.id]
    assert stored.failure_reason == "the provider did not confirm the payment in time"
    assert _history(repo, payment)[-1]["event_id"] == f"workflow:{payment.id}:failed"


def test_fail_completed_payment_keeps_it_completed(service, repo, payment):
    service.apply(payment.id, D, event_id="evt_d")

    assert service.fail(payment.id, "too late") is D
    assert repo.items[payment.id].failure_reason is None


# ------------------------------------------------------------------------------------------ view
def test_view_shows_amount_and_history_without_workflow_internals(service, payment):
    service.await_completion(payment.id, TOKEN)
    service.apply(payment.id, A, event_id="evt_a", provider_ref="pi_1")

    view = service.view(service.get(payment.id)).model_dump(mode="json")

    assert view["amount"] == "25.00"
    assert view["provider_ref"] == "pi_1"
    assert [set(h) for h in view["history"]] == [{"from", "to", "at", "event_id"}]
    assert "task_token" not in view and "version" not in view
