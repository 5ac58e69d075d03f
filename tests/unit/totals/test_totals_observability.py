"""Issue 7 in the totals functions: which changes a batch applied (and their correlation ids), the aggregator's
per-donation log lines and TotalsApplied, and the realtime function's completion time and notification failures."""

from __future__ import annotations

import uuid

import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError

from tests.unit.layer.observability_support import observed  # noqa: F401 - a fixture

from totals_service.dal import DynamoTotalsStore
from totals_service.logic import CampaignDelta, TotalsAggregator, delta_for
from totals_service.models import LedgerEntry, PaymentChange

from totals_support import CAMPAIGN_A, CAMPAIGN_B, payment_image, stream_record

SENDER = "noreply@careforall.local"


def change(payment_id: str, state: str, version: int, campaign_id: str = CAMPAIGN_A, amount_cents: int = 2500,
           correlation_id: str | None = None) -> PaymentChange:
    return PaymentChange(payment_id=payment_id, campaign_id=campaign_id, amount_cents=amount_cents, state=state,
                         version=version, correlation_id=correlation_id)


# ---------------------------------------------------------------------------------------- TotalsAggregator
def test_apply_batch_applied_holds_the_changes_written(store):
    batch = [change("p1", "CAPTURED", 3), change("p2", "CAPTURED", 3, CAMPAIGN_B)]

    result = TotalsAggregator(store).apply_batch(batch)

    assert result.writes == {CAMPAIGN_A: 1, CAMPAIGN_B: 1}
    assert sorted(result.applied, key=lambda c: c.payment_id) == batch


def test_apply_batch_applied_holds_only_newest_change_of_each_payment(store):
    newest = change("p1", "COMPLETED", 4)

    result = TotalsAggregator(store).apply_batch([change("p1", "AUTHORIZED", 2), newest, change("p1", "CAPTURED", 3)])

    assert result.applied == [newest]


def test_apply_batch_repeated_changes_are_not_in_applied(store):
    # GIVEN a batch already applied
    aggregator = TotalsAggregator(store)
    batch = [change("p1", "CAPTURED", 3), change("p2", "CAPTURED", 3)]
    aggregator.apply_batch(batch)

    # WHEN it is redelivered
    result = aggregator.apply_batch(batch)

    # THEN nothing was written, and nothing is reported applied
    assert (result.writes, result.applied) == ({CAMPAIGN_A: 0}, [])


def test_apply_batch_partly_repeated_reports_only_the_new_change(store):
    aggregator = TotalsAggregator(store)
    aggregator.apply_batch([change("p1", "CAPTURED", 3)])
    fresh = change("p2", "CAPTURED", 3)

    result = aggregator.apply_batch([change("p1", "CAPTURED", 3), fresh])

    assert result.applied == [fresh]


def test_apply_batch_older_record_after_newer_is_not_in_applied(store):
    aggregator = TotalsAggregator(store)
    aggregator.apply_batch([change("p1", "COMPLETED", 4)])

    result = aggregator.apply_batch([change("p1", "CAPTURED", 3)])

    assert result.applied == []


def test_apply_batch_change_that_counts_nothing_is_still_applied(store):
    pending = change("p1", "PENDING", 1)

    result = TotalsAggregator(store).apply_batch([pending])

    assert result.applied == [pending]
    assert store.total(CAMPAIGN_A) == (0, 0)


def test_apply_batch_contended_retry_reports_only_what_the_retry_wrote(store):
    # GIVEN another writer includes p1 between the aggregator's ledger read and its write
    aggregator = TotalsAggregator(store)
    mine = change("p2", "CAPTURED", 3, amount_cents=500)

    def other_writer_applies_p1():
        TotalsAggregator(store).apply_batch([change("p1", "CAPTURED", 3)])

    store.before_apply = other_writer_applies_p1

    # WHEN the batch is applied
    result = aggregator.apply_batch([change("p1", "CAPTURED", 3), mine])

    # THEN only p2 is this batch's: p1 is the other writer's
    assert result.applied == [mine]
    assert result.writes == {CAMPAIGN_A: 1}


def test_apply_batch_over_one_chunk_reports_every_change(store):
    batch = [change(f"p{i}", "CAPTURED", 3, amount_cents=100) for i in range(205)]

    result = TotalsAggregator(store).apply_batch(batch)

    assert len(result.applied) == 205
    assert {c.payment_id for c in result.applied} == {c.payment_id for c in batch}


