"""Issue 7 in the payments functions: the metrics (EMF on stdout) and log lines of reconciliation, the webhook
and the projector. The functions run over moto; the metrics are read from what Powertools prints."""

from __future__ import annotations

import copy
import itertools
import time
import uuid

import pytest

from tests.unit.layer.observability_support import observed  # noqa: F401 - a fixture

from payments_service.transitions import PaymentState

_sequence = itertools.count(111400000000012345678901)


@pytest.fixture
def ps(payments_stack):
    return payments_stack


@pytest.fixture
def tasks(ps):
    return ps.tasks


# ---------------------------------------------------------------------------------------- tasks.reconcile
@pytest.fixture
def reconciled(tasks, service, observed):
    """Run tasks.reconcile over the fakes' PaymentsService; returns (its result, the metric names it flushed)."""

    def run(payment_id: str) -> tuple[dict, list[str]]:
        result = tasks.reconcile(service, payment_id)
        tasks.metrics.flush_metrics()
        return result, sorted({m.name for m in observed.metrics()})

    return run


def test_reconcile_provider_moves_payment_counts_reconciled_only(reconciled, provider, payment):
    provider.answer("status", "authorized")

    result, names = reconciled(payment.id)

    assert result == {"state": "AUTHORIZED"}
    assert names == ["PaymentsReconciled"]


@pytest.mark.parametrize("status", ["completed", "failed"])
def test_reconcile_provider_finishes_payment_counts_reconciled_only(reconciled, provider, payment, status):
    provider.answer("status", status, reason="card_declined" if status == "failed" else None)

    _, names = reconciled(payment.id)

    assert names == ["PaymentsReconciled"]


def test_reconcile_pending_payment_provider_still_pending_counts_stuck_and_reconciled(reconciled, provider, payment):
    provider.answer("status", "pending")

    result, names = reconciled(payment.id)

    assert result == {"state": "PENDING"}
    assert names == ["PaymentsReconciled", "PaymentsStuck"]


def test_reconcile_authorized_payment_provider_still_authorized_counts_stuck(reconciled, service, provider, payment):
    service.apply(payment.id, PaymentState.AUTHORIZED, event_id="evt_a")
    provider.answer("status", "authorized")

    _, names = reconciled(payment.id)

    assert names == ["PaymentsReconciled", "PaymentsStuck"]


@pytest.mark.parametrize(("state", "status"), [(PaymentState.COMPLETED, "completed"), (PaymentState.FAILED, "failed"),
                                               (PaymentState.COMPLETED, "pending")])
def test_reconcile_payment_already_terminal_is_not_stuck(reconciled, service, provider, payment, state, status):
    service.apply(payment.id, state, event_id="evt_final")
    provider.answer("status", status)

    result, names = reconciled(payment.id)

    assert result == {"state": state.value}
    assert names == ["PaymentsReconciled"]


def test_reconcile_counts_each_metric_once(reconciled, provider, payment, observed):
    provider.answer("status", "pending")

    reconciled(payment.id)

    assert [(m.name, m.values) for m in observed.metrics()] == [("PaymentsReconciled", [1]), ("PaymentsStuck", [1])]


def test_reconcile_stuck_payment_logs_a_warning_with_its_state(reconciled, provider, payment, observed):
    provider.answer("status", "pending")

    reconciled(payment.id)

    (line,) = observed.logs("payment stuck: reconciliation could not move it")
    assert (line["level"], line["state"]) == ("WARNING", "PENDING")


# ---------------------------------------------------------------------------------------- the tasks function
@pytest.fixture
def wired_tasks(ps, tasks, provider, callbacks, monkeypatch):
    """The tasks function with the fakes' provider and callbacks (payments in moto)."""
    monkeypatch.setattr(tasks, "LambdaPaymentProvider", lambda function_name: provider)
    monkeypatch.setattr(tasks, "StepFunctionsCallbacks", lambda: callbacks)
    return ps


