"""DynamoPaymentRepository over moto: the conditional writes behind exactly-once, forward-only payments."""

from __future__ import annotations

import pytest

from payments_service.logic import SaveOutcome
from payments_service.transitions import PaymentState


@pytest.fixture
def repo(payments_stack):
    return payments_stack.repository()


@pytest.fixture
def stored(payments_stack, repo):
    return payments_stack.create_payment()


def _moved(payment, state=PaymentState.AUTHORIZED, **changes):
    return payment.model_copy(update={"state": state, "version": payment.version + 1, **changes})


def test_create_stores_payment_item_with_entity_and_key(payments_stack, stored):
    item = payments_stack.stack.get_item("PaymentsTable", {"pk": f"PAYMENT#{stored.id}"})

    assert (item["entity"], item["id"], item["state"], item["version"]) == ("PAYMENT", stored.id, "PENDING", 0)


def test_create_existing_payment_returns_stored_one(repo, stored):
    repo.save(_moved(stored), expected_version=0, event_id="evt_a")

    again = repo.create(stored)

    assert again.state is PaymentState.AUTHORIZED


def test_get_unknown_payment_is_none(repo):
    assert repo.get("no-such-payment") is None


def test_save_with_new_event_id_writes_payment_and_event_item(payments_stack, repo, stored):
    assert repo.save(_moved(stored), expected_version=0, event_id="evt_a") is SaveOutcome.SAVED

    event = payments_stack.stack.get_item("PaymentsTable", {"pk": "EVENT#evt_a"})
    assert (event["entity"], event["payment_id"], event["state"]) == ("EVENT", stored.id, "AUTHORIZED")
    assert repo.get(stored.id).state is PaymentState.AUTHORIZED


def test_save_with_applied_event_id_is_duplicate_and_writes_nothing(repo, stored):
    repo.save(_moved(stored), expected_version=0, event_id="evt_a")
    current = repo.get(stored.id)

    outcome = repo.save(_moved(current, PaymentState.CAPTURED), expected_version=1, event_id="evt_a")

    assert outcome is SaveOutcome.DUPLICATE_EVENT
    assert repo.get(stored.id) == current


def test_save_with_stale_version_and_new_event_is_stale_and_event_not_recorded(payments_stack, repo, stored):
    repo.save(_moved(stored), expected_version=0, event_id="evt_a")

    outcome = repo.save(_moved(stored, PaymentState.CAPTURED), expected_version=0, event_id="evt_c")

    assert outcome is SaveOutcome.STALE
    assert payments_stack.stack.get_item("PaymentsTable", {"pk": "EVENT#evt_c"}) is None
    assert repo.get(stored.id).state is PaymentState.AUTHORIZED


def test_save_without_event_id_and_stale_version_is_stale(repo, stored):
    repo.save(_moved(stored, PaymentState.PENDING, task_token="t1"), expected_version=0, event_id=None)

    outcome = repo.save(_moved(stored, PaymentState.PENDING, task_token="t2"), expected_version=0, event_id=None)

    assert outcome is SaveOutcome.STALE
    assert repo.get(stored.id).task_token == "t1"


def test_save_round_trips_history_and_clears_absent_fields(repo, stored):
    from payments_service.models import Transition

    parked = _moved(stored, PaymentState.PENDING, task_token="t1", waiting_for=PaymentState.AUTHORIZED)
    repo.save(parked, expected_version=0, event_id=None)
    moved = _moved(parked, task_token=None, waiting_for=None, history=[
        Transition(from_=PaymentState.PENDING, to=PaymentState.AUTHORIZED, at="2025-04-09T12:00:00.000Z",
                   event_id="evt_a")])

    repo.save(moved, expected_version=1, event_id="evt_a")

    assert repo.get(stored.id) == moved