def test_apply_batch_delta_carries_correlation_ids_of_included_changes(store):
    TotalsAggregator(store).apply_batch([change("p1", "CAPTURED", 3, correlation_id="c-1"),
                                         change("p2", "CAPTURED", 3, correlation_id="c-2")])

    (delta,) = store.applies
    assert sorted(delta.correlation_ids) == ["c-1", "c-2"]


# ---------------------------------------------------------------------------------------- delta_for
def _ledger_entry(payment_id: str, version: int, counted: bool) -> LedgerEntry:
    return LedgerEntry(payment_id=payment_id, campaign_id=CAMPAIGN_A, version=version, counted=counted,
                       amount_cents=2500)


def test_delta_for_collects_correlation_ids_of_included_changes():
    changes = [change("p1", "CAPTURED", 3, correlation_id="c-1"), change("p2", "FAILED", 2, correlation_id="c-2")]

    delta = delta_for(CAMPAIGN_A, changes, {})

    assert delta.correlation_ids == ["c-1", "c-2"]


def test_delta_for_leaves_out_correlation_ids_of_repeats():
    changes = [change("p1", "CAPTURED", 3, correlation_id="c-1"), change("p2", "CAPTURED", 3, correlation_id="c-2")]

    delta = delta_for(CAMPAIGN_A, changes, {"p1": _ledger_entry("p1", 3, True)})

    assert delta.correlation_ids == ["c-2"]


def test_delta_for_skips_changes_without_correlation_id():
    changes = [change("p1", "CAPTURED", 3), change("p2", "CAPTURED", 3, correlation_id="c-2")]

    delta = delta_for(CAMPAIGN_A, changes, {})

    assert (delta.correlation_ids, len(delta.entries)) == (["c-2"], 2)


def test_delta_for_nothing_new_has_no_correlation_ids():
    delta = delta_for(CAMPAIGN_A, [change("p1", "CAPTURED", 3, correlation_id="c-1")],
                      {"p1": _ledger_entry("p1", 4, True)})

    assert (delta.entries, delta.correlation_ids) == ([], [])


# ---------------------------------------------------------------------------------------- DynamoTotalsStore
@pytest.fixture
def dal(totals_stack) -> DynamoTotalsStore:
    return DynamoTotalsStore(totals_stack.table("TotalsTable"), totals_stack.table("TotalsLedgerTable"),
                             client=totals_stack.dynamodb)


def _entry(payment_id: str, campaign_id: str) -> LedgerEntry:
    return LedgerEntry(payment_id=payment_id, campaign_id=campaign_id, version=3, counted=True, amount_cents=500)


def test_dynamo_apply_writes_correlation_ids_onto_totals_item(totals_stack, dal):
    campaign_id = totals_stack.put_campaign()
    entries = [(_entry("p1", campaign_id), None), (_entry("p2", campaign_id), None)]

    dal.apply(CampaignDelta(campaign_id, 1000, 2, entries, ["c-1", "c-2"]))

    assert totals_stack.totals_item(campaign_id)["correlation_ids"] == ["c-1", "c-2"]


def test_dynamo_apply_correlation_ids_name_the_latest_write(totals_stack, dal):
    campaign_id = totals_stack.put_campaign()
    dal.apply(CampaignDelta(campaign_id, 500, 1, [(_entry("p1", campaign_id), None)], ["c-1"]))

    dal.apply(CampaignDelta(campaign_id, 500, 1, [(_entry("p2", campaign_id), None)], ["c-2"]))

    item = totals_stack.totals_item(campaign_id)
    assert (item["correlation_ids"], item["total_cents"]) == (["c-2"], 1000)


# ---------------------------------------------------------------------------------------- the aggregator function
def _traced_image(payment_id: str, state: str, version: int, campaign_id: str, correlation_id: str) -> dict:
    return {**payment_image(payment_id, state, version, campaign_id), "correlation_id": correlation_id}