def test_task_reconcile_step_flushes_reconciled_and_stuck(wired_tasks, provider, observed):
    payment = wired_tasks.create_payment()
    provider.answer("status", "pending")
    observed.metrics()  # what the create step printed is read and left behind

    wired_tasks.task({"action": "reconcile", "payment_id": payment.id, "correlation_id": "checkout-42"})

    assert {"PaymentsReconciled", "PaymentsStuck"} <= set(observed.metric_names())


def test_task_fail_step_counts_payments_given_up(wired_tasks, observed):
    payment = wired_tasks.create_payment()

    wired_tasks.task({"action": "fail", "payment_id": payment.id, "correlation_id": "checkout-42"})

    assert "PaymentsGivenUp" in observed.metric_names()


def test_task_step_log_line_carries_event_correlation_id(wired_tasks, observed):
    payment = wired_tasks.create_payment()

    wired_tasks.task({"action": "await_completion", "payment_id": payment.id, "task_token": "tok-done",
                      "correlation_id": "checkout-42"})

    (line,) = [line for line in observed.logs("payment step") if line["action"] == "await_completion"]
    assert (line["correlation_id"], line["payment_id"]) == ("checkout-42", payment.id)


def test_task_create_step_stores_correlation_id_from_input(wired_tasks, make_start):
    start = make_start(correlation_id="checkout-42")

    wired_tasks.task({"action": "create", "correlation_id": "checkout-42", "trace_header": None,
                      "input": start.model_dump(mode="json")})

    assert wired_tasks.repository().get(start.payment_id).correlation_id == "checkout-42"


def test_dynamo_payment_keeps_correlation_id_and_trace_header_through_a_webhook(ps):
    trace_header = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
    payment = ps.create_payment(correlation_id="checkout-42", trace_header=trace_header)

    ps.webhook(ps.webhook_body(payment.id, "payment.authorized"))

    stored = ps.repository().get(payment.id)
    assert (stored.state, stored.correlation_id, stored.trace_header) == (
        PaymentState.AUTHORIZED, "checkout-42", trace_header)


# ---------------------------------------------------------------------------------------- the webhook
def _reasons(observed, name: str) -> list[str]:
    return [m.dimensions.get("reason") for m in observed.metrics(name)]


@pytest.fixture
def payment_in_moto(ps):
    return ps.create_payment(correlation_id="checkout-42")


def test_webhook_bad_signature_counts_rejected_signature(ps, payment_in_moto, observed):
    result = ps.webhook(ps.webhook_body(payment_in_moto.id), secret="not-the-webhook-secret")

    assert result.status == 401
    assert _reasons(observed, "WebhookEventsRejected") == ["signature"]


def test_webhook_old_timestamp_counts_rejected_signature(ps, payment_in_moto, observed):
    ps.webhook(ps.webhook_body(payment_in_moto.id), timestamp=int(time.time()) - 301)

    assert _reasons(observed, "WebhookEventsRejected") == ["signature"]


def test_webhook_malformed_body_counts_rejected_malformed(ps, observed):
    result = ps.webhook(raw_body='{"id": "evt_1", "type": ')

    assert result.status == 400
    assert _reasons(observed, "WebhookEventsRejected") == ["malformed"]


def test_webhook_unknown_type_counts_rejected_malformed(ps, payment_in_moto, observed):
    ps.webhook(ps.webhook_body(payment_in_moto.id, "payment.refunded"))

    assert _reasons(observed, "WebhookEventsRejected") == ["malformed"]


def test_webhook_unknown_payment_counts_rejected_unknown_payment(ps, observed):
    result = ps.webhook(ps.webhook_body("00000000-0000-4000-8000-000000000000"))

    assert result.status == 404
    assert _reasons(observed, "WebhookEventsRejected") == ["unknown_payment"]


def test_webhook_applied_counts_applied_and_nothing_ignored_or_rejected(ps, payment_in_moto, observed):
    result = ps.webhook(ps.webhook_body(payment_in_moto.id, "payment.authorized"))

    assert result.json["applied"] is True
    names = observed.metric_names()
    assert names.count("WebhookEventsApplied") == 1
    assert "WebhookEventsIgnored" not in names and "WebhookEventsRejected" not in names


def test_webhook_earlier_state_counts_ignored_stale(ps, payment_in_moto, observed):
    ps.webhook(ps.webhook_body(payment_in_moto.id, "payment.completed"))

    result = ps.webhook(ps.webhook_body(payment_in_moto.id, "payment.authorized"))

    assert result.json["applied"] is False
    assert _reasons(observed, "WebhookEventsIgnored") == ["stale"]


def test_webhook_same_event_again_counts_ignored_duplicate(ps, payment_in_moto, observed):
    body = ps.webhook_body(payment_in_moto.id, "payment.authorized")
    ps.webhook(body)

    ps.webhook(body)

    assert _reasons(observed, "WebhookEventsIgnored") == ["duplicate"]


def test_webhook_same_state_new_event_counts_ignored_duplicate(ps, payment_in_moto, observed):
    ps.webhook(ps.webhook_body(payment_in_moto.id, "payment.authorized"))

    ps.webhook(ps.webhook_body(payment_in_moto.id, "payment.authorized"))

    assert _reasons(observed, "WebhookEventsIgnored") == ["duplicate"]
    assert observed.metric_names().count("WebhookEventsApplied") == 1  # the first one's


def test_webhook_ignored_document_has_reason_and_service_dimensions(ps, payment_in_moto, observed):
    body = ps.webhook_body(payment_in_moto.id, "payment.authorized")
    ps.webhook(body)

    ps.webhook(body)

    (metric,) = observed.metrics("WebhookEventsIgnored")
    assert set(metric.dimensions) == {"reason", "service"}
    assert (metric.values, metric.unit) == ([1], "Count")


def test_webhook_log_line_carries_payment_correlation_id_not_the_provider_one(ps, payment_in_moto, observed):
    event = ps.webhook_event(ps.webhook_body(payment_in_moto.id, "payment.authorized"))
    event["headers"]["X-Correlation-Id"] = "provider-delivery-9"
    event["multiValueHeaders"]["X-Correlation-Id"] = ["provider-delivery-9"]

    result = ps.api(event)

    (line,) = observed.logs("webhook")
    assert (line["correlation_id"], line["applied"]) == ("checkout-42", True)
    assert line.get("ignored_because") is None  # Powertools leaves None-valued keys out
    assert result.header("X-Correlation-Id") == "provider-delivery-9"  # the HTTP exchange keeps its own


def test_webhook_log_line_of_ignored_event_names_why(ps, payment_in_moto, observed):
    ps.webhook(ps.webhook_body(payment_in_moto.id, "payment.completed"))

    ps.webhook(ps.webhook_body(payment_in_moto.id, "payment.authorized"))

    assert [line.get("ignored_because") for line in observed.logs("webhook")] == [None, "stale"]


# ---------------------------------------------------------------------------------------- the projector
def _image(ps, payment_id: str) -> dict:
    """The payment item as stored now, in DynamoDB JSON (what a stream image carries)."""
    return ps.stack.dynamodb.get_item(TableName=ps.table, Key={"pk": {"S": f"PAYMENT#{payment_id}"}},
                                      ConsistentRead=True)["Item"]


def _record(ps, new_image: dict, old_image: dict | None) -> dict:
    record = copy.deepcopy(ps.stack.event("payment_projector_stream")["Records"][0])
    record["eventID"] = uuid.uuid4().hex
    record["eventName"] = "MODIFY" if old_image else "INSERT"
    record["dynamodb"].update({"Keys": {"pk": new_image["pk"]}, "NewImage": new_image,
                               "SequenceNumber": str(next(_sequence))})
    record["dynamodb"].pop("OldImage", None)
    if old_image is not None:
        record["dynamodb"]["OldImage"] = old_image
    return record