def test_aggregate_logs_one_line_per_applied_change_with_its_correlation_id(totals_stack, observed):
    campaign_id = totals_stack.put_campaign()
    first, second = str(uuid.uuid4()), str(uuid.uuid4())
    records = totals_stack.payment_records(_traced_image(first, "PENDING", 1, campaign_id, "c-1"),
                                           _traced_image(first, "CAPTURED", 3, campaign_id, "c-1"),
                                           _traced_image(second, "COMPLETED", 4, campaign_id, "c-2"))

    totals_stack.aggregate(*records)

    lines = observed.logs("payment applied to totals")
    assert sorted((line["payment_id"], line["correlation_id"]) for line in lines) == sorted(
        [(first, "c-1"), (second, "c-2")])
    assert all(line["counted"] is True and line["campaign_id"] == campaign_id for line in lines)


def test_aggregate_repeated_batch_logs_no_applied_lines(totals_stack, observed):
    campaign_id = totals_stack.put_campaign()
    records = totals_stack.payment_records(_traced_image(str(uuid.uuid4()), "CAPTURED", 3, campaign_id, "c-1"))
    totals_stack.aggregate(*records)
    assert len(observed.logs("payment applied to totals")) == 1

    totals_stack.aggregate(*records)

    assert len(observed.logs("payment applied to totals")) == 1  # the first delivery's only


def test_aggregate_counts_totals_applied_per_applied_change(totals_stack, observed):
    campaign_id = totals_stack.put_campaign()
    records = totals_stack.payment_records(*(_traced_image(str(uuid.uuid4()), "CAPTURED", 3, campaign_id, f"c-{i}")
                                             for i in range(3)))

    totals_stack.aggregate(*records)

    (metric,) = observed.metrics("TotalsApplied")
    assert (metric.values, metric.unit) == ([3], "Count")


def test_aggregate_repeated_batch_counts_zero_totals_applied(totals_stack, observed):
    campaign_id = totals_stack.put_campaign()
    records = totals_stack.payment_records(_traced_image(str(uuid.uuid4()), "CAPTURED", 3, campaign_id, "c-1"))
    totals_stack.aggregate(*records)

    totals_stack.aggregate(*records)

    assert [m.values for m in observed.metrics("TotalsApplied")] == [[1], [0]]


def test_aggregate_writes_applied_correlation_ids_onto_totals_item(totals_stack):
    campaign_id = totals_stack.put_campaign()
    records = totals_stack.payment_records(_traced_image(str(uuid.uuid4()), "CAPTURED", 3, campaign_id, "c-1"),
                                           _traced_image(str(uuid.uuid4()), "COMPLETED", 4, campaign_id, "c-2"))

    totals_stack.aggregate(*records)

    assert sorted(totals_stack.totals_item(campaign_id)["correlation_ids"]) == ["c-1", "c-2"]


# ---------------------------------------------------------------------------------------- realtime
class NoSockets:
    def post_to_connection(self, **_):
        raise AssertionError("no connection is open in these tests")


@pytest.fixture
def realtime(totals_stack, monkeypatch):
    monkeypatch.setattr(totals_stack.realtime, "sockets", lambda: NoSockets())
    return totals_stack.realtime


@pytest.fixture
def pledge_change(totals_stack, realtime):
    """Store a pledge image (and its previous one) and return its pledges-stream record."""
    arn = totals_stack.stream_arn("PledgesTable")
    campaign_id = totals_stack.put_campaign(goal_cents=10_000)

    def make(old_status: str, new_status: str, correlation_id: str | None = "checkout-42",
             created_at: str = "2025-03-01T12:00:00Z", updated_at: str = "2025-03-01T12:00:02.500Z") -> dict:
        from careforall import dynamo

        pledge_id = str(uuid.uuid4())

        def image(status: str, payment_state: str, at: str) -> dict:
            values = {"pk": f"PLEDGE#{pledge_id}", "entity": "PLEDGE", "id": pledge_id, "campaign_id": campaign_id,
                      "donor_email": "grace@example.com", "amount_cents": 2500, "currency": "USD",
                      "payment_method": "pm_card_visa", "status": status, "created_at": created_at, "updated_at": at,
                      "payment": {"id": f"pay-{pledge_id}", "state": payment_state, "updated_at": at},
                      "correlation_id": correlation_id}
            return {k: v for k, v in values.items() if v is not None}

        new = image(new_status, {"PENDING": "CAPTURED"}.get(new_status, new_status), updated_at)
        totals_stack.dynamodb.put_item(TableName=totals_stack.table("PledgesTable"), Item=dynamo.to_item(new))
        return stream_record(arn, new, image(old_status, "CAPTURED", created_at))

    return make