def _project(ps, *records: dict) -> dict:
    """Projects the records onto their pledges, which exist (as every payment's pledge does)."""
    for record in records:
        pledge_key = {"pk": {"S": f"PLEDGE#{record['dynamodb']['NewImage']['pledge_id']['S']}"}}
        ps.stack.dynamodb.update_item(TableName=ps.projector.SETTINGS.pledges_table_name, Key=pledge_key,
                                      UpdateExpression="SET entity = :e",
                                      ExpressionAttributeValues={":e": {"S": "PLEDGE"}})
    return ps.projector.lambda_handler({"Records": list(records)}, ps.stack.context)


def _moved(ps, payment_id: str, event_type: str, **data) -> dict:
    result = ps.webhook(ps.webhook_body(payment_id, event_type, **data))
    assert result.status == 200, result.raw_body
    return _image(ps, payment_id)


@pytest.mark.parametrize(("event_type", "final_state"), [("payment.completed", "COMPLETED"),
                                                          ("payment.failed", "FAILED")])
def test_project_payment_entering_final_state_counts_finished_with_final_state(ps, payment_in_moto, observed,
                                                                               event_type, final_state):
    pending = _image(ps, payment_in_moto.id)
    final = _moved(ps, payment_in_moto.id, event_type)

    assert _project(ps, _record(ps, final, pending)) == {"batchItemFailures": []}

    (metric,) = observed.metrics("PaymentsFinished")
    assert metric.dimensions["final_state"] == final_state
    assert metric.values == [1]


def test_project_same_record_delivered_twice_counts_finished_once(ps, payment_in_moto, observed):
    pending = _image(ps, payment_in_moto.id)
    record = _record(ps, _moved(ps, payment_in_moto.id, "payment.completed"), pending)

    _project(ps, record)
    _project(ps, copy.deepcopy(record))

    assert [m.dimensions["final_state"] for m in observed.metrics("PaymentsFinished")] == ["COMPLETED"]


def test_project_completed_from_captured_counts_finished(ps, payment_in_moto, observed):
    captured = _moved(ps, payment_in_moto.id, "payment.captured")
    completed = _moved(ps, payment_in_moto.id, "payment.completed")

    _project(ps, _record(ps, completed, captured))

    assert [m.dimensions["final_state"] for m in observed.metrics("PaymentsFinished")] == ["COMPLETED"]


def test_project_same_final_state_in_old_and_new_image_counts_nothing(ps, payment_in_moto, observed):
    completed = _moved(ps, payment_in_moto.id, "payment.completed")

    _project(ps, _record(ps, completed, copy.deepcopy(completed)))

    assert observed.metrics("PaymentsFinished") == []


@pytest.mark.parametrize("event_type", ["payment.authorized", "payment.captured"])
def test_project_payment_entering_non_final_state_counts_nothing(ps, payment_in_moto, observed, event_type):
    pending = _image(ps, payment_in_moto.id)
    moved = _moved(ps, payment_in_moto.id, event_type)

    _project(ps, _record(ps, moved, pending))

    assert observed.metrics("PaymentsFinished") == []


def test_project_each_payment_finishing_in_a_batch_counts_once(ps, observed):
    first, second = ps.create_payment(str(uuid.uuid4())), ps.create_payment(str(uuid.uuid4()))
    records = []
    for payment, event_type in ((first, "payment.completed"), (second, "payment.failed")):
        pending = _image(ps, payment.id)
        records.append(_record(ps, _moved(ps, payment.id, event_type), pending))

    _project(ps, *records)

    assert sorted(m.dimensions["final_state"] for m in observed.metrics("PaymentsFinished")) == ["COMPLETED",
                                                                                                 "FAILED"]


def test_project_log_line_carries_payment_correlation_id(ps, payment_in_moto, observed):
    pending = _image(ps, payment_in_moto.id)
    completed = _moved(ps, payment_in_moto.id, "payment.completed")

    _project(ps, _record(ps, completed, pending))

    lines = observed.logs("payment projected onto pledge") + observed.logs("older payment image skipped")
    assert [line["correlation_id"] for line in lines] == ["checkout-42"]
    assert lines[0]["payment_id"] == payment_in_moto.id