def test_pledge_completing_logs_finished_line_with_its_correlation_id(totals_stack, pledge_change, observed):
    record = pledge_change("PENDING", "COMPLETED")

    assert totals_stack.realtime_batch(record) == {"batchItemFailures": []}

    (line,) = observed.logs("pledge finished")
    assert (line["correlation_id"], line["status"]) == ("checkout-42", "COMPLETED")


def test_pledge_completing_counts_seconds_from_created_to_updated(totals_stack, pledge_change, observed):
    record = pledge_change("PENDING", "COMPLETED", created_at="2025-03-01T12:00:00Z",
                           updated_at="2025-03-01T12:00:02.500Z")

    totals_stack.realtime_batch(record)

    (metric,) = observed.metrics("PledgeToCompletionSeconds")
    assert (metric.values, metric.unit) == ([2.5], "Seconds")


def test_pledge_failing_counts_no_completion_seconds(totals_stack, pledge_change, observed):
    totals_stack.realtime_batch(pledge_change("PENDING", "FAILED"))

    assert observed.metrics("PledgeToCompletionSeconds") == []
    assert [line["status"] for line in observed.logs("pledge finished")] == ["FAILED"]


def test_pledge_already_completed_counts_no_completion_seconds(totals_stack, pledge_change, observed):
    record = pledge_change("COMPLETED", "COMPLETED")
    record["dynamodb"]["NewImage"]["payment"]["M"]["provider_ref"] = {"S": "pi_changed"}  # something else changed

    totals_stack.realtime_batch(record)

    assert observed.metrics("PledgeToCompletionSeconds") == []
    assert observed.logs("pledge finished") == []


def test_pledge_completing_receipt_log_line_carries_correlation_id(totals_stack, pledge_change, observed):
    totals_stack.realtime_batch(pledge_change("PENDING", "COMPLETED"))

    (line,) = observed.logs("receipt sent")
    assert line["correlation_id"] == "checkout-42"


def test_receipt_send_failing_counts_email_notification_failure_and_reraises(totals_stack, realtime, pledge_change,
                                                                            observed, monkeypatch):
    # GIVEN SES refuses the sender (not a verified identity)
    monkeypatch.setattr(realtime, "SETTINGS", realtime.SETTINGS.model_copy(
        update={"sender_email": "unverified@elsewhere.example"}))
    realtime.mailer.cache_clear()
    record = pledge_change("PENDING", "COMPLETED")

    # WHEN the completion is processed: the record fails (the only one: the whole batch)
    with pytest.raises(BatchProcessingError):
        totals_stack.realtime_batch(record)

    # THEN the failure is counted on the email channel
    realtime.mailer.cache_clear()
    (metric,) = observed.metrics("NotificationFailures")
    assert (metric.dimensions["channel"], metric.values) == ("email", [1])


def test_send_once_failing_mail_counts_failure_and_raises_the_error(totals_stack, realtime, observed, monkeypatch):
    class Refused(Exception):
        pass

    class RefusingMailer:
        def send(self, to, subject, text):
            raise Refused("SES said no")

    monkeypatch.setattr(realtime, "mailer", lambda: RefusingMailer())
    campaign_id = totals_stack.put_campaign()

    with pytest.raises(Refused):
        realtime.send_once(realtime.SETTINGS.totals_table_name, {"campaign_id": campaign_id}, "goal_notified_at",
                           "owner@example.com", "subject", "text")

    assert [m.dimensions["channel"] for m in observed.metrics("NotificationFailures")] == ["email"]
    assert "goal_notified_at" not in totals_stack.totals_item(campaign_id)


def test_push_failing_counts_websocket_notification_failure(totals_stack, realtime, observed, monkeypatch):
    from botocore.exceptions import ClientError

    class Throttled:
        def post_to_connection(self, **_):
            raise ClientError({"Error": {"Code": "LimitExceededException", "Message": "slow down"}},
                              "PostToConnection")

    monkeypatch.setattr(realtime, "sockets", lambda: Throttled())

    with pytest.raises(ClientError):
        realtime.push(["conn-1"], {"type": "totals.updated"})

    assert [m.dimensions["channel"] for m in observed.metrics("NotificationFailures")] == ["websocket"]
